"""Test helpers: free ports, a real redis-server, real Celery workers, real clips."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))
from run import REDIS_SETTINGS  # noqa: E402  (the Redis settings make run starts its own with)

HOSTNAME = socket.gethostname()


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Clock:
    """The time module with a monotonic clock a test moves (monkeypatch a module's `time` with it)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@contextmanager
def selects_of(engine: Any, *tables: str) -> Iterator[list[str]]:
    """Collect the SELECT statements the engine runs that name one of tables (any, with none given), while the
    block runs."""
    seen: list[str] = []

    def count(conn, cursor, statement, *rest) -> None:
        if statement.lstrip().upper().startswith("SELECT") and (
            not tables or any(f" {t}" in statement for t in tables)
        ):
            seen.append(statement)

    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def proc_stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command's name (state, parent pid, ...); [] when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def wait_for(condition: Callable[[], Any], timeout: float = 30, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll condition until it returns something truthy; fail with `what` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class RedisServer:
    """A private redis-server on a free loopback port, no persistence."""

    def __init__(self, workdir: Path, password: str | None = None) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.password = password
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            *REDIS_SETTINGS,  # as make run starts it
        ]
        if self.password:
            argv += ["--requirepass", self.password]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url)
        wait_for(lambda: _pings(client), 10, what="redis-server to answer")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001
        return False


def base_env(redis_url: str, media: Path, data: Path, token: str, **extra: str) -> dict[str, str]:
    """Environment for leader and follower processes in tests."""
    env = dict(os.environ)
    env.update(
        REDIS_URL=redis_url,
        FRAME_SHIFT_HOME=str(media),
        DATA_DIR=str(data),
        SHARED_TOKEN=token,
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        CELERY_VISIBILITY_TIMEOUT="20",
        CELERY_UNACKED_RESTORE_INTERVAL="1",
        FOLLOWER_LOST_AFTER="6",
    )
    env.update(extra)
    return env


class Proc:
    """A child process with its log in a file; stopped by SIGTERM then SIGKILL."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.argv, self.env, self.log = argv, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> Proc:
        handle = open(self.log, "ab")
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 15) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait(5)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def worker_argv(name: str, concurrency: int = 1) -> list[str]:
    """The follower command, as docs and compose give it."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tasks",
        "worker",
        "-n",
        f"{name}@%h",
        "-c",
        str(concurrency),
        "-E",
        "-P",
        "prefork",
        "--without-gossip",
        "--loglevel",
        "INFO",
    ]


def monitor_argv() -> list[str]:
    """The monitor command."""
    return [sys.executable, "-m", "flask", "--app", "app", "monitor"]


class LiveServer:
    """A Flask app served by werkzeug's threaded server on a free port, as a browser reaches it."""

    def __init__(self, flask_app) -> None:
        from werkzeug.serving import make_server

        self.app = flask_app
        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, flask_app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
