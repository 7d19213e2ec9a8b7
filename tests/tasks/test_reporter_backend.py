"""A pool process builds one result backend, not one per attempt (fix 28, docs/benchmarks.md "Lean").

Celery keeps the result backend per thread, and each attempt's progress sender is a new thread: each attempt used
to build a backend (a connection pool, a connection, its driver's version read from the installed packages).
Real Celery app, real Redis: two attempts report progress from their sender threads; no backend is built, and
the PROGRESS state each stored is in Redis."""

from __future__ import annotations

import time

import redis
from celery.backends import redis as redis_backend

from tasks.celery_app import create_celery
from tasks.reporting import EVENTS, Reporter


def test_the_sender_threads_use_the_task_threads_backend(redis_server, monkeypatch):
    app = create_celery(set_as_current=False)
    app.conf.update(broker_url=redis_server.url, result_backend=redis_server.url, task_send_sent_event=False)

    @app.task(bind=True, name="frameshift.test_report")
    def work(self):
        return None

    built = []
    real_init = redis_backend.RedisBackend.__init__

    def counting_init(self, *args, **kwargs):
        built.append(self)
        real_init(self, *args, **kwargs)

    client = redis.Redis.from_url(redis_server.url)
    task = app.tasks["frameshift.test_report"]
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
