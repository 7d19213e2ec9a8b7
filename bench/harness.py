"""What every benchmark shares: a private system (redis, workers, monitor, web), a small HTTP
client, database reads, /proc sampling, statistics, and the results table/JSON.

Benchmarks import this as `from bench.harness import ...`; each script puts the project root on
sys.path first, so `python bench/<name>.py` works from anywhere.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sqlite3
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.http_api import Api, api_token, wait_healthy  # noqa: E402, F401
from bench.report import (  # noqa: E402, F401
    BENCH,
    RESULTS,
    Figure,
    Result,
    cpu_seconds,
    fmt,
    machine,
    median,
    percentile,
    rss_mb,
    table,
)
from tasks import keys  # noqa: E402
from tests.media import make_clip  # noqa: E402
from tests.support import (  # noqa: E402
    HOSTNAME,
    Proc,
    RedisServer,
    base_env,
    free_port,
    monitor_argv,
    wait_for,
    worker_argv,
)

TOKEN = "bench-shared-token-0123456789abcdef"
__all__ = ["HOSTNAME", "make_clip", "wait_for", "System", "Api", "Figure", "Result", "parse_args"]


def parse_args(description: str, **extra: Any) -> argparse.Namespace:
    """Common flags: --quick (fewer runs, smaller sizes), --runs N, --keep (leave the temp folder)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer runs and smaller sizes (a smoke run)")
    parser.add_argument("--runs", type=int, default=None, help="override the number of runs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, database)")
    for name, kwargs in extra.items():
        parser.add_argument(f"--{name.replace('_', '-')}", **kwargs)
    # A benchmark stopped by SIGTERM (`timeout`, a CI limit) unwinds like Ctrl-C, so its `with System(...)` or
    # `finally` stops what it started; by default it died at once and left redis, web, monitor and workers running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return parser.parse_args()


def db_time(text: str | None) -> float | None:
    """Turn a naive-UTC timestamp as SQLAlchemy stores it in SQLite into epoch seconds."""
    if not text:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


# ---------------------------------------------------------------- the system


class System:
    """A private Frame Shift: redis-server, followers, monitor and web, in a temporary folder."""

    def __init__(self, name: str, keep: bool = False, **env: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"frameshift-bench-{name}-"))
        self.keep = keep
        self.media = self.tmp / "media"
        self.data = self.tmp / "data"
        self.logs = self.tmp / "logs"
        for folder in (self.media, self.data, self.logs):
            folder.mkdir()
        self.redis_server = RedisServer(self.tmp).start()
        self.extra_env = env
        self.procs: list[Proc] = []
        self.monitor: Proc | None = None
        self.web: Proc | None = None
        self.web_port = 0
        import redis

        self.redis = redis.Redis.from_url(self.redis_server.url)

    @property
    def db_path(self) -> Path:
        return self.data / "frameshift.db"

    def env(self, **extra: str) -> dict[str, str]:
        """Production-like settings: default visibility timeout and lost-follower bound."""
        env = base_env(
            self.redis_server.url,
            self.media,
            self.data,
            TOKEN,
            FOLLOWER_LOST_AFTER="10",
            CELERY_VISIBILITY_TIMEOUT="43200",
        )
        env.pop("CELERY_UNACKED_RESTORE_INTERVAL", None)
        env.update(self.extra_env)
        env.update(extra)
        return env

    def start_workers(
        self,
        names: list[str],
        concurrency: int = 1,
        extra_args: list[str] | None = None,
        timeout: float = 120,
        **env: str,
    ) -> list[Proc]:
        """Start followers (the documented command) and wait until each has advertised itself."""
        started = []
        for name in names:
            self.redis.delete(keys.follower(f"{name}@{HOSTNAME}"))
            argv = worker_argv(name, concurrency) + list(extra_args or [])
            proc = Proc(argv, self.env(**env), self.logs / f"{name}.log").start()
            self.procs.append(proc)
            started.append(proc)
        for name, proc in zip(names, started):
            key = keys.follower(f"{name}@{HOSTNAME}")
            wait_for(
                lambda k=key, p=proc: self.redis.get(k) or not p.alive(),
                timeout,
                0.2,
                what=f"worker {name} to advertise itself",
            )
            if not proc.alive():
                raise RuntimeError(f"worker {name} died:\n{proc.output()[-3000:]}")
        return started

    def start_monitor(self, wrapper: list[str] | None = None, wait_online: int = 0, **env: str) -> Proc:
        """Start `flask --app app monitor` (optionally under a profiler); wait for N followers online."""
        argv = monitor_argv()
        if wrapper:
            argv = [sys.executable, *wrapper, *argv[1:]]
        self.monitor = Proc(argv, self.env(**env), self.logs / "monitor.log").start()
        self.procs.append(self.monitor)
        if wait_online:
            wait_for(
                lambda: self.followers_online() >= wait_online or not self.monitor.alive(),
                60,
                0.2,
                what=f"{wait_online} followers online in the monitor",
            )
            if not self.monitor.alive():
                raise RuntimeError(f"monitor died:\n{self.monitor.output()[-3000:]}")
        return self.monitor

    def start_web(self, threads: int = 8) -> Api:
        """Start the web process under gunicorn (one gthread worker, as in production) and wait for it."""
        self.web_port = free_port()
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{self.web_port}",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--timeout",
            "300",
            "--log-level",
            "warning",
            "app:create_app()",
        ]
        self.web = Proc(argv, self.env(), self.logs / "web.log").start()
        self.procs.append(self.web)
        api = Api(self.web_port)
        died = lambda: None if self.web.alive() else f"web died:\n{self.web.output()[-3000:]}"  # noqa: E731
        wait_healthy(api, died, 60, 0.1, what="web process to answer /healthz")
        api.token = api_token(self.env())  # login stays on: requests carry an API token, as scripts are told to
        return api

    # -- database reads (the leader's database is the source of truth)

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        """Run a read-only query on the leader's SQLite database."""
        if not self.db_path.exists():
            return []
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute(sql, args).fetchall()

    def followers_online(self) -> int:
        try:
            return self.query("SELECT count(*) FROM followers WHERE online = 1")[0][0]
        except sqlite3.OperationalError:
            return 0

    def status_counts(self) -> dict[str, int]:
        try:
            return dict(self.query("SELECT status, count(*) FROM jobs GROUP BY status"))
        except sqlite3.OperationalError:
            return {}

    def job(self, job_id: int) -> dict[str, Any]:
        """Return one job row as a dict."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return dict(row) if row else {}
        finally:
            conn.close()

    def wait_finished(self, job_ids: list[int], timeout: float, interval: float = 0.01) -> list[dict[str, Any]]:
        """Poll the database until every job is finished; return their rows."""
        marks = ",".join("?" * len(job_ids))

        def done() -> bool:
            rows = self.query(
                f"SELECT count(*) FROM jobs WHERE id IN ({marks}) AND status IN ('succeeded','failed','cancelled')",
                tuple(job_ids),
            )
            return rows[0][0] == len(job_ids)

        wait_for(done, timeout, interval, what=f"jobs {job_ids[:5]}... to finish")
        return [self.job(i) for i in job_ids]

    def stop(self) -> None:
        """Stop every process (newest first) and remove the folder unless asked to keep it."""
        for proc in reversed(self.procs):
            proc.stop(timeout=20)
        self.redis_server.stop()
        if self.keep:
            print(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> System:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            for proc in self.procs:
                if proc.log.exists():
                    print(f"--- last lines of {proc.log.name}:\n{proc.output()[-1500:]}", file=sys.stderr)
        self.stop()
