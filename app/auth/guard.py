"""The login guard: every request needs a session or an API token, unless auth is off."""

from __future__ import annotations

import ipaddress

from flask import current_app, flash, g, jsonify, redirect, request, url_for

from app.auth import sessions, throttle
from app.auth.csrf import SAFE_METHODS, csrf_ok

PUBLIC_ENDPOINTS = frozenset({"auth.login", "ops.healthz", "static"})


def template_user() -> dict:
    """Expose the logged-in user (or None) and whether login is on to every template."""
    return {"current_user": g.get("user"), "auth_enabled": not current_app.config.get("AUTH_DISABLED")}


def _json_wanted() -> bool:
    return (
        request.path.startswith("/api/")
        or request.path == "/metrics"
        or request.accept_mimetypes.best == "application/json"
    )


def deny(message: str, status: int = 401):
    """Answer an unauthenticated or forged request."""
    if not _json_wanted():
        if status == 401:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        from app.views.errors import error_response

        return error_response(message, status)
    response = jsonify({"error": message, "field": None})  # every JSON 4xx has both keys (docs/api.md)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="frameshift"'
    return response


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def require_login():
    """before_request: find who is asking; refuse anonymous and CSRF-less cookie requests."""
    from app.auth.accounts import authenticate, user_for_token

    g.user, g.via_token = None, False
    if current_app.config.get("AUTH_DISABLED"):
        # Defence in depth: even if the server was bound wider than HOST says, only this machine gets in.
        if not _loopback(request.remote_addr):
            return deny("login is turned off (AUTH_DISABLED=1), so only this machine may connect", 403)
        return None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    token = _bearer()
    if token is not None:
        user = user_for_token(token)
        if user is None:
            return deny(
                "the API token is not valid (revoked or mistyped): create one on the Account page "
                "or with `flask --app app token create NAME`"
            )
        g.user, g.via_token = user, True
        return None
    basic = request.authorization
    if request.endpoint == "auth.create_token" and basic is not None and basic.type == "basic":
        if throttle.blocked():
            return deny(throttle.MESSAGE, 429)
        user = authenticate(basic.username or "", basic.password or "")
        if user is None:
            throttle.record_failure()
            return deny("wrong user name or password")
        throttle.clear()
        g.user, g.via_token = user, True
        return None
    user, ended = sessions.current()
    if user is None:
        if request.endpoint == "ops.metrics" and current_app.config.get("METRICS_PUBLIC"):
            return None
        if ended and not _json_wanted():
            flash(f"Please log in again: {ended}.", "info")
        return deny(
            (f"{ended}: log in again" if ended else "login required")
            + " on /login, or send an API token as 'Authorization: Bearer TOKEN'"
        )
    g.user = user
    if request.method not in SAFE_METHODS and not csrf_ok():
        return deny(
            "the CSRF token is missing or wrong: reload the page and try again "
            "(scripts should use an API token instead of the session cookie)",
            403,
        )
    return None
