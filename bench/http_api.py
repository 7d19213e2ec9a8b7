"""The benchmarks' HTTP side: a keep-alive JSON client for the web process, waiting for /healthz, an API token.

`bench.harness` re-exports these (`from bench.harness import Api`), as the benchmarks have always imported them.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import wait_for  # noqa: E402


def wait_healthy(api: Api, died: Callable[[], str | None], timeout: float, step: float, what: str) -> None:
    """Wait until the web process answers /healthz; died() returns why to give up (a process that exited)."""

    def healthy() -> bool:
        reason = died()
        if reason is not None:
            raise RuntimeError(reason)
        try:
            return api.request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    wait_for(healthy, timeout, step, what=what)


def api_token(env: dict[str, str]) -> str:
    """Create an API token named bench with the app's own command (`flask --app app token create`)."""
    made = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "token", "create", "bench"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        raise RuntimeError(f"could not create an API token: {made.stderr[-1500:]}")
    return made.stdout.strip().splitlines()[-1]


class Api:
    """A keep-alive HTTP/JSON client for the web process."""

    def __init__(self, port: int, token: str = "", host: str = "127.0.0.1") -> None:
        self.host, self.port, self.token = host, port, token
        self.conn = http.client.HTTPConnection(host, port, timeout=300)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes, float]:
        """Send one request; return (status, body bytes, seconds from send to last byte)."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                return response.status, payload, time.perf_counter() - started
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def create_jobs(self, inputs: list[str], spec: dict[str, Any]) -> list[dict[str, Any]]:
        """POST /api/jobs; return the created jobs or raise with the server's message."""
        status, payload, _ = self.request("POST", "/api/jobs", {"inputs": inputs, "spec": spec})
        if status != 201:
            raise RuntimeError(f"POST /api/jobs answered {status}: {payload[:500]!r}")
        return json.loads(payload)["jobs"]
