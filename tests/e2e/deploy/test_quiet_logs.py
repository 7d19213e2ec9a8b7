"""Logs say what happened in one line, not a traceback per retry.

A Redis outage: a real redis-server is stopped for about 5 s while a real follower encodes, the real
monitor watches and a real web process serves a live stream; then it comes back on the same port.
Each process logs one warning when it starts and one line when it ends, and no traceback.
A cancelled attempt is one INFO line on the follower.
"""

from __future__ import annotations

import http.client
import re
import sys
import threading
import time

import pytest

from tests.conftest import TOKEN
from tests.e2e.conftest import Stack
from tests.support import Proc, RedisServer, free_port, wait_for

# -vf realtime: the encode takes as long as the clip, so it is running through the whole outage.
REALTIME = {"mode": "custom", "custom_args": "-c:v libx264 -preset ultrafast -vf realtime -an", "container": "mp4"}
OUTAGE = 5.0


@pytest.fixture
def system(tmp_path, clips):
    redis = RedisServer(tmp_path).start()
    stack = Stack(tmp_path, redis, clips["root"])
    from app import create_app

    leader = create_app(
        {
            "FRAME_SHIFT_HOME": str(clips["root"]),
            "DATA_DIR": str(stack.data),
            "REDIS_URL": redis.url,
            "SHARED_TOKEN": TOKEN,
            "TESTING": True,
            "AUTH_DISABLED": True,
        }
    )
    try:
        yield stack, leader.test_client()
    finally:
        stack.stop()
        redis.stop()
        from app.extensions import db

        with leader.app_context():
            db.session.remove()
            db.engine.dispose()


class Tab:
    """A browser tab's EventSource on the real web process: reconnects every 0.2 s, notes each answer."""

    def __init__(self, port: int) -> None:
        self.port, self.answers, self.running = port, [], True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while self.running:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", "/api/stream", headers={"Accept": "text/event-stream"})
                response = conn.getresponse()
                self.answers.append(response.status)
                while self.running and response.status == 200 and response.readline():
                    pass
            except OSError:
                self.answers.append(0)
            finally:
                conn.close()
            time.sleep(0.2)

    def stop(self) -> None:
        self.running = False
        self.thread.join(10)


def start_web(stack: Stack) -> tuple[Proc, int]:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"]
    env = stack.env(HOST="127.0.0.1", PORT=str(port), AUTH_DISABLED="1", WEB_WORKERS="1")
    web = Proc(argv, env, stack.tmp / "web.log").start()
    stack.procs.append(web)

    def healthy() -> bool:
        assert web.alive(), web.output()[-3000:]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    wait_for(healthy, 90, 0.2, what="the web process to answer")
    return web, port


def since(proc, offset: int) -> str:
    return proc.output()[offset:]


def warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.search(r"\bWARNING\b|\bERROR\b|\bCRITICAL\b", line)]


