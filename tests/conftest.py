"""Shared fixtures: a real redis-server, clips made by FFmpeg, a leader app and its processes."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.media import make_clip  # noqa: E402
from tests.support import RedisServer  # noqa: E402

TOKEN = "test-shared-token-0123456789abcdef"
# Run on SQLite and on PostgreSQL: whole modules (None) or the named tests in them.
BOTH_DATABASES: dict[str, set[str] | None] = {
    "tests/app/test_api.py": None,
    "tests/app/test_followers_outcomes.py": None,
    "tests/app/test_followers_reaper.py": None,
    "tests/app/test_monitor_dispatch.py": None,
    "tests/app/test_monitor_events.py": None,
    "tests/app/test_transitions.py": None,
    "tests/app/test_ui_views.py": None,
    "tests/app/test_ui_detail_views.py": None,
    "tests/e2e/test_end_to_end.py": None,
    "tests/app/test_auth.py": None,
    "tests/app/test_notify.py": None,
}


def pytest_configure(config):
    config.addinivalue_line("markers", "both_databases: run this test on SQLite and on PostgreSQL")
    config.addinivalue_line(
        "markers",
        "serial: loads the whole machine (a minute of full CPU); `make test` runs these alone, after the rest",
    )
    # pytest-xdist registers it too; `make test`'s serial run (-p no:xdist) does not load xdist.
    config.addinivalue_line("markers", "xdist_group(name): tests of one group run on the same xdist worker")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(items):
    """Tests need FFmpeg and redis-server on PATH; BOTH_DATABASES must name tests that exist. For `make
    test`'s workers (pytest-xdist, --dist loadgroup): each test module stays on one worker (its module and
    session fixtures are built once, its tests run in order), and every test of the failure harness on the
    same one, because the harness starts the scenarios of all selected tests at its first call
    (tests/e2e/test_failures_harness.py)."""
    for item in items:
        function = getattr(item, "function", None)
        module = item.nodeid.split("::")[0]
        group = "failure-harness" if getattr(function, "scenario", None) else module
        if module.startswith("tests/ui/"):
            group = "ui"  # one browser stack's media folder, which earlier modules' outputs land in: keep their order
        item.add_marker(pytest.mark.xdist_group(group))
    missing = [tool for tool in ("ffmpeg", "ffprobe", "redis-server") if shutil.which(tool) is None]
    if missing:
        raise pytest.UsageError(
            f"missing {', '.join(missing)}: run `make test` (it installs them) or apt-get install them"
        )
    root = Path(__file__).resolve().parent.parent
    collected = {(Path(str(item.fspath)).resolve().relative_to(root).as_posix(), item.originalname) for item in items}
    for module, names in BOTH_DATABASES.items():
        gone = {
            name for name in names or () if any(m == module for m, _ in collected) and (module, name) not in collected
        }
        if gone:
            raise pytest.UsageError(
                f"BOTH_DATABASES in tests/conftest.py names {sorted(gone)} in {module}, "
                "which no longer exist: update the list"
            )


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server on a free port for the whole session."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Small generated media: two short clips, a longer one, a corrupt file."""
    media = tmp_path_factory.mktemp("media")
    found = {
        "short": make_clip(media / "short clip.mp4", seconds=3),
        "other": make_clip(media / "other.mp4", seconds=2),
        "long": make_clip(media / "long.mp4", seconds=20, size="640x360"),
    }
    corrupt = media / "corrupt.mkv"
    corrupt.write_bytes(b"\x1aE\xdf\xa3 this is not really a video" * 100)
    found["corrupt"] = corrupt
    found["root"] = media
    return found


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server (TEST_DATABASE_URL, or one started here with initdb/pg_ctl)."""
    from tests.postgres import start_postgres

    server = start_postgres()
    if server is None:
        message = "PostgreSQL is not installed (apt-get install postgresql) and TEST_DATABASE_URL is not set"
        if os.environ.get("CI") or os.environ.get("TEST_REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)
    yield server
    server.stop()


@pytest.fixture
def database(request) -> str:
    """DATABASE_URL for a test: '' (SQLite in DATA_DIR) or a fresh PostgreSQL database."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return ""
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
def app(tmp_path, redis_server, clips, database):
    """A leader app on its own database (SQLite file, or PostgreSQL when parametrised), bound to the session's redis."""
    from app import create_app

    flask_app = create_app(
        {
            "DATABASE_URL": database,
            "FRAME_SHIFT_HOME": str(clips["root"]),
            "DATA_DIR": str(tmp_path / "data"),
            "REDIS_URL": redis_server.url,
            "SHARED_TOKEN": TOKEN,
            "TESTING": True,
            "AUTH_DISABLED": True,
        }
    )
    yield flask_app
    from app.extensions import db

    with flask_app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """Flask test client."""
    return app.test_client()
