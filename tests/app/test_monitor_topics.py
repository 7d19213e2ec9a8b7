"""The monitor subscribes to the events it applies, not to every event (fix 37, docs/benchmarks.md "Lean").

A follower sends task-received for every job; the monitor never applies it (a follower's liveness comes from its
heartbeats), yet decoding and queueing it was a share of the monitor's event thread at hundreds of jobs a second.
Real Redis, the monitor's real event thread, events sent by Celery's own dispatcher as a follower sends them."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from app.extensions import get_celery
from app.monitor.events import JOB_EVENTS
from app.monitor.loop import Monitor


def drain(inbox: queue.Queue, seconds: float) -> list[dict]:
    got, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            kind, item = inbox.get(timeout=0.05)
        except queue.Empty:
            continue
        if kind == "event":
            got.append(item)
    return got


def event_thread(app) -> Monitor:
    """A monitor whose real event thread runs (its loop does not: what the thread takes stays in the inbox)."""
    monitor = Monitor(app)
    threading.Thread(target=monitor.receive_events, daemon=True).start()
    assert monitor.ready.wait(10)
    return monitor


def monitor_heard(monitor: Monitor) -> Callable[[], bool]:
    """Whether a worker's heartbeat has reached the monitor's inbox yet (what is drained meanwhile is dropped)."""
    heard: list[dict] = []

    def check() -> bool:
        heard.extend(e for e in drain(monitor.inbox, 0.2) if e.get("type") == "worker-heartbeat")
        return bool(heard)

    return check


def beat_until(worker, *heard: Callable[[], bool]) -> None:
    """Send the worker's heartbeat until every receiver has heard one: their subscriptions are made."""
    deadline = time.monotonic() + 10
    while not all([check() for check in heard]):
        assert time.monotonic() < deadline, "the event thread never subscribed"
        worker.send("worker-heartbeat", freq=2.0, active=0, processed=0)


def test_the_event_thread_gets_every_applied_event_and_no_task_received(app):
    monitor = event_thread(app)
    celery = get_celery(app)
    try:
        with celery.connection_for_write() as connection:
            dispatcher = celery.events.Dispatcher(connection, hostname="topics@host", enabled=True)
            beat_until(dispatcher, monitor_heard(monitor))
            sent = ["task-received", "worker-online", *sorted(JOB_EVENTS), "worker-offline"]
            for kind in sent:
                dispatcher.send(kind, uuid="t-1")
            got = [e["type"] for e in drain(monitor.inbox, 1.0)]
            assert "task-received" not in got, got
            assert got == [kind for kind in sent if kind != "task-received"], got
            # A prefork worker buffers its task events and sends them as one list on 'task.multi': all of it arrives.
            buffered = celery.events.Dispatcher(connection, hostname="multi@host", enabled=True, buffer_group=["task"])
            for kind in ("task-received", "task-started", "task-succeeded"):
                buffered.send(kind, uuid="t-2")
            buffered.flush()
            got = [(e["type"], e["hostname"]) for e in drain(monitor.inbox, 1.0)]
        assert got == [(k, "multi@host") for k in ("task-received", "task-started", "task-succeeded")], got
    finally:
        monitor.stopping.set()


def test_progress_reports_reach_the_monitor_on_their_own_exchange_and_not_flower(app):
    """Fix 51: the pool's progress reports go on keys.PROGRESS_EXCHANGE. The monitor's event thread receives them
    there; a receiver bound as Flower binds (Celery's, every routing key of celeryev) gets the worker's events and
    none of the reports, which were ~2/3 of what Flower consumed."""
    from tasks.reporting import EVENTS

    monitor = event_thread(app)
    celery = get_celery(app)
    flower_saw: list[dict] = []
    receivers: list = []
    stop = threading.Event()

    def flower() -> None:
        try:
            with celery.connection_for_read() as connection:
                receiver = celery.events.Receiver(connection, handlers={"*": flower_saw.append})
                receivers.append(receiver)
                receiver.capture(limit=None, timeout=None, wakeup=False)  # until should_stop (checked every 1 s)
        except Exception:
            if not stop.is_set():
                raise

    flower_thread = threading.Thread(target=flower, daemon=True)
    flower_thread.start()
    try:
        with celery.connection_for_write() as connection:
            worker = celery.events.Dispatcher(connection, hostname="progress@host", enabled=True)
            flower_heard = lambda: any(e.get("type") == "worker-heartbeat" for e in flower_saw)  # noqa: E731
            beat_until(worker, monitor_heard(monitor), flower_heard)
            for percent in (10.0, 20.0):
                EVENTS.send(celery, "progress@host", "task-progress", uuid="t-3", percent=percent)
            worker.send("task-started", uuid="t-3")
            got = [(e["type"], e.get("percent")) for e in drain(monitor.inbox, 1.0)]
        assert got == [("task-progress", 10.0), ("task-progress", 20.0), ("task-started", None)], got
        assert "task-started" in [e["type"] for e in flower_saw]
        assert [e for e in flower_saw if e["type"] == "task-progress"] == [], "Flower's receiver got the reports"
    finally:
        stop.set()
        for receiver in receivers:
            receiver.should_stop = True
        flower_thread.join(5)
        monitor.stopping.set()
        EVENTS.drop_all()
