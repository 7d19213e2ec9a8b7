"""The monitor's event batches on a real database and a real Redis (no worker): one transaction per batch,
and one bad event loses no other."""

from __future__ import annotations

import time

import pytest

from app.extensions import db, get_celery, redis_store
from app.models import JobStatus
from app.monitor.loop import Monitor
from app.services.live import live_message, progress_message, unpack
from app.services.transitions import transition
from tasks import keys
from tasks.errors import TranscodeError


@pytest.fixture
def jobs(dispatched_jobs):
    """Three jobs dispatched to w@h (never started), inside an app context."""
    return dispatched_jobs(["short", "other", "long"], "events-test")


def event(kind: str, task_id: str, **fields) -> dict:
    return {"type": kind, "uuid": task_id, "hostname": "w@h", "timestamp": time.time(), **fields}


def succeeded(task_id: str) -> dict:
    get_celery().backend.store_result(task_id, {"output": None, "output_size": 123, "exit_code": 0}, "SUCCESS")
    return event("task-succeeded", task_id)


def live_messages(pubsub) -> list[dict]:
    found = []
    while message := pubsub.get_message(timeout=0.5):
        found.extend(unpack(message["data"]))
    return found


def test_a_batch_applies_every_event_and_publishes_after_its_commit(app, jobs):
    first, second, third = jobs
    monitor = Monitor(app)
    pubsub = redis_store.client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.LIVE_CHANNEL)
    pubsub.get_message(timeout=0.5)
    monitor.apply_events(
        [
            event("task-started", first.task_id),
            event("task-progress", first.task_id, percent=50.0, argv=["ffmpeg", "-i", "x"]),
            succeeded(first.task_id),
            event("task-started", second.task_id),
            event("task-progress", "an-attempt-nobody-knows", percent=10.0),
        ]
    )
    db.session.expire_all()
    assert first.status == "succeeded" and first.output_size == 123 and first.argv == ["ffmpeg", "-i", "x"]
    assert first.attempts[0].status == "succeeded"
    assert second.status == "running" and second.attempts[0].status == "running"
    assert third.status == "dispatched"
    published = live_messages(pubsub)
    assert [(m["type"], m["id"], m["status"]) for m in published] == [
        ("job", first.id, "running"),
        ("progress", first.id, "running"),
        ("job", first.id, "succeeded"),
        ("job", second.id, "running"),
    ]


def test_one_bad_event_loses_no_other_in_its_batch(app, jobs):
    first, second, third = jobs
    transition(second, JobStatus.QUEUED, attempt_outcome="abandoned")
    second.task_id = "left-behind-" + first.task_id  # inconsistent on purpose: queued, yet 'succeeding'
    db.session.commit()
    monitor = Monitor(app)
    monitor.apply_events([succeeded(first.task_id), succeeded(second.task_id), succeeded(third.task_id)])
    db.session.expire_all()
    assert first.status == "succeeded" and third.status == "succeeded"
    assert second.status == "queued"  # its event failed (queued -> succeeded is refused) and changed nothing


def test_an_event_of_an_attempt_the_job_moved_on_from_is_ignored(app, jobs):
    first = jobs[0]
    monitor = Monitor(app)
    old = first.task_id
    monitor.events.jobs_by_task[old] = first.id  # as the dispatcher left it
    transition(first, JobStatus.QUEUED, attempt_outcome="abandoned")
    db.session.commit()
    monitor.apply_events([succeeded(old)])
    db.session.expire_all()
    assert first.status == "queued" and old not in monitor.events.jobs_by_task


def test_results_read_in_one_round_trip_match_async_result(app, jobs):
    monitor = Monitor(app)
    celery_app = get_celery(app)
    ok, failed, pending = (job.task_id for job in jobs)
    celery_app.backend.store_result(ok, {"output_size": 1}, "SUCCESS")
    celery_app.backend.mark_as_failure(failed, TranscodeError("ffmpeg exited with 1", exit_code=1, log_tail=["x"]))
    results = monitor.events.fetch_results([ok, failed, pending])
    for task_id in (ok, failed, pending):
        expected = celery_app.AsyncResult(task_id)
        state, value = results[task_id]
        assert state == expected.state
        assert type(value) is type(expected.result) and str(value) == str(expected.result)
    assert results[failed][1].exit_code == 1


def test_the_live_message_is_the_queue_rows_fields(app, jobs):
    job = jobs[0]
    job.percent, job.waiting_reason = 12.3456, "waiting for a free follower slot"
    row = job.to_dict()
    message = live_message(job)
    assert message.pop("type") == "job"
    assert message == {key: row[key] for key in message}, "the live message disagrees with the job's own fields"
    assert set(message) >= {"id", "status", "percent", "follower", "error", "waiting_reason", "position"}


def test_the_progress_message_carries_the_events_figures(app):
    figures = {"percent": 50.0, "fps": 24.0, "speed": 1.5, "eta": 10.0, "out_size": 1234, "argv": ["ffmpeg"]}
    message = progress_message(7, "w@h", 1.0, figures)
    assert message == {
        "type": "progress",
        "id": 7,
        "status": "running",
        "follower": "w@h",
        "ts": 1.0,
        "percent": 50.0,
        "fps": 24.0,
        "speed": 1.5,
        "eta": 10.0,
        "out_size": 1234,
    }


def test_the_sweep_settles_a_missed_end_and_builds_only_the_jobs_that_ended(app, jobs):
    """The sweep (every 3 s) finds attempts whose final event was lost: it reads two columns of every active
    job and builds a Job only for those whose result is final; a running or silent attempt is left alone."""
    from sqlalchemy import event as orm_event

    from app.models import Job
    from app.monitor.reconcile import sweep

    first, second, third = jobs
    ids = [job.id for job in jobs]
    succeeded(first.task_id)  # its end is in the backend; its event never came
    get_celery().backend.store_result(second.task_id, {"percent": 40.0}, "PROGRESS")
    loads = []

    def loaded(target, _context, _attrs=None):
        loads.append(target.id)

    orm_event.listen(Job, "load", loaded)
    orm_event.listen(Job, "refresh", loaded)
    try:
        db.session.expire_all()
        settled = sweep(get_celery())
        again = sweep(get_celery())
    finally:
        orm_event.remove(Job, "load", loaded)
        orm_event.remove(Job, "refresh", loaded)
    assert (settled, again) == (1, 0)
    assert loads == [ids[0]], loads
    db.session.expire_all()
    assert [db.session.get(Job, i).status for i in ids] == ["succeeded", "dispatched", "dispatched"]
    assert db.session.get(Job, ids[0]).output_size == 123