def test_the_outage_filter_keeps_one_line_per_outage_and_other_warnings_whole():
    import logging

    import redis

    from tasks.outage import OUTAGE, QuietRedisOutages

    class Keep(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.records: list[logging.LogRecord] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.records.append(record)

    keep = Keep()
    keep.addFilter(QuietRedisOutages())
    logger = logging.getLogger("test.outage")
    logger.addHandler(keep)
    logger.propagate, logger.level = False, logging.INFO
    OUTAGE.since, OUTAGE.level = None, logging.WARNING
    try:
        down = redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        for retries in range(10, 0, -1):
            try:
                raise down
            except redis.ConnectionError:
                logger.warning("Failed operation _store_result. Retrying %s more times.", retries, exc_info=True)
            logger.error("consumer: Cannot connect to %s: %s.", "redis://127.0.0.1:6379/0", down)
        logger.warning("a real problem: %s", ValueError("bad input"))
        logger.info("Connected to %s", "redis://127.0.0.1:6379/0")
        logger.warning("could not renew: %s", down)  # a new outage
        lines = [(r.levelname, r.getMessage(), r.exc_info) for r in keep.records]
    finally:
        logger.removeHandler(keep)
        OUTAGE.since = None
    assert lines[0] == (
        "WARNING",
        "Redis is unreachable (Error 111 connecting to 127.0.0.1:6379. Connection refused), noticed by "
        "test.outage; retrying quietly, conversions go on, and one line follows when it is back",
        None,
    )
    assert lines[1] == ("WARNING", "a real problem: bad input", None)
    assert lines[2][0] == "INFO" and lines[2][1].startswith("Redis is back after 0 s (Connected to redis://")
    assert lines[3][0] == "WARNING" and lines[3][1].startswith("Redis is unreachable")
    assert len(lines) == 4, lines


def test_a_redis_outage_logs_one_warning_and_one_recovery_line_per_process(system, clips):
    stack, client = system
    worker = stack.start_worker("outage", concurrency=1)
    monitor = stack.start_monitor()
    web, port = start_web(stack)
    tab = Tab(port)
    created = client.post("/api/jobs", json={"inputs": [str(clips["long"])], "spec": REALTIME})
    assert created.status_code == 201, created.get_json()
    job_id = created.get_json()["jobs"][0]["id"]

    def job() -> dict:
        return client.get(f"/api/jobs/{job_id}").get_json()

    wait_for(lambda: job()["status"] == "running" and job()["percent"] > 0, 90, 0.2, what="the encode to run")
    procs = {"worker": worker, "monitor": monitor, "web": web}
    marks = {name: len(proc.output()) for name, proc in procs.items()}
    stack.redis_server.stop()
    time.sleep(OUTAGE)  # the outage itself: this is the duration under test, not a wait for a condition
    during = list(tab.answers)
    stack.redis_server.start()
    wait_for(lambda: tab.answers[-1:] == [200], 30, 0.2, what="the live stream to open again")
    final = wait_for(
        lambda: (lambda d: d if d["status"] in ("succeeded", "failed") else None)(job()),
        120,
        0.5,
        what="the encode to finish after the outage",
    )
    assert final["status"] == "succeeded", final
    tab.stop()
    assert 503 in during, f"the stream did not answer 503 while Redis was down: {during}"
    logs = {name: since(proc, marks[name]) for name, proc in procs.items()}
    for name, text in logs.items():
        assert "Traceback" not in text, f"{name} logged a traceback during the outage:\n{text[-4000:]}"
        found = warnings(text)
        assert len(found) == 1, f"{name} logged {len(found)} warnings for one outage:\n" + "\n".join(found)
        assert "Redis is unreachable" in found[0], found
        back = [line for line in text.splitlines() if "Redis is back after" in line]
        main = [line for line in back if "ForkPoolWorker" not in line]  # a pool process may say it too, at INFO
        assert len(main) == 1, f"{name}: {back}"


def test_a_cancelled_attempt_is_one_info_line_on_the_follower(system, clips):
    stack, client = system
    worker = stack.start_worker("cancels", concurrency=1)
    stack.start_monitor()
    job_id = client.post("/api/jobs", json={"inputs": [str(clips["long"])], "spec": REALTIME}).get_json()["jobs"][0][
        "id"
    ]

    def job() -> dict:
        return client.get(f"/api/jobs/{job_id}").get_json()

    wait_for(lambda: job()["status"] == "running" and job()["percent"] > 0, 90, 0.2, what="the encode to run")
    mark = len(worker.output())
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    wait_for(lambda: job()["status"] == "cancelled", 30, 0.2, what="the job to be cancelled")
    task = job()["task_id"]
    text = wait_for(
        lambda: (lambda t: t if task in t else None)(since(worker, mark)), 30, 0.2, what="the follower to log the end"
    )
    assert "Traceback" not in text, text[-3000:]
    assert warnings(text) == [], warnings(text)
    ended = [line for line in text.splitlines() if task in line and "TranscodeCancelled" in line]
    assert len(ended) == 1 and "INFO" in ended[0], ended
