"""A running system for browser tests: private redis, monitor, one follower with 2 slots, a real
threaded web server on a free port, and headless Chromium driven by Playwright."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from tests.conftest import TOKEN
from tests.e2e.conftest import Stack
from tests.media import make_clip
from tests.support import LiveServer, RedisServer, wait_for

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]
FOLDER = "Holiday 2024"


@pytest.fixture(scope="session")
def ui_media(tmp_path_factory) -> dict[str, Path]:
    """A media root with a folder of clips: two that take a few seconds to encode, a long one, a broken one."""
    root = tmp_path_factory.mktemp("ui-media")
    folder = root / FOLDER
    folder.mkdir()
    clips = {
        "beach": make_clip(folder / "beach.mp4", seconds=10, size="640x360"),
        "city": make_clip(folder / "city.mp4", seconds=10, size="640x360"),
        "forest": make_clip(folder / "forest.mp4", seconds=2),
        "long": make_clip(folder / "mountain (long).mp4", seconds=60, size="640x360"),
        "other": make_clip(root / "elsewhere.mp4", seconds=2),
    }
    broken = folder / "zz broken.mkv"
    broken.write_bytes(b"\x1aE\xdf\xa3 not a video at all " * 200)
    clips["broken"] = broken
    clips["root"] = root
    clips["folder"] = folder
    return clips


@pytest.fixture(scope="session")
def ui_stack(tmp_path_factory, ui_media):
    """A private redis (nothing else's monitor sees our follower), the monitor and follower ui1 (2 slots)."""
    workdir = tmp_path_factory.mktemp("ui-stack")
    redis = RedisServer(workdir).start()
    system = Stack(workdir, redis, ui_media["root"])
    try:
        system.start_worker("ui1", concurrency=2)
        system.start_monitor()
        yield system
    finally:
        system.stop()
        redis.stop()


class DropProxy:
    """A TCP relay in front of the web server whose connections can be cut, as a flaky network would."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepting = True
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.accepting:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.discard(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def cut(self) -> None:
        """Close every open connection and refuse new ones until restore()."""
        self.accepting = False
        with self.lock:
            open_sockets = list(self.sockets)
        for sock in open_sockets:
            self._close(sock)

    def restore(self) -> None:
        """Let connections through again."""
        self.accepting = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def flaky_network(live_server):
    """A relay to the live server whose connections the test can cut."""
    proxy = DropProxy(live_server.port)
    yield proxy
    proxy.close()


@pytest.fixture(scope="session")
def live_server(ui_stack, ui_media):
    """The web process on the stack's database (login off: a loopback-only test setup)."""
    from app import create_app

    flask_app = create_app(
        {
            "FRAME_SHIFT_HOME": str(ui_media["root"]),
            "DATA_DIR": str(ui_stack.data),
            "REDIS_URL": ui_stack.redis_server.url,
            "SHARED_TOKEN": TOKEN,
            "AUTH_DISABLED": True,
            "FLOWER_URL": "http://127.0.0.1:5555",
        }
    )
    server = LiveServer(flask_app).start()
    yield server
    server.stop()
    from app.extensions import db

    with flask_app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def api(live_server):
    """A JSON client for the live server (what a script would do), to set up and check state."""
    client = live_server.app.test_client()

    class Api:
        def get(self, path: str) -> dict:
            response = client.get(path)
            assert response.status_code == 200, (path, response.get_json())
            return response.get_json()

        def post(self, path: str, json: dict | None = None, status: int = 200) -> dict:
            response = client.post(path, json=json or {})
            assert response.status_code == status, (path, response.status_code, response.get_json())
            return response.get_json()

        def job(self, job_id: int) -> dict:
            return self.get(f"/api/jobs/{job_id}")

        def wait_status(self, job_id: int, *statuses: str, timeout: float = 60) -> dict:
            return wait_for(
                lambda: (lambda j: j if j["status"] in statuses else None)(self.job(job_id)),
                timeout,
                0.1,
                what=f"job {job_id} to be {' or '.join(statuses)}",
            )

    return Api()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright (never `playwright install`).

    Module scope: only one sync Playwright may run at a time in a process, and tests/ui/files
    starts its own; closing ours after each module (about a second to relaunch) lets both run in
    one session.
    """
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait up to 15 s (default 5 s): the suite shares 2 cores with encodes and workers.
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (cookies, storage) per test, desktop-sized."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.js_errors = errors
    yield tab
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def shot(page, name: str) -> Path:
    """Save a full-page screenshot under tests/screenshots/ (gitignored; README names the folder)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
