"""The real web process (gunicorn, as production runs it) for the API's fuzz and limit tests."""

from __future__ import annotations

import http.client
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TOKEN
from tests.support import Proc, base_env, free_port, wait_for


class WebProcess:
    """gunicorn on a free loopback port, login off (allowed on loopback only), with its log in a file."""

    def __init__(self, tmp: Path, redis_url: str, media: Path) -> None:
        self.port = free_port()
        self.log = tmp / "web.log"
        env = base_env(redis_url, media, tmp / "data", TOKEN, HOST="127.0.0.1", PORT=str(self.port), AUTH_DISABLED="1")
        env["WEB_WORKERS"] = "1"
        argv = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"]
        self.proc = Proc(argv, env, self.log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebProcess:
        self.proc.start()
        wait_for(self._healthy, 90, 0.2, what="the web process to answer /healthz")
        return self

    def _healthy(self) -> bool:
        if not self.proc.alive():
            raise AssertionError(f"the web process exited:\n{self.proc.output()[-3000:]}")
        try:
            return self.send("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def send(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
    ) -> tuple[int, str, bytes]:
        """Send raw bytes; return the status, the Content-Type and the body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            headers = {"Content-Type": content_type} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheader("Content-Type") or "", response.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        status, kind, payload = self.send(method, path, data)
        return status, json.loads(payload) if "json" in kind else payload.decode(errors="replace")

    def tracebacks(self) -> list[str]:
        """Every traceback the web process logged, with a little context."""
        text = self.proc.output()
        return [text[max(0, i - 300) : i + 1500] for i in _find_all(text, "Traceback (most recent call last)")]


def _find_all(text: str, needle: str) -> list[int]:
    found, start = [], text.find(needle)
    while start != -1:
        found.append(start)
        start = text.find(needle, start + 1)
    return found


@pytest.fixture(scope="module")
def web(tmp_path_factory, redis_server, clips) -> Iterator[WebProcess]:
    """A real web process on the session's redis and clips, for one test module."""
    server = WebProcess(tmp_path_factory.mktemp("web"), redis_server.url, clips["root"]).start()
    yield server
    server.proc.stop()
