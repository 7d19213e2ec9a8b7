"""Schedules in the dispatcher, on a real database and a real Redis (no follower process: a registered one
with free slots receives the messages in its queue). The clock is injected; nothing sleeps for hours."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from sqlalchemy import event

from app.extensions import db, get_celery
from app.models.piece import Piece
from app.monitor import schedule_gate
from app.monitor.dispatcher import dispatch_ready
from app.monitor.registry import FollowerState, Registry
from app.monitor.split_dispatch import dispatch_split
from app.services.jobs import create_jobs
from app.services.split_jobs import start_split

pytestmark = pytest.mark.both_databases

# 2026-11-30 is a Monday. The library runs Mon-Fri 01:00-06:00.
NIGHTS = [(day < 5 and 1 <= hour < 6) for day in range(7) for hour in range(24)]
MONDAY_MORNING = datetime(2026, 11, 30, 6, 30)
TUESDAY_NIGHT = datetime(2026, 12, 1, 1, 0)
HELD = "waiting: library 'Films' runs Mon-Fri 01:00-06:00; next at Tue 01:00"


@pytest.fixture
def films(app, client, clips):
    """A library 'Films' (Mon-Fri 01:00-06:00, off: no monitor scans it here), in an app context."""
    response = client.post(
        "/api/libraries", json={"name": "Films", "folder": str(clips["root"]), "schedule": NIGHTS, "enabled": False}
    )
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        schedule_gate.forget()
        yield response.get_json()["id"]


def registry(slots: int) -> Registry:
    """One trusted follower w@h, online, with free slots."""
    reg = Registry(lost_after=60)
    reg.followers["w@h"] = FollowerState(
        name="w@h", concurrency=slots, encoders=["libx264", "libx265"], last_seen=time.time() + 3600, token="ok"
    )
    return reg


def reloaded() -> None:
    """Read every row again (what the dispatcher committed)."""
    db.session.expire_all()


def test_a_library_job_outside_its_hours_waits_while_a_hand_picked_job_runs(app, films, clips):
    held = create_jobs([str(clips["short"])], {"extra": {"library": films}})[0]  # first in the queue
    picked = create_jobs([str(clips["other"])], {})[0]
    # Free notes from the API that only look like a library: no library's, and no broken query either.
    noted = create_jobs([str(clips["long"])], {"extra": {"library": "not a number"}})[0]
    follower = registry(slots=3)
    sent: dict[str, int] = {}
    assert dispatch_ready(get_celery(app), follower, sent, now=MONDAY_MORNING) == 2
    reloaded()
    assert picked.status == "dispatched" and picked.follower == "w@h" and noted.status == "dispatched"
    assert sent == {picked.task_id: picked.id, noted.task_id: noted.id}
    assert held.status == "queued" and held.waiting_reason == HELD
    # Still outside the hours: the next rounds neither send it nor change its reason.
    assert dispatch_ready(get_celery(app), follower, sent, now=MONDAY_MORNING.replace(hour=23)) == 0
    reloaded()
    assert held.status == "queued"
    # Tuesday 01:00: its hours have come.
    assert dispatch_ready(get_celery(app), follower, sent, now=TUESDAY_NIGHT) == 1
    reloaded()
    assert held.status == "dispatched" and held.waiting_reason is None
    assert picked.status == "dispatched"


def test_the_whole_queue_schedule_holds_every_job_and_stops_none(app, client, films, clips):
    running = create_jobs([str(clips["other"])], {})[0]
    follower = registry(slots=3)
    assert dispatch_ready(get_celery(app), follower, {}, now=MONDAY_MORNING) == 1
    response = client.put("/api/queue/schedule", json={"schedule": NIGHTS})
    assert response.status_code == 200 and response.get_json()["text"] == "Mon-Fri 01:00-06:00"
    schedule_gate.forget()  # this process's cache (the monitor reads again within CACHE_SECONDS)
    waiting = create_jobs([str(clips["short"])], {})[0]
    assert dispatch_ready(get_celery(app), follower, {}, now=MONDAY_MORNING) == 0
    reloaded()
    assert waiting.status == "queued"
    assert waiting.waiting_reason == "waiting: the queue runs Mon-Fri 01:00-06:00; next at Tue 01:00"
    assert running.status == "dispatched"  # a schedule never stops what has started
    assert dispatch_ready(get_celery(app), follower, {}, now=TUESDAY_NIGHT) == 1
    reloaded()
    assert waiting.status == "dispatched"


def test_pieces_of_a_split_job_not_started_yet_wait_for_their_library(app, films, clips):
    job = create_jobs([str(clips["long"])], {"extra": {"library": films}})[0]
    start_split(job)  # as the split dispatcher starts it: a plan piece waits
    db.session.commit()
    follower = registry(slots=2)
    sent: dict[str, int] = {}
    assert dispatch_split(get_celery(app), follower, sent, now=MONDAY_MORNING) == 0
    reloaded()
    plan = db.session.query(Piece).filter_by(job_id=job.id).one()
    assert plan.status == "queued"
    assert job.split_note.endswith(" · the rest wait: " + HELD.removeprefix("waiting: "))
    assert dispatch_split(get_celery(app), follower, sent, now=TUESDAY_NIGHT) == 1
    reloaded()
    assert plan.status == "dispatched" and "the rest wait" not in job.split_note


def test_the_schedules_are_read_once_in_a_while_not_every_round(app, films, clips):
    create_jobs([str(clips["other"])], {})
    statements: list[str] = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731  (conn, cursor, statement, ...)
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        for _ in range(5):
            dispatch_ready(get_celery(app), registry(slots=0), {})
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert sum("FROM libraries" in s for s in statements) == 1, statements
