"""What the monitor's progress batches cost: a job is read and written as little as its figures need (one read of
three columns a batch, none for jobs known running, one UPDATE for the running jobs' due figures), on a real
database and a real Redis (no worker). Split from test_monitor_events.py, whose fixtures and helpers it uses."""

from __future__ import annotations

import time

import pytest

from app.extensions import db, redis_store
from app.models import JobStatus
from app.monitor.events import DB_PROGRESS_INTERVAL
from app.monitor.loop import Monitor
from app.services.transitions import transition
from tasks import keys
from tests.app.test_monitor_events import event, live_messages


@pytest.fixture
def jobs(dispatched_jobs):
    """Three jobs dispatched to w@h (never started), inside an app context."""
    return dispatched_jobs(["short", "other", "long"], "progress-cost")


def test_progress_batches_load_a_job_whole_only_for_its_write_every_interval(app, jobs):
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
    assert (first.status, first.percent, second.percent) == (
        "running",
        10.0,
        5.0,
    )  # the next write is DB_PROGRESS_INTERVAL on
    time.sleep(DB_PROGRESS_INTERVAL + 0.05)
    monitor.events.flush()
    db.session.expire_all()
    assert (first.percent, second.percent, third.status) == (40.0, 20.0, "cancelled")


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
        time.sleep(DB_PROGRESS_INTERVAL + 0.05)
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


def test_reports_that_keep_the_duration_are_written_by_the_one_statement_once_it_is_in_the_row(app, jobs):
    """Fix 43: a follower's reporter keeps every figure it was given, so once the duration is known every report
    carries it (and the argv only the first). The write that puts the duration in the row goes through the Job;
    the later ones are write_plain's UPDATE, with no Job built, and the duration stays as it was written."""
    from sqlalchemy import event as orm_event

    from app.models import Job

    first = jobs[0]
    task_id, job_id = first.task_id, first.id
    monitor = Monitor(app)
    monitor.apply_events([event("task-started", task_id)])
    monitor.apply_events([event("task-progress", task_id, stage="starting", percent=0.0, argv=["ffmpeg", "-i", "x"])])
    time.sleep(DB_PROGRESS_INTERVAL + 0.05)
    monitor.apply_events([event("task-progress", task_id, stage="starting", percent=0.0, duration=30.0)])
    statements, loads = [], []

    def executed(_conn, _cursor, statement, _params, _context, _many):
        if statement.lstrip().upper().startswith("UPDATE JOBS"):
            statements.append("coalesce" in statement.lower())  # write_plain's: a figure absent keeps its value

    def loaded(target, _context, _attrs=None):
        loads.append(target.id)

    orm_event.listen(db.engine, "before_cursor_execute", executed)
    orm_event.listen(Job, "load", loaded)
    orm_event.listen(Job, "refresh", loaded)
    try:
        db.session.expire_all()
        for percent in (10.0, 20.0):
            time.sleep(DB_PROGRESS_INTERVAL + 0.05)
            monitor.apply_events([event("task-progress", task_id, stage="encoding", percent=percent, duration=30.0)])
    finally:
        orm_event.remove(db.engine, "before_cursor_execute", executed)
        orm_event.remove(Job, "load", loaded)
        orm_event.remove(Job, "refresh", loaded)
    assert loads == [], f"a report with the duration already written built the Job: {loads}"
    assert statements == [True, True], statements  # write_plain's UPDATE, once a due report
    job = db.session.get(Job, job_id)
    assert (job.percent, job.duration, job.argv, job.status) == (20.0, 30.0, ["ffmpeg", "-i", "x"], "running")
