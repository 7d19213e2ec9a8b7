"""Browser sessions: who a cookie belongs to, and when it stops counting.

The cookie is signed, so it cannot be forged, but a copy of it would work until it expires. Two
checks on every request end that: the cookie carries the account's session version (bumped at
logout and at a password change, so every earlier cookie of that account stops working), and the
time of its last request (a session idle longer than SESSION_IDLE_DAYS is over).
"""

from __future__ import annotations

import time

from flask import current_app, session
from sqlalchemy import update

from app.auth.csrf import rotate_csrf_token
from app.extensions import db
from app.models.user import User

USER, VERSION, SEEN = "user_id", "sv", "seen"
# The last-seen time is rewritten at most this often, not on every request (each rewrite is a new cookie).
SEEN_STEP = 60


def start(user: User) -> None:
    """Begin a fresh session for user (after a good password)."""
    session.clear()
    session[USER] = user.id
    session[VERSION] = user.session_version
    session[SEEN] = int(time.time())
    session.permanent = True
    rotate_csrf_token()


def current() -> tuple[User | None, str | None]:
    """Return the session's user, or None with why an existing session no longer counts."""
    user_id = session.get(USER)
    if user_id is None:
        return None, None
    user = db.session.get(User, user_id)
    now = int(time.time())
    seen = session.get(SEEN)
    idle = current_app.config.get("SESSION_IDLE_SECONDS", 7 * 86400)
    reason = None
    if user is None:
        reason = "your account no longer exists"
    elif session.get(VERSION) != user.session_version:
        reason = "your session was ended (logged out, or the password was changed)"
    elif not isinstance(seen, int) or now - seen > idle:
        reason = "your session expired after a while without use"
    if reason:
        session.clear()
        return None, reason
    if now - seen >= min(SEEN_STEP, max(1, idle // 4)):
        session[SEEN] = now
    return user, None


def end_all(user: User) -> None:
    """End every session of user, on every browser (the caller commits)."""
    db.session.execute(update(User).where(User.id == user.id).values(session_version=User.session_version + 1))
    db.session.expire(user, ["session_version"])


def keep_this_one(user: User) -> None:
    """After end_all and its commit: let the current browser stay signed in under the new version."""
    if session.get(USER) == user.id:
        session[VERSION] = user.session_version
        session[SEEN] = int(time.time())
        rotate_csrf_token()
