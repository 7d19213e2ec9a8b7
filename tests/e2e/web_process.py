"""The real web process of a failure scenario: gunicorn started, killed and restarted on one port,
and an HTTP client for its API and live stream (used by test_failures_restarts.py)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.support import Proc, free_port, wait_for

if TYPE_CHECKING:
    from tests.e2e.test_failures_harness import System


class Web:
    """The web process as production runs it: `gunicorn -c gunicorn.conf.py 'app:create_app()'`.

    Login is off, which the app allows only on loopback (HOST=127.0.0.1). A restart reuses the port,
    as a browser or a reverse proxy would keep using the same address.
    """

    def __init__(self, system: System) -> None:
        self.system = system
        self.port = free_port()
        self.proc: Proc | None = None
        self.starts = 0

    def start(self) -> Web:
        self.starts += 1
        argv = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"]
        env = self.system.env(HOST="127.0.0.1", PORT=str(self.port), AUTH_DISABLED="1")
        self.proc = Proc(argv, env, self.system.tmp / f"web{self.starts}.log").start()
        self.system.procs.append(self.proc)
        wait_for(self._healthy, 90, 0.2, what=f"the web process (start {self.starts}) to answer /healthz")
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if not self.proc.alive():
            raise AssertionError(f"the web process exited:\n{self.proc.output()[-3000:]}")
        try:
            return self.request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL the whole web process (gunicorn's master and its workers), as a crash or an OOM kill would."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.proc.wait(10)  # type: ignore[union-attr]
        wait_for(lambda: not self.answers(), 30, 0.2, what="the killed web process to stop answering")

    def answers(self) -> bool:
        try:
            self.request("GET", "/healthz", timeout=2)
            return True
        except OSError:
            return False

    def request(self, method: str, path: str, body: Any = None, timeout: float = 60) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            return response.status, json.loads(payload) if payload else None
        finally:
            conn.close()

    def api(self, method: str, path: str, body: Any = None) -> Any:
        status, data = self.request(method, path, body)
        assert status < 400, (path, status, data)
        return data

    def submit(self, clip: str, spec: dict[str, Any], count: int = 1) -> list[dict[str, Any]]:
        inputs = [str(self.system.clips[clip])] * count
        return self.api("POST", "/api/jobs", {"inputs": inputs, "spec": spec})["jobs"]

    def job(self, job_id: int) -> dict[str, Any]:
        return self.api("GET", f"/api/jobs/{job_id}")

    def wait_job(
        self, job_id: int, check: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> dict[str, Any]:
        return wait_for(lambda: check(d := self.job(job_id)) and d, timeout, 0.2, what=f"job {job_id} {what} (HTTP)")

    def stream_until(self, check: Callable[[dict[str, Any]], bool], timeout: float) -> list[dict[str, Any]]:
        """Read GET /api/stream as a browser would; return its job and progress messages up to the first that passes."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        try:
            conn.request("GET", "/api/stream", headers={"Accept": "text/event-stream"})
            response = conn.getresponse()
            assert response.status == 200, response.status
            while time.monotonic() < deadline:
                line = response.readline()
                if not line:
                    break
                if line.startswith(b"data:"):
                    message = json.loads(line[5:])
                    if message.get("type") in ("job", "progress"):
                        seen.append(message)
                        if check(message):
                            return seen
        except OSError as exc:
            raise AssertionError(f"the live stream broke off after {len(seen)} messages: {exc}") from exc
        finally:
            conn.close()
        raise AssertionError(f"the live stream sent no matching message within {timeout} s; it sent {seen[-5:]}")
