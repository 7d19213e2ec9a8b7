"""Login for the UI and API: sessions, API tokens, CSRF, the first admin account."""

from __future__ import annotations

from flask import Flask

from app.auth.csrf import csrf_token


def init_auth(flask_app: Flask) -> None:
    """Install the login guard, the CSRF helper, the login/account pages and the account commands."""
    from app.auth import cli, guard, views

    flask_app.register_blueprint(views.bp)
    flask_app.before_request(guard.require_login)
    flask_app.jinja_env.globals["csrf_token"] = csrf_token
    flask_app.context_processor(guard.template_user)
    flask_app.cli.add_command(cli.token_command)
    flask_app.cli.add_command(cli.user_command)
