"""CSRF protection for requests authenticated by the session cookie.

Each session holds one random token. Forms send it as the hidden field `csrf_token`, scripts as
the `X-CSRF-Token` header. Requests authenticated by an API token carry no cookie, so a forged
cross-site request cannot use them and they need no CSRF token.
"""

from __future__ import annotations

import hmac
import secrets

from flask import request, session

SESSION_KEY = "csrf_token"
HEADER = "X-CSRF-Token"
FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def csrf_token() -> str:
    """Return this session's CSRF token, creating it when missing (a Jinja global too)."""
    token = session.get(SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def rotate_csrf_token() -> str:
    """Give the session a fresh token (after login)."""
    session.pop(SESSION_KEY, None)
    return csrf_token()


def csrf_ok() -> bool:
    """Return True when the request carries this session's token in the header or the form."""
    expected = session.get(SESSION_KEY)
    given = request.headers.get(HEADER) or request.form.get(FIELD) or ""
    return bool(expected) and hmac.compare_digest(str(given), str(expected))
