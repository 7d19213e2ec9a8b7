"""Account commands: `flask --app app token create NAME`, `flask --app app user set-password NAME`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.extensions import db
from app.models.user import User
from app.services.errors import ServiceError


def _user(name: str) -> User:
    user = db.session.scalar(select(User).where(User.username == name))
    if user is None:
        raise click.ClickException(f"there is no user {name!r}")
    return user


@click.group("token")
def token_command() -> None:
    """Manage API tokens."""


@token_command.command("create")
@click.argument("name")
@click.option("--user", "username", default="admin", show_default=True, help="owner of the token")
@with_appcontext
def create(name: str, username: str) -> None:
    """Create an API token and print it (the only time it is shown)."""
    from app.auth.accounts import create_token

    try:
        _row, clear = create_token(_user(username), name)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(clear)


@click.group("user")
def user_command() -> None:
    """Manage accounts."""


@user_command.command("set-password")
@click.argument("name")
@click.password_option()
@with_appcontext
def set_password_cmd(name: str, password: str) -> None:
    """Set a user's password (creates the user if missing)."""
    from app.auth.accounts import set_password

    user = db.session.scalar(select(User).where(User.username == name))
    if user is None:
        user = User(username=name, password_hash="!")
        db.session.add(user)
    try:
        set_password(user, password)
    except ServiceError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    click.echo(f"password set for {name}")
