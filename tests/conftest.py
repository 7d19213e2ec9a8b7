"""Shared fixtures: a real redis-server, clips made by FFmpeg, a leader app and its processes."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import RedisServer, make_clip  # noqa: E402

TOKEN = "test-shared-token-0123456789abcdef"


def pytest_collection_modifyitems(items):
    """Tests under integration/ and ui/ need FFmpeg and redis-server on PATH."""
    missing = [tool for tool in ("ffmpeg", "ffprobe", "redis-server") if shutil.which(tool) is None]
    if missing:
        raise pytest.UsageError(f"missing {', '.join(missing)}: run `make test` (it installs them) or apt-get install them")


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


@pytest.fixture
def app(tmp_path, redis_server, clips):
    """A leader app on its own SQLite file, bound to the session's redis."""
    from app import create_app

    flask_app = create_app({
        "FRAME_SHIFT_HOME": str(clips["root"]),
        "DATA_DIR": str(tmp_path / "data"),
        "REDIS_URL": redis_server.url,
        "SHARED_TOKEN": TOKEN,
        "TESTING": True,
        "AUTH_DISABLED": True,
    })
    yield flask_app
    from app.extensions import db

    with flask_app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """Flask test client."""
    return app.test_client()
