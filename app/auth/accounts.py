"""Account services: the first admin, password checks, API tokens."""

from __future__ import annotations

import logging
import secrets
import sys
from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select

from app.auth import sessions
from app.extensions import db
from app.models.job import utcnow
from app.models.user import ApiToken, User, hash_token
from app.services.errors import ServiceError

log = logging.getLogger("frameshift.auth")
MIN_PASSWORD = 8


def ensure_admin(flask_app: Flask) -> str | None:
    """Create the first account when there is none; return a generated password (already printed once)."""
    if db.session.scalar(select(func.count()).select_from(User)):
        return None
    name = flask_app.config["FRAME_SHIFT_ADMIN_USER"]
    password = flask_app.config.get("FRAME_SHIFT_ADMIN_PASSWORD") or ""
    generated = not password
    if generated:
        password = secrets.token_urlsafe(12)
    user = User(username=name)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    if not generated:
        log.info("created account %r with the password from FRAME_SHIFT_ADMIN_PASSWORD", name)
        return None
    # Printed once, to the terminal or container log only; the database holds just the hash.
    print(
        f"frameshift: first start: created account {name!r} with password {password}  "
        "(shown only this once; change it on the Account page)",
        file=sys.stderr,
        flush=True,
    )
    return password


def authenticate(username: str, password: str) -> User | None:
    """Return the user when the name and password match."""
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.check_password(password):
        return None
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def user_for_token(token: str) -> User | None:
    """Return the owner of a valid API token (and note when it was used)."""
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now
        db.session.commit()
    return row.user


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Issue a new API token for user; return the row and the clear token."""
    name = (name or "").strip()
    if not name or len(name) > 150:
        raise ServiceError("name: give the token a name of 1 to 150 characters (e.g. 'backup script')", field="name")
    row, clear = ApiToken.issue(user, name)
    db.session.add(row)
    db.session.commit()
    return row, clear


def revoke_token(user: User, token_id: int) -> None:
    """Delete one of user's tokens."""
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise ServiceError(f"token {token_id} does not exist", status=404)
    db.session.delete(row)
    db.session.commit()


def change_password(user: User, current: str, new: str) -> None:
    """Change user's password after checking the current one."""
    if not user.check_password(current):
        raise ServiceError("current password: that is not your current password", field="current")
    set_password(user, new)


def set_password(user: User, new: str) -> None:
    """Store a new password (at least MIN_PASSWORD characters) and end every session of the account."""
    if len(new) < MIN_PASSWORD:
        raise ServiceError(f"new password: use at least {MIN_PASSWORD} characters", field="new")
    user.set_password(new)
    if user.id is not None:
        sessions.end_all(user)
    db.session.commit()


def log_out(user: User) -> None:
    """End every session of user (a copied cookie stops working too)."""
    sessions.end_all(user)
    db.session.commit()
