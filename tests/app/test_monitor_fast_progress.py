"""Fix 42: a progress report of an attempt the monitor has read running goes live from the event thread, without
waking the loop, and reaches the row at the loop's next write; everything else still goes through the loop, and
no report goes live after a step of the loop ended its attempt. A real database and a real Redis (no worker)."""

from __future__ import annotations

import threading
import time

import pytest

from app.extensions import db, get_celery, redis_store
from app.models import Job, JobStatus
from app.monitor.events import DB_PROGRESS_INTERVAL
from app.monitor.loop import Monitor
from app.services.live import live_message, publish
from app.services.transitions import transition
from tasks import keys
from tasks.reporting import EVENTS
from tests.app.test_monitor_events import event, live_messages
from tests.support import wait_for


@pytest.fixture
def jobs(dispatched_jobs):
    """Three jobs dispatched to w@h (never started), inside an app context."""
    return dispatched_jobs(["short", "other", "long"], "fast-progress")


@pytest.fixture
def pubsub():
    channel = redis_store.client.pubsub(ignore_subscribe_messages=True)
    channel.subscribe(keys.LIVE_CHANNEL)
    channel.get_message(timeout=0.5)
    yield channel
    channel.close()


def running_monitor(app, started: list[Job]) -> Monitor:
    """A monitor that has applied the start and two reports (the first with the argv) of each job, as the loop does:
    after the second, it knows them running. FFmpeg's log has not given the duration yet."""
    monitor = Monitor(app)
    monitor.apply_events(
        [event("task-started", job.task_id) for job in started]
        + [event("task-progress", job.task_id, percent=1.0, argv=["ffmpeg"]) for job in started]
    )
    monitor.apply_events([event("task-progress", job.task_id, percent=2.0) for job in started])
    return monitor


def statements_during(func) -> list[str]:
    from sqlalchemy import event as orm_event

    seen: list[str] = []

    def executed(_conn, _cursor, statement, *_):
        seen.append(statement)

    orm_event.listen(db.engine, "before_cursor_execute", executed)
    try:
        func()
    finally:
        orm_event.remove(db.engine, "before_cursor_execute", executed)
    return seen


def test_a_report_of_an_attempt_read_running_goes_live_from_the_event_thread_and_reaches_the_row_later(
    app, jobs, pubsub
):
    first, second, third = jobs
    monitor = running_monitor(app, [first, second])
    live_messages(pubsub)  # what the loop published so far
    first_id, first_task = first.id, first.task_id
    published: list[dict] = []

    # The monitor's own event thread, and the report sent as a follower's reporter sends it (tasks/reporting.py).
    monitor.start_threads()
    assert monitor.ready.wait(10)
    try:
        deadline = time.monotonic() + 10
        with get_celery().connection_for_write() as connection:
            worker = get_celery().events.Dispatcher(connection, hostname="w@h", enabled=True)
            while monitor.inbox.empty():  # until it has subscribed: the follower's heartbeat reaches the loop
                assert time.monotonic() < deadline, "the event thread never subscribed"
                worker.send("worker-heartbeat", freq=2.0, active=1, processed=0)
                time.sleep(0.2)
        time.sleep(0.2)  # its other subscriptions (the reports' exchange: fix 51) are made in the same pass
        monitor.apply([monitor.inbox.get_nowait() for _ in range(monitor.inbox.qsize())])
        statements = statements_during(
            lambda: (
                EVENTS.send(get_celery(), "w@h", "task-progress", uuid=first_task, percent=30.0, duration=30.0),
                wait_for(lambda: published.extend(live_messages(pubsub)) or published, 5, what="the report live"),
            )
        )
    finally:
        monitor.stopping.set()
        EVENTS.drop_all()
    assert statements == [], statements  # no read, no write
    assert monitor.inbox.empty(), "the loop was woken for a report it need not see"
    assert [(m["type"], m["id"], m["percent"], m["status"]) for m in published] == [
        ("progress", first_id, 30.0, "running")
    ]
    db.session.expire_all()
    assert db.session.get(Job, first_id).percent < 30.0  # the row waits for the loop's next write
    time.sleep(DB_PROGRESS_INTERVAL + 0.05)
    monitor.events.flush()
    db.session.expire_all()
    row = db.session.get(Job, first_id)
    assert (row.percent, row.duration) == (30.0, 30.0)  # the duration the row lacked, too

    # What the loop must see goes to its inbox, in order: an attempt it has not read running (the third never started),
    # a report with the argv (written at once), a follower it does not know.
    for leftover in (
        event("task-progress", third.task_id, percent=5.0),
        event("task-progress", second.task_id, percent=6.0, argv=["ffmpeg", "-other"]),
        {**event("task-progress", second.task_id, percent=7.0), "hostname": "stranger@h"},
    ):
        monitor.take_event(leftover)
    taken = [monitor.inbox.get_nowait() for _ in range(monitor.inbox.qsize())]
    assert [item["percent"] for kind, item in taken if kind == "event"] == [5.0, 6.0, 7.0]
    assert live_messages(pubsub) == []
    # While the loop has not applied all the event thread gave it, no report overtakes them: to the inbox too.
    monitor.take_event(event("task-progress", first_task, percent=40.0))
    assert monitor.inbox.qsize() == 1 and live_messages(pubsub) == []
    monitor.apply(taken + [monitor.inbox.get_nowait()])
    monitor.take_event(event("task-progress", first_task, percent=50.0))
    assert monitor.inbox.empty(), "after the loop caught up, reports go live from the event thread again"
    assert [m["percent"] for m in live_messages(pubsub) if m["id"] == first_id] == [40.0, 50.0]  # in order


def test_no_report_goes_live_after_a_step_of_the_loop_ended_its_attempt(app, jobs, pubsub):
    """The reaper, the cancel enforcer, the sweep and a reconcile end attempts holding the handler's lock, and forget
    the running attempts before they let it go: a report that arrives meanwhile waits, then goes to the loop, which
    finds the job ended and shows nothing of it."""
    first, second, _third = jobs
    monitor = running_monitor(app, [first, second])
    live_messages(pubsub)
    first_id, first_task = first.id, first.task_id
    done = threading.Event()

    def event_thread() -> None:
        monitor.take_event(event("task-progress", first_task, percent=60.0))
        done.set()

    with monitor.events.lock:  # as Monitor.housekeep holds it around the reaper and the cancel enforcer
        waiting = threading.Thread(target=event_thread)
        waiting.start()
        assert not done.wait(0.3), "the report went live while the loop was ending attempts"
        transition(first, JobStatus.FAILED, error="follower w@h crashed (its connection to Redis closed)")
        db.session.commit()
        publish(live_message(first))
        monitor.events.forget_running()
    waiting.join(5)
    assert done.is_set()
    assert [(m["type"], m["status"]) for m in live_messages(pubsub) if m["id"] == first_id] == [("job", "failed")]
    kind, item = monitor.inbox.get_nowait()  # the loop's to apply
    assert (kind, item["percent"]) == ("event", 60.0)
    monitor.apply([(kind, item)])
    assert [m for m in live_messages(pubsub) if m["id"] == first_id] == []  # the ended job's report is not shown
    db.session.expire_all()
    assert db.session.get(Job, first_id).status == "failed"
