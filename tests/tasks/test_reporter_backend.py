"""A pool process builds one result backend, not one per attempt (fix 28, docs/benchmarks.md "Lean").

Celery keeps the result backend per thread, and each attempt's progress sender is a new thread: each attempt used
to build a backend (a connection pool, a connection, its driver's version read from the installed packages).
Real Celery app, real Redis: two attempts report progress from their sender threads; no backend is built, and
the PROGRESS state each stored is in Redis."""

from __future__ import annotations

import time

import redis
from celery.backends import redis as redis_backend

from tasks import keys, reporting
from tasks.celery_app import create_celery
from tasks.reporting import EVENTS, Reporter


def celery_task(redis_server):
    app = create_celery(set_as_current=False)
    app.conf.update(broker_url=redis_server.url, result_backend=redis_server.url, task_send_sent_event=False)

    @app.task(bind=True, name="frameshift.test_report")
    def work(self):
        return None

    return app.tasks["frameshift.test_report"]


def test_the_sender_threads_use_the_task_threads_backend(redis_server, monkeypatch):
    monkeypatch.setattr(reporting, "STATE_EVERY", 0.0)  # the state with every report: the backend is the subject here
    task = celery_task(redis_server)
    built = []
    real_init = redis_backend.RedisBackend.__init__

    def counting_init(self, *args, **kwargs):
        built.append(self)
        real_init(self, *args, **kwargs)

    client = redis.Redis.from_url(redis_server.url)
    assert task.backend is not None  # the task thread's own, made before the attempts (as a pool process's first task)
    monkeypatch.setattr(redis_backend.RedisBackend, "__init__", counting_init)
    try:
        for task_id in ("attempt-1", "attempt-2"):
            task.push_request(id=task_id, hostname="w@test")
            try:
                reporter = Reporter(task, lambda: client, interval=0.02, lease_seconds=30)
                for percent in range(4):
                    reporter({"stage": "encoding", "percent": float(percent * 10)})
                    time.sleep(0.03)
                reporter.close()
            finally:
                task.pop_request()
        assert built == [], "a sender thread built its own result backend"
        for task_id in ("attempt-1", "attempt-2"):
            meta = task.backend.get_task_meta(task_id)
            assert meta["status"] == "PROGRESS" and meta["result"]["percent"] == 30.0, meta
    finally:
        EVENTS.drop_all()
        client.close()


def test_the_state_is_stored_once_a_second_and_the_event_goes_with_every_report(redis_server, monkeypatch):
    """Fix 32: the PROGRESS state (a GET, then a SETEX and a PUBLISH: Celery's store_result) is stored at most once
    a second and at once for the first stages; the event the leader's live view runs on goes with every report.
    Real Celery app and Redis: reports every 0.05 s for 2.3 s."""
    task = celery_task(redis_server)
    stored: list[tuple[float, dict]] = []
    real_store = task.backend.store_result

    def store_result(task_id, meta, state, **kwargs):
        stored.append((time.monotonic(), dict(meta)))
        return real_store(task_id, meta, state, **kwargs)

    events: list[dict] = []
    real_send = EVENTS.send
    monkeypatch.setattr(task.backend, "store_result", store_result)
    monkeypatch.setattr(
        EVENTS, "send", lambda app, host, kind, **fields: events.append(fields) or real_send(app, host, kind, **fields)
    )
    client = redis.Redis.from_url(redis_server.url)
    task.push_request(id="attempt-rate", hostname="w@test")
    try:
        reporter = Reporter(task, lambda: client, interval=0.05, lease_seconds=30)
        reporter({"stage": "starting", "percent": 0.0})
        time.sleep(0.05)
        reporter({"stage": "started", "percent": 0.0})
        time.sleep(0.05)
        began = time.monotonic()
        percent = 0.0
        while time.monotonic() - began < 2.3:
            percent += 1.0
            reporter({"stage": "encoding", "percent": percent})
            time.sleep(0.05)
        reporter.close()
    finally:
        task.pop_request()
        EVENTS.drop_all()
        client.close()
    assert len(events) >= 25, f"an event with every report: {len(events)}"
    assert [meta["stage"] for _, meta in stored[:2]] == ["starting", "started"], stored
    encoding = [(at, meta) for at, meta in stored if meta["stage"] == "encoding"]
    assert 2 <= len(encoding) <= 3, [meta["percent"] for _, meta in encoding]  # at ~1.0 and ~2.0 s after the first
    times = [at for at, _ in stored[1:]]
    assert all(later - earlier >= reporting.STATE_EVERY - 0.01 for earlier, later in zip(times, times[1:]))
    meta = task.backend.get_task_meta("attempt-rate")
    assert meta["status"] == "PROGRESS" and meta["result"]["percent"] == encoding[-1][1]["percent"] > 10, meta


def test_the_event_sender_keeps_one_redis_client_and_every_event_arrives(redis_server, monkeypatch):
    """Fix 41: kombu's Redis channel built a new redis.Redis for every fanout publish. The sender's channel keeps
    one: twenty reports build no client, and a real subscriber on the events channel receives all twenty, in
    order, as Celery's event receiver reads them."""
    task = celery_task(redis_server)
    listener = redis.Redis.from_url(redis_server.url)
    pubsub = listener.pubsub()
    pubsub.psubscribe(f"/0.{keys.PROGRESS_EXCHANGE}/task.progress")  # the reports' own exchange (fix 51)
    assert pubsub.get_message(timeout=2)["type"] == "psubscribe"
    EVENTS.send(task.app, "w@test", "task-progress", uuid="warm", percent=0.0)  # the dispatcher and its client
    built = []
    real_init = redis.Redis.__init__

    def counting_init(self, *args, **kwargs):
        built.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting_init)
    try:
        for number in range(20):
            EVENTS.send(task.app, "w@test", "task-progress", uuid="attempt-keep", percent=float(number))
    finally:
        monkeypatch.undo()
        EVENTS.drop_all()
    assert built == [], f"{len(built)} redis clients built for 20 events"
    got = []
    deadline = time.monotonic() + 5
    while len(got) < 21 and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.5)
        if message and message["type"] == "pmessage":
            got.append(message["data"])
    pubsub.close()
    listener.close()
    events = [task.app.events.Receiver(None).event_from_message(_decoded(raw))[1] for raw in got]
    assert [e["percent"] for e in events if e["uuid"] == "attempt-keep"] == [float(n) for n in range(20)]
    assert all(e["type"] == "task-progress" and e["hostname"] == "w@test" for e in events)


def _decoded(raw: bytes) -> dict:
    """The event body of one message on the events channel, as kombu's Redis transport wrote it."""
    import base64
    import json

    envelope = json.loads(raw)
    body = envelope["body"]
    if envelope["properties"].get("body_encoding") == "base64":
        body = base64.b64decode(body)
    return json.loads(body)
