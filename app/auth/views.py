"""Login, logout, the account page and the API-token endpoints."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for

from app.auth import accounts, sessions, throttle
from app.auth.csrf import csrf_ok
from app.services.errors import ServiceError

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a login to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        # Logging in must not land on the "Sign out?" page the login was asked for from.
        return "/" if target.split("?")[0] == "/logout" else target
    return "/"


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; on a good name and password start a session."""
    if current_app.config.get("AUTH_DISABLED"):
        return redirect(_safe_next(request.args.get("next")))
    error = None
    if request.method == "POST":
        if not csrf_ok():
            error = "The form expired. Please try again."
        elif throttle.blocked():
            error = throttle.MESSAGE[0].upper() + throttle.MESSAGE[1:] + "."
        else:
            user = accounts.authenticate(request.form.get("username", ""), request.form.get("password", ""))
            if user is None:
                throttle.record_failure()
                error = "Wrong user name or password."
            else:
                throttle.clear()
                sessions.start(user)
                return redirect(_safe_next(request.form.get("next")))
    status = (429 if throttle.blocked() else 400) if error else 200
    return render_template("auth/login.html", error=error, next=request.values.get("next", "")), status


@bp.get("/logout")
def confirm_logout():
    """A page with the Log out button: a link or an image elsewhere must not be able to log anyone out."""
    if g.user is None:
        return redirect(url_for("auth.login"))
    return render_template("auth/logout.html")


@bp.post("/logout")
def logout():
    """End every session of this account (the guard has checked the CSRF token)."""
    if g.user is not None and not g.get("via_token"):
        accounts.log_out(g.user)
    session.clear()
    if current_app.config.get("AUTH_DISABLED"):
        return redirect("/")
    flash("You are signed out.", "ok")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
def account():
    """Change the password and manage API tokens."""
    user = g.user
    if user is None:
        return redirect("/")
    message, new_token, error = None, None, None
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "password":
                accounts.change_password(user, request.form.get("current", ""), request.form.get("new", ""))
                sessions.keep_this_one(user)
                message = "Password changed. Every other browser signed in to this account is now signed out."
            elif action == "create_token":
                _row, new_token = accounts.create_token(user, request.form.get("name", ""))
            elif action == "revoke_token":
                accounts.revoke_token(user, int(request.form.get("token_id") or 0))
                message = "Token revoked."
        except ServiceError as exc:
            error = exc.message
    return render_template(
        "auth/account.html", user=user, tokens=user.tokens, message=message, error=error, new_token=new_token
    )


@bp.get("/api/tokens")
def list_tokens():
    """List the caller's API tokens (names and hints only)."""
    return jsonify({"tokens": [t.to_dict() for t in g.user.tokens]}) if g.user else jsonify({"tokens": []})


@bp.post("/api/tokens")
def create_token():
    """Create an API token: {"name": "..."}; the token is in the answer and nowhere else."""
    if g.user is None:
        raise ServiceError("login is turned off (AUTH_DISABLED=1), so API tokens are not needed", status=409)
    data = request.get_json(silent=True) or {}
    row, clear = accounts.create_token(g.user, str(data.get("name") or request.form.get("name") or ""))
    return jsonify({**row.to_dict(), "token": clear}), 201


@bp.delete("/api/tokens/<int:token_id>")
def delete_token(token_id: int):
    """Revoke one of the caller's API tokens."""
    if g.user is None:
        raise ServiceError(f"token {token_id} does not exist", status=404)
    accounts.revoke_token(g.user, token_id)
    return jsonify({"deleted": token_id})
