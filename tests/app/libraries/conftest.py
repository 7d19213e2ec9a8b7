"""Library tests get their own media root (files they add never show up in other tests' listings)."""

from __future__ import annotations

import pytest

from tests.conftest import TOKEN


@pytest.fixture
def media(tmp_path):
    """An empty media root for one test."""
    root = tmp_path / "media"
    root.mkdir()
    return root


@pytest.fixture
def app(tmp_path, redis_server, media, database):
    """A leader app whose only media root is `media` (SQLite, or PostgreSQL for tests marked both_databases)."""
    from app import create_app

    flask_app = create_app(
        {
            "DATABASE_URL": database,
            "FRAME_SHIFT_HOME": str(media),
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
