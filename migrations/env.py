"""Alembic environment: run migrations on the app's own engine and metadata."""

from __future__ import annotations

from alembic import context
from flask import current_app


def target_metadata():
    """Every model's tables (models are imported by the app factory)."""
    return current_app.extensions["migrate"].db.metadata


def run_offline() -> None:
    """Emit SQL instead of running it (`flask db upgrade --sql`)."""
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    context.configure(url=url, target_metadata=target_metadata(), literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run migrations on a connection (the caller may lend one through config.attributes)."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = current_app.extensions["migrate"].db.engine
    with engine.connect() as connection:
        _run(connection)


def _run(connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead.
    context.configure(connection=connection, target_metadata=target_metadata(), render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
