"""The database schema: Alembic migrations run on every start, under a lock, then the first account."""

from __future__ import annotations

import fcntl
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from app.extensions import db

log = logging.getLogger("frameshift.schema")
MIGRATIONS = Path(__file__).resolve().parent.parent.parent / "migrations"
BASELINE = "0001"  # the schema that db.create_all() made before migrations existed
LOCK_KEY = 0x46534D47  # pg_advisory_lock key: "FSMG"
REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


def alembic_config() -> Any:
    """Return the Alembic config for the migrations folder."""
    from alembic.config import Config

    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    """The newest migration, read from the files (the one no other names as its parent); None when that is
    not one plain revision (a merge, an unreadable file): then Alembic decides."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        fields = dict(REVISION.findall(path.read_text()))
        if "revision" not in fields:
            return None
        revisions.add(fields["revision"].strip("'\""))
        parents.add(fields.get("down_revision", "None").strip("'\""))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def at_head(connection: Connection) -> bool:
    """Return True when the database is at the newest migration and has every model's table: nothing to do.

    Checked before Alembic and Flask-Migrate are imported: they cost every process ~11 MB of memory for its
    whole life (bench/footprint.py), and at every start but the first after an upgrade there is nothing to run.
    """
    head = head_revision()
    tables = set(inspect(connection).get_table_names())
    if head is None or "alembic_version" not in tables or not set(db.metadata.tables) <= tables:
        return False
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return versions == [head]


def register_migrate(flask_app: Flask) -> None:
    """Register Flask-Migrate on the app (its `flask db` commands, and what migrations/env.py reads) when it is
    about to be used: by a migration at start or a `flask db` command, never by a process with nothing to do."""
    if "migrate" not in flask_app.extensions:
        from flask_migrate import Migrate

        Migrate().init_app(flask_app, db, directory=str(MIGRATIONS))


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


def migrate_database(flask_app: Flask, connection: Connection) -> None:
    """Run Alembic up to the newest migration on connection (held under the lock, inside an app context)."""
    from alembic import command

    register_migrate(flask_app)
    config = alembic_config()
    tables = set(inspect(connection).get_table_names())
    config.attributes["connection"] = connection
    if "alembic_version" not in tables and "jobs" in tables:
        log.info("database made before migrations existed: marking it as revision %s", BASELINE)
        command.stamp(config, BASELINE)
    command.upgrade(config, "head")
    connection.commit()
    _create_unmigrated(connection)


def upgrade_database(flask_app: Flask) -> None:
    """Bring the schema to the newest migration, then make sure an account exists (when login is on)."""
    from app import models  # noqa: F401  (every table must be known)
    from app.models import user  # noqa: F401

    with flask_app.app_context():
        with db.engine.connect() as connection, _locked(connection, flask_app):
            if not at_head(connection):
                migrate_database(flask_app, connection)
            connection.rollback()
            if not flask_app.config.get("AUTH_DISABLED"):
                from app.auth.accounts import ensure_admin

                ensure_admin(flask_app)
        db.session.remove()


def offer_db_commands(flask_app: Flask) -> None:
    """`flask db ...`: Flask-Migrate's commands, registered when one is asked for (Migrate's init_app adds
    them), so the web and the monitor never import Flask-Migrate."""
    cli = flask_app.cli
    get_command, list_commands = cli.get_command, cli.list_commands

    def get(ctx: click.Context, name: str) -> click.Command | None:
        if name == "db":
            register_migrate(flask_app)
        return get_command(ctx, name)

    def names(ctx: click.Context) -> list[str]:
        return sorted({*list_commands(ctx), "db"})

    cli.get_command, cli.list_commands = get, names  # type: ignore[method-assign]
