"""Accounts and API tokens for the leader's UI and API."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models.job import _iso, utcnow

TOKEN_PREFIX = "fs_"


def hash_token(token: str) -> str:
    """Return the stored form of an API token (tokens are long random values, so SHA-256 suffices)."""
    return hashlib.sha256(token.encode()).hexdigest()


class User(db.Model):
    """A person who may log in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Every session cookie carries the version it was issued under; logout and a password change
    # bump it, so a copied cookie stops working everywhere at once.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="ApiToken.id"
    )

    @property
    def is_authenticated(self) -> bool:
        """Always True for a stored user (templates test `current_user.is_authenticated`)."""
        return True

    def set_password(self, password: str) -> None:
        """Store a salted hash of password, never the password."""
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """Return True when password matches the stored hash."""
        return check_password_hash(self.password_hash, password)


class ApiToken(db.Model):
    """A named bearer token for scripts and curl; only its hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(150))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship(back_populates="tokens")

    @classmethod
    def issue(cls, user: User, name: str) -> tuple[ApiToken, str]:
        """Create a token row for user; return it with the clear token (shown once)."""
        clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = cls(user=user, name=name, token_hash=hash_token(clear), hint=clear[:7])
        return row, clear

    def to_dict(self) -> dict:
        """Return the token's description (never the token)."""
        return {
            "id": self.id,
            "name": self.name,
            "hint": self.hint + "…",
            "created_at": _iso(self.created_at),
            "last_used_at": _iso(self.last_used_at),
        }
