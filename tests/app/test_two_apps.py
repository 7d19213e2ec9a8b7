"""Two leader apps in one process, each on its own real redis-server: nothing is process-wide.

Each app's Celery (sending, control broadcasts, result reads) and Redis client reach only its own server,
and a stopped server of one app never slows a call of the other (CI once hung 300 s in a revoke through a
process-wide producer pool that still pointed at another test's stopped Redis)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from app.extensions import db, get_celery, redis_store
from tests.conftest import TOKEN
from tests.recorder import Recorder
from tests.support import RedisServer, wait_for

QUEUE = "two-apps-probe"


@pytest.fixture
def two(tmp_path, clips):
    """Two apps, a and b, each with its own redis-server (its raw client alongside), created one after the other."""
    from app import create_app

    built = {}
    for name in ("a", "b"):
        server = RedisServer(tmp_path / f"redis-{name}")
        (tmp_path / f"redis-{name}").mkdir()
        server.start()
        flask_app = create_app(
            {
                "FRAME_SHIFT_HOME": str(clips["root"]),
                "DATA_DIR": str(tmp_path / f"data-{name}"),
                "REDIS_URL": server.url,
                "SHARED_TOKEN": TOKEN,
                "TESTING": True,
                "AUTH_DISABLED": True,
            }
        )
        built[name] = (flask_app, server, redis.Redis.from_url(server.url))
    yield built
    for flask_app, server, raw in built.values():
        with flask_app.app_context():
            db.session.remove()
            db.engine.dispose()
        raw.close()
        server.stop()


def test_each_apps_redis_client_reaches_only_its_own_server(two):
    for name, (_, _, raw) in two.items():
        raw.set("two-apps:who", name)
    for name, (flask_app, _, _raw) in two.items():
        with flask_app.app_context():
            assert redis_store.client.get("two-apps:who") == name.encode()
            redis_store.client.set(f"two-apps:written-by-{name}", "1")
        assert redis_store.client_for(flask_app).get("two-apps:who") == name.encode()
    (_, _, raw_a), (_, _, raw_b) = two["a"], two["b"]
    assert raw_a.exists("two-apps:written-by-a") and not raw_a.exists("two-apps:written-by-b")
    assert raw_b.exists("two-apps:written-by-b") and not raw_b.exists("two-apps:written-by-a")


def test_outside_an_app_context_there_is_no_fallback_client(two):
    with pytest.raises(RuntimeError, match="application context"):
        redis_store.client  # noqa: B018  (the property is the call under test)


def test_each_apps_celery_sends_to_and_reads_results_from_its_own_server(two):
    assert get_celery(two["a"][0]) is not get_celery(two["b"][0])
    for name, (flask_app, _, _) in two.items():
        get_celery(flask_app).send_task("transcode.run", args=[{"sent_by": name}], queue=QUEUE)
    for name, (_, _, raw) in two.items():
        messages = [json.loads(m) for m in raw.lrange(QUEUE, 0, -1)]
        assert len(messages) == 1 and name in json.dumps(messages[0]), messages
    # One task id whose stored result differs per server: each app's backend reads its own.
    task_id = f"two-apps-{time.time_ns()}"
    for name, (_, _, raw) in two.items():
        meta = {"status": "SUCCESS", "result": f"from {name}", "traceback": None, "children": [], "task_id": task_id}
        raw.set(f"celery-task-meta-{task_id}", json.dumps(meta))
    for name, (flask_app, _, _) in two.items():
        result = get_celery(flask_app).AsyncResult(task_id)
        assert (result.state, result.result) == ("SUCCESS", f"from {name}")


def test_each_apps_control_broadcast_goes_to_its_own_server(two):
    listeners = {}
    for name, (_, _, raw) in two.items():
        pubsub = raw.pubsub(ignore_subscribe_messages=True)
        pubsub.psubscribe("*pidbox*")  # kombu's fanout exchange for remote control is a Redis channel
        listeners[name] = pubsub
    try:
        for sender in ("a", "b"):
            get_celery(two[sender][0]).control.broadcast("ping", reply=False)
            own = listeners[sender]
            heard = wait_for(lambda own=own: own.get_message(timeout=0.2), 10, 0.1, what="the broadcast")
            assert heard["type"] == "pmessage"
            other = "b" if sender == "a" else "a"
            assert listeners[other].get_message(timeout=0.5) is None, f"{other}'s server heard {sender}'s broadcast"
    finally:
        for pubsub in listeners.values():
            pubsub.close()


def test_a_stopped_server_of_one_app_never_slows_the_other(two):
    (app_a, _, raw_a), (app_b, server_b, _) = two["a"], two["b"]
    # Both apps have used their pools (connections open) before b's server goes away.
    for flask_app in (app_a, app_b):
        with flask_app.app_context():
            get_celery().send_task("transcode.run", args=[{}], queue=QUEUE)
            get_celery().control.broadcast("ping", reply=False)
            redis_store.client.ping()
    server_b.stop()

    def calls_of_a() -> float:
        started = time.monotonic()
        with app_a.app_context():
            celery = get_celery()
            celery.send_task("transcode.run", args=[{"after": "stop"}], queue=QUEUE)
            celery.control.revoke("two-apps-nothing", terminate=True, signal="SIGTERM")
            assert celery.AsyncResult("two-apps-unknown").state == "PENDING"
            assert redis_store.client.ping()
        return time.monotonic() - started

    with ThreadPoolExecutor(max_workers=1) as pool:
        took = pool.submit(calls_of_a).result(timeout=60)  # the old shared pool hung for 300 s here
    assert took < 5.0, f"app a's calls took {took:.1f} s after b's Redis stopped"
    assert [b"after" in message for message in raw_a.lrange(QUEUE, 0, -1)] == [True, False]  # newest first


def test_two_apps_in_one_process_do_not_cross_notify(two):
    """Each app sends the jobs its own session ended to its own targets; a session that is no app's (a script's or
    a test's own, on b's database while a's context is pushed) notifies nobody: no global listener picks it up."""
    from sqlalchemy.orm import Session

    from app.models import Job, JobStatus
    from app.services import notify
    from app.services.transitions import transition

    with Recorder() as hook_a, Recorder() as hook_b:
        hooks = {"a": hook_a, "b": hook_b}
        job_ids = {}
        for name, (flask_app, _, _) in two.items():
            with flask_app.app_context():
                notify.update_notification_settings(urls=[f"json://127.0.0.1:{hooks[name].port}/{name}"])
            client = flask_app.test_client()
            created = client.post("/api/jobs", json={"inputs": ["short clip.mp4", "other.mp4"]}).get_json()["jobs"]
            job_ids[name] = [job["id"] for job in created]
        # a's context outside, b's inside: each commit belongs to the app in context.
        with two["a"][0].app_context():
            end(job_ids["a"][0], "ffmpeg exited with code 1: from a")
            with two["b"][0].app_context():
                end(job_ids["b"][1], "ffmpeg exited with code 1: from b")
            notify.drain()  # sent before b's batch completes below (else it would also say the batch finished)
            # b's first job (the same id as a's failed one) ended by a session that is no app's.
            with Session(_engine(two["b"][0])) as foreign:
                job = foreign.get(Job, job_ids["b"][0])
                transition(job, JobStatus.DISPATCHED)
                transition(job, JobStatus.FAILED, error="ended outside any app")
                foreign.commit()
        notify.drain()
        for name, hook in hooks.items():
            bodies = [json.loads(body) for body in hook.bodies()]
            clip = {"a": "short clip.mp4", "b": "other.mp4"}[name]
            assert [(m["title"], m["message"]) for m in bodies] == [
                (f"Frame Shift: job failed: {clip}", f"ffmpeg exited with code 1: from {name}")
            ], name


def _engine(flask_app):
    with flask_app.app_context():
        return db.engine


def end(job_id: int, error: str) -> None:
    """Fail a job the way the monitor does: through the transition service on this app's session, then commit."""
    from app.models import Job, JobStatus
    from app.services.transitions import transition

    job = db.session.get(Job, job_id)
    transition(job, JobStatus.DISPATCHED)
    transition(job, JobStatus.FAILED, error=error)
    db.session.commit()
