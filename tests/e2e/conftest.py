"""A running system: the session's redis, a monitor process and a follower process."""

from __future__ import annotations

import json

import pytest
import redis as redis_lib

from tasks import keys
from tests.conftest import TOKEN
from tests.support import HOSTNAME, Proc, RedisServer, base_env, monitor_argv, wait_for, worker_argv


class Stack:
    """Leader data folder plus the processes of one test system."""

    def __init__(self, tmp, redis_server, media, database_url: str = "") -> None:
        self.tmp = tmp
        self.database_url = database_url  # '' = SQLite in the data folder
        self.redis_server = redis_server
        self.media = media
        self.data = tmp / "data"
        self.data.mkdir(exist_ok=True)
        self.procs: list[Proc] = []
        self.redis = redis_lib.Redis.from_url(redis_server.url)

    def env(self, **extra: str) -> dict[str, str]:
        database = {"DATABASE_URL": self.database_url} if self.database_url else {}
        return base_env(self.redis_server.url, self.media, self.data, TOKEN, **database, **extra)

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
def stacks(tmp_path_factory, clips):
    """Stacks by database, made on first use, each on a redis of its own: their followers live for the whole
    session, and on the session's redis they would consume the messages of tests that run later in the same
    process (under `make test`'s workers any module can come after this one)."""
    made: dict[str, Stack] = {}
    servers: list[RedisServer] = []

    def get(database: str, postgres) -> Stack:
        if database not in made:
            servers.append(RedisServer(tmp_path_factory.mktemp(f"redis-{database}")).start())
            if database == "sqlite":
                system = Stack(tmp_path_factory.mktemp("stack"), servers[-1], clips["root"])
            else:
                url = postgres().new_database("stack")
                system = Stack(tmp_path_factory.mktemp("stack-pg"), servers[-1], clips["root"], database_url=url)
            made[database] = system
            system.start_worker("w1", concurrency=2)
            system.start_monitor()
        return made[database]

    yield get
    for system in made.values():
        system.stop()
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def stack(stacks, request):
    """One monitor and one follower (2 slots) for the integration tests that share them (SQLite unless parametrised)."""
    return stacks(getattr(request, "param", "sqlite"), lambda: request.getfixturevalue("postgres"))


@pytest.fixture
def leader(stack):
    """A leader app on the stack's database (what the web process would be)."""
    from app import create_app

    flask_app = create_app(
        {
            "DATABASE_URL": stack.database_url,
            "FRAME_SHIFT_HOME": str(stack.media),
            "DATA_DIR": str(stack.data),
            "REDIS_URL": stack.redis_server.url,
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
