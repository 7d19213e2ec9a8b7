"""Fixtures for the file browser and configure page: media trees, an app on them, a live server, Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import TOKEN
from tests.support import LiveServer, make_clip

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
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


@pytest.fixture(scope="session")
def clip_folder(tmp_path_factory) -> Path:
    """Media for the browser tests: a folder of real generated clips plus hostile names."""
    root = tmp_path_factory.mktemp("browser-media")
    clips = root / "Clips"
    clips.mkdir()
    for name, seconds in (("one.mp4", 2), ("two.mp4", 2), ("three.mp4", 1)):
        make_clip(clips / name, seconds=seconds)
    for name in HOSTILE:
        (root / name).write_bytes((clips / "three.mp4").read_bytes())
    return root


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, clip_folder, redis_server):
    """One live server for the browser tests in this folder."""
    flask_app = make_app(clip_folder, tmp_path_factory.mktemp("live-data"), redis_server.url)
    server = LiveServer(flask_app).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright; per module, as in tests/ui (one sync Playwright at a time)."""
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait up to 15 s (default 5 s), as in tests/ui: the suite shares 2 cores with encodes.
    expect.set_options(timeout=15_000)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (own cookies, so its own selection) and page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.js_errors = errors
    yield tab
    context.close()


def screenshot(tab, name: str) -> Path:
    """Save a full-page screenshot under tests/screenshots/."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path
