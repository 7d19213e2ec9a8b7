"""Fixtures for the file browser in Chromium: a folder of real clips, a live server on it, a browser and a page."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.files.conftest import HOSTILE, make_app
from tests.media import make_clip
from tests.support import LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


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
