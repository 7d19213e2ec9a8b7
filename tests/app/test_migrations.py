"""Schema migrations on start-up, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import TOKEN
from tests.support import ROOT, base_env


def database_url(database: str, tmp_path) -> str:
    return database or f"sqlite:///{tmp_path / 'fresh.db'}"


def bare_app(url: str, tmp_path):
    """An app with only the database bound (no upgrade yet)."""
    from flask import Flask
    from flask_migrate import Migrate

    from app import models  # noqa: F401
    from app.extensions import db
    from app.models import user  # noqa: F401
    from app.services.schema import MIGRATIONS

    flask_app = Flask("migrations-check")
    flask_app.config["SQLALCHEMY_DATABASE_URI"] = url
    db.init_app(flask_app)
    Migrate().init_app(flask_app, db, directory=str(MIGRATIONS))
    return flask_app


@pytest.mark.both_databases
def test_migrations_alone_build_exactly_the_models(database, tmp_path):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from app.extensions import db
    from app.services.schema import alembic_config

    flask_app = bare_app(database_url(database, tmp_path), tmp_path)
    config = alembic_config()
    with flask_app.app_context():
        command.upgrade(config, "head")
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        db.engine.dispose()
    assert differences == [], (
        "the models differ from what the migrations build: add a migration with "
        f"`flask --app app db migrate -m '...'` and review it: {differences}"
    )
    assert version == ScriptDirectory.from_config(config).get_current_head()


@pytest.mark.both_databases
def test_a_database_from_before_migrations_is_adopted_and_kept(database, tmp_path, clips, redis_server):
    from alembic import command

    from app import create_app
    from app.extensions import db
    from app.services.schema import alembic_config

    url = database_url(database, tmp_path)
    legacy = bare_app(url, tmp_path)
    with legacy.app_context():
        command.upgrade(alembic_config(), "0001")  # the tables create_all() used to make
        db.engine.dispose()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(
            text(
                "INSERT INTO jobs (name, input_path, output_path, spec, status, priority, position, attempt, percent, "
                "cleared, created_at, updated_at) VALUES ('old.mkv', '/m/old.mkv', '/m/old_converted.mkv', '{}', "
                "'succeeded', 0, 1, 1, 100, false, '2026-01-01', '2026-01-01')"
            )
        )
    engine.dispose()
    flask_app = create_app(
        {
            "DATABASE_URL": url,
            "FRAME_SHIFT_HOME": str(clips["root"]),
            "AUTH_DISABLED": True,
            "DATA_DIR": str(tmp_path / "data"),
            "REDIS_URL": redis_server.url,
            "SHARED_TOKEN": TOKEN,
        }
    )
    jobs = flask_app.test_client().get("/api/jobs").get_json()["jobs"]
    assert [j["name"] for j in jobs] == ["old.mkv"]
    with flask_app.app_context():
        tables = set(db.inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert {"users", "api_tokens", "alembic_version"} <= tables


@pytest.mark.both_databases
def test_processes_starting_together_migrate_once(database, tmp_path, clips, redis_server):
    url = database_url(database, tmp_path)
    env = base_env(
        redis_server.url,
        clips["root"],
        tmp_path / "data",
        TOKEN,
        DATABASE_URL=url,
        FRAME_SHIFT_ADMIN_PASSWORD="together-pw-123",
    )
    code = "from app import create_app; create_app()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM users")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()


def test_sqlite_runs_in_wal_mode(app):
    from app.extensions import db

    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"


@pytest.mark.both_databases
def test_a_start_at_the_newest_migration_never_imports_alembic_and_flask_db_still_works(
    database, tmp_path, clips, redis_server
):
    """Alembic and Flask-Migrate cost each process ~11 MB for its whole life: a process that finds the
    database at the newest migration (every start but the first after an upgrade) does not import them, and
    `flask db` (which needs Flask-Migrate) still works. The newest migration is read from the files: the same
    one Alembic names."""
    from alembic.script import ScriptDirectory

    from app.services.schema import alembic_config, head_revision

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()
    url = database_url(database, tmp_path)
    env = base_env(redis_server.url, clips["root"], tmp_path / "data", TOKEN, DATABASE_URL=url)
    code = "import sys; from app import create_app; create_app(); print(sorted({'alembic', 'flask_migrate'} & set(sys.modules)))"
    first, second = (
        subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        for _ in range(2)
    )
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.split("\n")[-2] == "['alembic', 'flask_migrate']"  # a new database: migrated
    assert second.stdout.split("\n")[-2] == "[]"  # at the newest migration: nothing imported
    current = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "current"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert current.returncode == 0 and f"{head_revision()} (head)" in current.stdout, current.stdout + current.stderr
