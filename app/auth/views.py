"""Login, logout, the account page and the API-token endpoints."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for

from app.auth import accounts, sessions, throttle
from app.auth.csrf import csrf_ok
from app.schemas.auth import AccountForm, LoginForm, NextQuery, TokenBody, TokenForm
from app.schemas.inputs import accepts
from app.services.errors import ServiceError

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a login to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        # Logging in must not land on the "Sign out?" page the login was asked for from.
        return "/" if target.split("?")[0] == "/logout" else target
    return "/"


def _login_refused(exc: ServiceError):
    """A login form that does not fit its schema: the page again, with the reason."""
    return render_template("auth/login.html", error=exc.message, next=""), exc.status


@bp.route("/login", methods=["GET", "POST"])
@accepts(query=NextQuery, form=LoginForm, on_error=_login_refused)
def login(query: NextQuery, form: LoginForm | None = None):
    """Show the login form; on a good name and password start a session."""
    if current_app.config.get("AUTH_DISABLED"):
        return redirect(_safe_next(query.next))
    error = None
    if request.method == "POST" and form is not None:
        if not csrf_ok():
            error = "The form expired. Please try again."
        elif throttle.blocked():
            error = throttle.MESSAGE[0].upper() + throttle.MESSAGE[1:] + "."
        else:
            user = accounts.authenticate(form.username or "", form.password or "")
            if user is None:
                throttle.record_failure()
                error = "Wrong user name or password."
            else:
                throttle.clear()
                sessions.start(user)
                return redirect(_safe_next(form.next))
    status = (429 if throttle.blocked() else 400) if error else 200
    following = (form.next if form is not None else None) or query.next or ""
    return render_template("auth/login.html", error=error, next=following), status


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


def _account_refused(exc: ServiceError):
    """An account form that does not fit its schema: the page again, with the reason."""
    user = g.user
    if user is None:
        raise exc  # no account to show (login is off): the plain 4xx naming the field
    page = render_template("auth/account.html", user=user, tokens=user.tokens, message=None, error=exc.message)
    return page, exc.status


@bp.route("/account", methods=["GET", "POST"])
@accepts(form=AccountForm, on_error=_account_refused)
def account(form: AccountForm | None = None):
    """Change the password and manage API tokens."""
    user = g.user
    if user is None:
        return redirect("/")
    message, new_token, error = None, None, None
    if request.method == "POST" and form is not None:
        try:
            if form.action == "password":
                accounts.change_password(user, form.current or "", form.new or "")
                sessions.keep_this_one(user)
                message = "Password changed. Every other browser signed in to this account is now signed out."
            elif form.action == "create_token":
                _row, new_token = accounts.create_token(user, form.name or "")
            elif form.action == "revoke_token":
                accounts.revoke_token(user, form.token_id or 0)
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
@accepts(json=TokenBody, form=TokenForm)
def create_token(body: TokenBody | None = None, form: TokenForm | None = None):
    """Create an API token: {"name": "..."}; the token is in the answer and nowhere else."""
    if g.user is None:
        raise ServiceError("login is turned off (AUTH_DISABLED=1), so API tokens are not needed", status=409)
    row, clear = accounts.create_token(g.user, (body or form).name or "" if (body or form) else "")
    return jsonify({**row.to_dict(), "token": clear}), 201


@bp.delete("/api/tokens/<int:token_id>")
def delete_token(token_id: int):
    """Revoke one of the caller's API tokens."""
    if g.user is None:
        raise ServiceError(f"token {token_id} does not exist", status=404)
    accounts.revoke_token(g.user, token_id)
    return jsonify({"deleted": token_id})
