"""Schemas of the login, sign-out and account forms, the API-token body and the Statistics query."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from app.schemas.inputs import Form, Strict
from app.schemas.types import MAX_ID, blank_or, choice, text, whole


class NextQuery(Strict):
    """Where to go after logging in (a same-site path; anything else goes to /)."""

    model_config = ConfigDict(extra="ignore")
    next: text(2000) | None = None


class LoginForm(Form):
    """POST /login."""

    username: text(200) | None = None
    password: text(1000) | None = None
    next: text(2000) | None = None


class AccountForm(Form):
    """POST /account: change the password, or create or revoke an API token (`action` says which)."""

    action: choice(("password", "create_token", "revoke_token")) | None = None
    current: text(1000) | None = None
    new: text(1000) | None = None
    name: text(200) | None = None
    token_id: blank_or(whole(1, MAX_ID)) = None


class TokenBody(Strict):
    """POST /api/tokens as JSON: a name to recognise the token by."""

    name: text(200) | None = None


class TokenForm(Form):
    """POST /api/tokens as a form."""

    name: text(200) | None = None


class StatsQuery(Strict):
    """GET /api/stats and /stats/: a named period, or a from/to range of days (YYYY-MM-DD)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    period: text(20) | None = None
    from_: text(10) | None = Field(default=None, alias="from")
    to: text(10) | None = None
