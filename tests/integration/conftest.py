"""A running system: the session's redis, a monitor process and a follower process."""

from __future__ import annotations

import json

import pytest
import redis as redis_lib

from tests.conftest import TOKEN
from tests.support import HOSTNAME, Proc, base_env, monitor_argv, wait_for, worker_argv
from tasks import keys


class Stack:
    """Leader data folder plus the processes of one test system."""

    def __init__(self, tmp, redis_server, media) -> None:
        self.tmp = tmp
        self.redis_server = redis_server
        self.media = media
        self.data = tmp / "data"
        self.data.mkdir(exist_ok=True)
        self.procs: list[Proc] = []
        self.redis = redis_lib.Redis.from_url(redis_server.url)

    def env(self, **extra: str) -> dict[str, str]:
        return base_env(self.redis_server.url, self.media, self.data, TOKEN, **extra)

    def start_worker(self, name: str, concurrency: int = 1, **extra: str) -> Proc:
        """Start a follower and wait until it has advertised itself."""
        hostname = f"{name}@{HOSTNAME}"
        self.redis.delete(keys.follower(hostname))
        proc = Proc(worker_argv(name, concurrency), self.env(**extra), self.tmp / f"{name}.log").start()
        self.procs.append(proc)
        wait_for(lambda: self.redis.get(keys.follower(hostname)) or not proc.alive(), 60, what=f"worker {name} ready")
        assert proc.alive(), proc.output()[-3000:]
        return proc

    def start_monitor(self, **extra: str) -> Proc:
        proc = Proc(monitor_argv(), self.env(**extra), self.tmp / "monitor.log").start()
        self.procs.append(proc)
        return proc

    def follower_info(self, name: str) -> dict:
        raw = self.redis.get(keys.follower(f"{name}@{HOSTNAME}"))
        return json.loads(raw) if raw else {}

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory, redis_server, clips):
    """One monitor and one follower (2 slots) for the integration tests that share them."""
    system = Stack(tmp_path_factory.mktemp("stack"), redis_server, clips["root"])
    system.start_worker("w1", concurrency=2)
    system.start_monitor()
    yield system
    system.stop()


@pytest.fixture
def leader(stack):
    """A leader app on the stack's database (what the web process would be)."""
    from app import create_app

    flask_app = create_app({
        "FRAME_SHIFT_HOME": str(stack.media),
        "DATA_DIR": str(stack.data),
        "REDIS_URL": stack.redis_server.url,
        "SHARED_TOKEN": TOKEN,
        "TESTING": True,
        "AUTH_DISABLED": True,
    })
    yield flask_app
    from app.extensions import db

    with flask_app.app_context():
        db.session.remove()
        db.engine.dispose()
