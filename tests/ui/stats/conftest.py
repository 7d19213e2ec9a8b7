"""A live server on a database of seeded finished jobs (no follower or monitor: statistics only read), and Chromium."""

from __future__ import annotations

import pytest

from tests.conftest import TOKEN
from tests.media import make_clip
from tests.stats_seed import seed
from tests.support import LiveServer
from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def stats_media(tmp_path_factory):
    """A media root with one real clip (the configure page needs a file to pick)."""
    root = tmp_path_factory.mktemp("stats-media")
    (root / "Movies").mkdir()
    make_clip(root / "Movies" / "trailer.mp4", seconds=2)
    return root


@pytest.fixture(scope="module")
def stats_server(tmp_path_factory, stats_media, redis_server):
    """The web app on its own SQLite database holding the seeded jobs (login off: loopback test setup)."""
    from app import create_app
    from app.extensions import db
    from app.models import utcnow

    flask_app = create_app(
        {
            "FRAME_SHIFT_HOME": str(stats_media),
            "DATA_DIR": str(tmp_path_factory.mktemp("stats-data")),
            "REDIS_URL": redis_server.url,
            "SHARED_TOKEN": TOKEN,
            "AUTH_DISABLED": True,
        }
    )
    with flask_app.app_context():
        flask_app.seeded_ids = seed(stats_media, utcnow().date())
    server = LiveServer(flask_app).start()
    yield server
    server.stop()
    with flask_app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright (module scope: one sync Playwright at a time)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, stats_server):
    """Open a page in a fresh context of the given width and colour scheme; fail on any JavaScript error."""
    contexts = []
    errors: list[str] = []

    def make(path: str, width: int = 1280, scheme: str = "light"):
        phone = width < 500
        context = browser.new_context(
            base_url=stats_server.url,
            viewport={"width": width, "height": 844 if phone else 900},
            color_scheme=scheme,
            is_mobile=phone,
            has_touch=phone,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(path)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def no_horizontal_overflow(page) -> int:
    """Return by how many pixels the page is wider than the viewport (0 when it fits)."""
    return page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
