"""The database schema: Alembic migrations run on every start, under a lock, then the first account."""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask
from flask_migrate import Migrate
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from app.extensions import db

log = logging.getLogger("frameshift.schema")
MIGRATIONS = Path(__file__).resolve().parent.parent.parent / "migrations"
BASELINE = "0001"  # the schema that db.create_all() made before migrations existed
LOCK_KEY = 0x46534D47  # pg_advisory_lock key: "FSMG"
migrate = Migrate()


def alembic_config() -> Config:
    """Return the Alembic config for the migrations folder."""
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@contextmanager
def _locked(connection: Connection, flask_app: Flask) -> Iterator[None]:
    """Hold a lock so the web workers and the monitor never migrate at the same time."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            connection.commit()
        return
    database = connection.engine.url.database
    lock_path = Path(database + ".migrate-lock") if database and database != ":memory:" else None
    if lock_path is None:
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _create_unmigrated(connection: Connection) -> None:
    """Create tables whose models have no migration yet (tests/app/test_migrations.py flags them)."""
    existing = set(inspect(connection).get_table_names())
    missing = [table for name, table in db.metadata.tables.items() if name not in existing]
    if missing:
        log.warning(
            "tables without a migration, created directly: %s (add a migration: flask --app app db migrate)",
            ", ".join(t.name for t in missing),
        )
        db.metadata.create_all(connection, tables=missing)
        connection.commit()


def upgrade_database(flask_app: Flask) -> None:
    """Bring the schema to the newest migration, then make sure an account exists (when login is on)."""
    from app import models  # noqa: F401  (every table must be known)
    from app.models import user  # noqa: F401

    migrate.init_app(flask_app, db, directory=str(MIGRATIONS))
    config = alembic_config()
    with flask_app.app_context():
        with db.engine.connect() as connection, _locked(connection, flask_app):
            tables = set(inspect(connection).get_table_names())
            config.attributes["connection"] = connection
            if "alembic_version" not in tables and "jobs" in tables:
                log.info("database made before migrations existed: marking it as revision %s", BASELINE)
                command.stamp(config, BASELINE)
            command.upgrade(config, "head")
            connection.commit()
            _create_unmigrated(connection)
            if not flask_app.config.get("AUTH_DISABLED"):
                from app.auth.accounts import ensure_admin

                ensure_admin(flask_app)
        db.session.remove()
