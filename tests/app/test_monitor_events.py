"""The monitor's event batches on a real database and a real Redis (no worker): one transaction per batch,
and one bad event loses no other."""

from __future__ import annotations

import json
import time

import pytest

from app.extensions import db, get_celery, redis_store
from app.models import JobStatus
from app.monitor.loop import Monitor
from app.services.live import live_message, progress_message
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
        found.append(json.loads(message["data"]))
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


def test_progress_batches_load_a_job_whole_only_for_its_write_once_a_second(app, jobs):
    """Progress alone changes no status: its batches read three columns, and build a Job (with its many
    columns) only when the row is due for a write; an ended job's late progress is ignored, as before."""
    from sqlalchemy import event as orm_event

    from app.models import Job

    first, second, third = jobs
    transition(third, JobStatus.CANCELLED, error="cancelled by user")
    db.session.commit()
    monitor = Monitor(app)
    pubsub = redis_store.client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.LIVE_CHANNEL)
    pubsub.get_message(timeout=0.5)
    tasks = [(job.id, job.task_id) for job in jobs]  # read now: touching an expired job below would load it
    loads = []

    def loaded(target, _context, _attrs=None):
        loads.append(target.id)

    orm_event.listen(Job, "load", loaded)
    orm_event.listen(Job, "refresh", loaded)  # an expired Job in the session is filled again from a row
    try:
        db.session.expire_all()
        for percent in (10.0, 20.0, 30.0, 40.0):
            monitor.apply_events(
                [
                    event("task-progress", task_id, percent=percent / (2 if i == 1 else 1))
                    for i, (_, task_id) in enumerate(tasks)
                ]
            )
    finally:
        orm_event.remove(Job, "load", loaded)
        orm_event.remove(Job, "refresh", loaded)
    (first_id, _), (second_id, _), (third_id, _) = tasks
    assert sorted(loads) == [first_id, second_id], loads  # one write each (the first); not one a batch
    published = [(m["type"], m["id"], m["percent"]) for m in live_messages(pubsub)]
    assert [m for m in published if m[1] == first_id] == [("progress", first_id, p) for p in (10.0, 20.0, 30.0, 40.0)]
    assert not [m for m in published if m[1] == third_id]  # ended: its late progress is not shown
    db.session.expire_all()
    assert (first.status, first.percent, second.percent) == ("running", 10.0, 5.0)  # the next write is a second on
    time.sleep(1.05)
    monitor.events.flush()
    db.session.expire_all()
    assert (first.percent, second.percent, third.status) == (40.0, 20.0, "cancelled")


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


def test_running_jobs_progress_is_one_statement_for_the_batch_and_never_touches_an_ended_job(app, jobs):
    """Once a job runs (and its first report, with the argv, went through the Job), due progress is written by
    one UPDATE for all the running jobs of a batch, with no Job built; the status and the task id are checked
    by that statement, so a job the web ended after the monitor last looked keeps its row; a figure not in a
    report keeps its value."""
    from sqlalchemy import event as orm_event

    from app.models import Job

    first, second, third = jobs
    monitor = Monitor(app)
    monitor.apply_events(
        [event("task-started", job.task_id) for job in jobs]
        + [event("task-progress", job.task_id, percent=1.0, fps=24.0, argv=["ffmpeg", "-i", "x"]) for job in jobs]
    )
    tasks = [(job.id, job.task_id) for job in jobs]
    third_id = third.id
    monitor.apply_events([event("task-progress", task_id, percent=2.0) for _, task_id in tasks])  # not due yet
    # "The web" cancels the third now: the monitor last saw it running, and its 2 % waits to be written.
    db.session.execute(db.update(Job).where(Job.id == third_id).values(status="cancelled"))
    db.session.commit()
    statements, loads = [], []

    def executed(_conn, _cursor, statement, params, _context, many):
        if statement.lstrip().upper().startswith("UPDATE JOBS"):
            statements.append((many, len(params) if many else 1))

    def loaded(target, _context, _attrs=None):
        loads.append(target.id)

    engine = db.engine
    orm_event.listen(engine, "before_cursor_execute", executed)
    orm_event.listen(Job, "load", loaded)
    orm_event.listen(Job, "refresh", loaded)
    try:
        db.session.expire_all()
        time.sleep(1.05)
        monitor.apply_events([event("task-progress", task_id, percent=60.0) for _, task_id in tasks[:2]])
        monitor.events.flush()  # the third's 2 %, due now: by the same statement, which finds it ended
    finally:
        orm_event.remove(engine, "before_cursor_execute", executed)
        orm_event.remove(Job, "load", loaded)
        orm_event.remove(Job, "refresh", loaded)
    assert statements == [(True, 2), (False, 1)], statements  # one executemany for the batch's two due jobs, then one
    assert loads == [], loads
    db.session.expire_all()
    assert (first.percent, second.percent, first.fps) == (60.0, 60.0, 24.0)  # fps kept: not in the report
    assert first.progress_at is not None and first.status == "running"
    assert (third.status, third.percent) == ("cancelled", 1.0), "an ended job's row was written"


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


def test_progress_of_jobs_read_running_is_not_read_again_until_a_step_ends_one(app, jobs):
    """Fix 18: a progress batch whose jobs the monitor last read as running reads nothing (only the monitor ends
    a running job); once a step of its own (here the cancel enforcer, at the tick's housekeeping) ended one, the
    next batch reads the statuses again and the ended job's report is neither published nor written."""
    from datetime import timedelta

    from sqlalchemy import event as orm_event

    from app.models import Job, utcnow

    monitor = Monitor(app)
    monitor.apply_events(
        [event("task-started", job.task_id) for job in jobs]
        + [event("task-progress", job.task_id, percent=1.0, argv=["ffmpeg", "-i", "x"]) for job in jobs]
    )
    tasks = [(job.id, job.task_id) for job in jobs]
    monitor.apply_events([event("task-progress", task_id, percent=2.0) for _, task_id in tasks])  # reads: running
    reads = []

    def executed(_conn, _cursor, statement, _params, _context, _many):
        if statement.lstrip().upper().startswith("SELECT") and "FROM JOBS" in statement.upper():
            reads.append(statement)

    orm_event.listen(db.engine, "before_cursor_execute", executed)
    try:
        monitor.apply_events([event("task-progress", task_id, percent=3.0) for _, task_id in tasks])
        assert reads == [], reads
        # The person cancelled the third long ago and its follower never confirmed: the enforcer ends it.
        third_id, third_task = tasks[2]
        db.session.execute(
            db.update(Job).where(Job.id == third_id).values(cancel_requested_at=utcnow() - timedelta(seconds=60))
        )
        db.session.commit()
        monitor._last_housekeeping = 0.0  # the housekeeping is due
        monitor._last_sweep = time.monotonic()  # the sweep (and its prune of ended jobs) is not
        monitor.tick()
        pubsub = redis_store.client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(keys.LIVE_CHANNEL)
        pubsub.get_message(timeout=0.5)
        reads.clear()
        monitor.apply_events([event("task-progress", task_id, percent=4.0) for _, task_id in tasks])
        assert len(reads) == 1, reads  # the statuses read again, once for the batch
    finally:
        orm_event.remove(db.engine, "before_cursor_execute", executed)
    published = {m["id"] for m in live_messages(pubsub) if m.get("type") == "progress"}
    assert third_id not in published and {tasks[0][0], tasks[1][0]} <= published, published
    db.session.expire_all()
    third = db.session.get(Job, third_id)
    assert third.status == "cancelled" and third.percent < 4.0
