"""Fixtures for the files service and views: a small media tree of empty files and an app browsing it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import TOKEN

HOSTILE = ["<img src=x onerror=alert(1)>.mp4", "-rf 'quoted\" name.mkv", "ünïcödé 映画.mov"]


def touch(path: Path, size: int = 0, mtime: float | None = None) -> Path:
    """Create a file of `size` bytes, optionally with a modification time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def media(tmp_path) -> Path:
    """A small media tree of empty files: videos, a converted output, other files, subfolders, hidden files."""
    root = tmp_path / "media"
    touch(root / "b movie.mkv", 300, 1_700_000_300)
    touch(root / "A clip.mp4", 100, 1_700_000_200)
    touch(root / "c.avi", 200, 1_700_000_100)
    touch(root / "c_converted.mkv", 50, 1_700_000_400)
    touch(root / "notes.txt", 10, 1_700_000_000)
    touch(root / ".b movie.frameshift-1.mkv", 10)
    touch(root / "Shows" / "s01e01.mkv", 10)
    touch(root / "Shows" / "Season 2" / "s02e01.mp4", 10)
    touch(root / "Shows" / "Season 2" / "s02e01_converted.mkv", 10)
    touch(root / "Shows" / "Season 2" / "cover.jpg", 10)
    touch(root / "Shows" / ".hidden" / "secret.mkv", 10)
    (root / "empty").mkdir()
    return root


def make_app(media_root: Path, data: Path, redis_url: str, database_url: str = ""):
    """A leader app with login off, on its own SQLite file (or the PostgreSQL database given)."""
    from app import create_app

    return create_app(
        {
            "DATABASE_URL": database_url,
            "FRAME_SHIFT_HOME": str(media_root),
            "DATA_DIR": str(data),
            "REDIS_URL": redis_url,
            "SHARED_TOKEN": TOKEN,
            "TESTING": True,
            "AUTH_DISABLED": True,
        }
    )


@pytest.fixture
def files_app(tmp_path, media, redis_server, database):
    """The app browsing the `media` tree (on PostgreSQL too for tests marked both_databases)."""
    flask_app = make_app(media, tmp_path / "data", redis_server.url, database)
    yield flask_app
    from app.extensions import db

    with flask_app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def files_client(files_app):
    """Test client for files_app."""
    return files_app.test_client()
