"""The dispatcher's give-back after a failed publish batch, on a real database and a real Redis."""

from __future__ import annotations

import time

import pytest

from app.extensions import redis_store
from app.monitor.dispatcher import give_back
from tasks import keys
from tests.support import selects_of


@pytest.fixture
def jobs(dispatched_jobs):
    """Two jobs dispatched to w@h, inside an app context."""
    return dispatched_jobs(["short", "other"], "dispatch-test")


def test_after_a_failed_send_only_jobs_no_follower_can_start_go_back_to_the_queue(jobs):
    unsent, taken = jobs
    unsent_task = unsent.task_id
    redis_store.client.set(keys.claim(taken.task_id), "w@h")  # its message got through and it started
    give_back(jobs, "could not reach the broker: down")
    assert unsent.status == "queued" and unsent.attempts[0].status == "abandoned"
    assert unsent.waiting_reason == "could not reach the broker: down"
    assert redis_store.client.get(keys.claim(unsent_task)) == keys.LEADER_CLAIM.encode()  # never starts now
    assert taken.status == "dispatched"  # its events (or the reaper) settle it


def test_dispatch_rounds_start_at_once_after_a_quiet_spell_and_at_most_every_gap_under_load(app):
    """A wake-up from the web (new jobs) gets its dispatch round at once; a stream of events that free slots
    (here a follower coming online, again and again) gets at most one round every DISPATCH_GAP, never none."""
    import threading
    import time

    from app.monitor import loop

    monitor = loop.Monitor(app)
    rounds: list[float] = []
    monitor.dispatch = lambda: rounds.append(time.monotonic())
    runner = threading.Thread(target=monitor.run, kwargs={"max_seconds": 4.0}, daemon=True)
    runner.start()
    time.sleep(1.5)  # the first round, then quiet
    rounds.clear()
    woken = time.monotonic()
    monitor.inbox.put(("wake", None))
    time.sleep(0.5)
    assert rounds and rounds[0] - woken < 0.09, (rounds, woken)  # at once, not after a gap
    rounds.clear()
    burst = time.monotonic()
    while time.monotonic() - burst < 1.0:
        monitor.inbox.put(("event", {"type": "worker-online", "hostname": "w@h", "timestamp": time.time()}))
        time.sleep(0.005)  # 200 a second
    time.sleep(0.15)
    monitor.stopping.set()
    runner.join(10)
    gaps = [b - a for a, b in zip(rounds, rounds[1:])]
    assert 3 <= len(rounds) <= 12, rounds  # at most one every 0.1 s for the burst's second (fewer on a busy machine)
    assert min(gaps) >= loop.DISPATCH_GAP - 0.005, gaps


def test_with_nothing_out_the_housekeeping_probes_instead_of_reaping_and_counting(app, dispatched_jobs, monkeypatch):
    """Fix 20: at rest (no job or piece dispatched or running) the once-a-second housekeeping reads, finds nothing
    out and runs neither the reaper, the cancel enforcer nor the busy counts. Fix 22: once a job is out, the reaper
    and the enforcer run on one read of the active jobs, and the busy counts come from that read too."""
    from app.extensions import db
    from app.models import Follower
    from app.monitor import loop

    calls: list[str] = []
    for name in ("reap_lost", "enforce_cancels"):
        original = getattr(loop, name)
        monkeypatch.setattr(loop, name, lambda *a, _n=name, _f=original: calls.append(_n) or _f(*a))
    monitor = loop.Monitor(app)
    counted = monitor.registry.busy_counts
    monitor.registry.busy_counts = lambda *a, **k: calls.append(f"busy_counts{a and '(rows)'}") or counted(*a, **k)
    monitor.registry.lease_missing["an-attempt-long-gone"] = 0.0
    with selects_of(db.engine, "jobs", "pieces") as selects:
        with app.app_context():
            monitor._last_housekeeping = 0.0
            assert monitor.safely(monitor.housekeep) == {}
            assert calls == [] and monitor.registry.lease_missing == {}, calls
        dispatched_jobs(["short"], "housekeeping")
        monitor.apply([("wake", None)])  # as the web's wake after new jobs: work may go out now (fix 24)
        selects.clear()
        busy = monitor.housekeep()
        assert calls == ["reap_lost", "enforce_cancels", "busy_counts(rows)"], calls
        assert busy == {"w@h": 1}, busy
        assert len(selects) == 2, selects  # the active jobs once, the pieces probe once (six statements before)
        monitor._last_housekeeping = 0.0
        monitor.tick()
        row = db.session.execute(db.select(Follower).where(Follower.name == "w@h")).scalar_one_or_none()
        assert row is None or row.busy == 1


def test_at_rest_the_housekeeping_reads_again_only_once_work_may_have_gone_out(app, dispatched_jobs):
    """Fix 24: once the housekeeping found nothing out, it does not read again until this monitor may have sent work
    out (a dispatch round, a wake from the web, a task event) or OUT_RECHECK has passed (work sent by someone else
    is found then)."""
    from app.extensions import db
    from app.monitor import loop

    monitor = loop.Monitor(app)
    with selects_of(db.engine, "jobs", "pieces") as selects:
        with app.app_context():
            assert monitor.housekeep() == {} and len(selects) == 2, selects  # unknown at start: read
            assert monitor.housekeep() == {} and len(selects) == 2  # nothing out, nothing sent since: no read
        dispatched_jobs(["short"], "behind-its-back")  # out, but not by this monitor
        selects.clear()
        assert monitor.housekeep() == {} and selects == []
        monitor._out_read -= loop.OUT_RECHECK  # the safety net's look
        assert monitor.housekeep() == {"w@h": 1} and len(selects) == 2
        assert monitor.housekeep() == {"w@h": 1} and len(selects) == 4  # something is out: every round reads
    with app.app_context():
        fresh = loop.Monitor(app)
        fresh.maybe_out, fresh._out_read = False, time.monotonic()  # as after a look that found nothing
        with selects_of(db.engine, "jobs", "pieces") as selects:
            fresh.apply([("event", {"type": "task-started", "uuid": "not-ours", "hostname": "w@h"})])
            selects.clear()
            assert fresh.housekeep() == {"w@h": 1} and len(selects) == 2, "a task event makes the next round look"


def test_at_rest_the_sweep_and_the_prune_read_nothing(app, dispatched_jobs, monkeypatch):
    """Fix 30: every SWEEP_EVERY the monitor read the active jobs twice (the sweep, the prune), also with nothing out.
    Once the housekeeping found nothing out and none was sent since (fix 24), there is nothing to settle and every
    attempt the event handler remembers has ended: no sweep, the memory emptied without a read. With work out,
    both run as before."""
    from app.extensions import db
    from app.monitor import loop

    swept: list[int] = []
    monkeypatch.setattr(loop, "sweep", lambda *args: swept.append(1) or 0)
    monkeypatch.setattr(loop.library_scan, "tick", lambda monitor: None)  # its own reads are not the subject here
    monitor = loop.Monitor(app)
    monitor.split.tick = lambda: None
    with app.app_context():
        assert monitor.housekeep() == {} and monitor.maybe_out is False  # nothing out
        monitor.events.jobs_by_task["an-ended-attempt"] = 1
        monitor.events.running.add("an-ended-attempt")
        with selects_of(db.engine, "jobs") as selects:
            monitor._last_sweep, monitor._last_housekeeping = 0.0, time.monotonic()
            monitor.tick()
        assert swept == [] and selects == [], selects
        assert "an-ended-attempt" not in monitor.events.jobs_by_task and not monitor.events.running
    job = dispatched_jobs(["short"], "sweep-at-rest")[0]
    with app.app_context():
        monitor.apply([("wake", None)])  # the web's wake: work may be out now
        monitor.events.jobs_by_task[job.task_id] = job.id
        with selects_of(db.engine, "jobs") as selects:
            monitor._last_sweep, monitor._last_housekeeping = 0.0, time.monotonic()
            monitor.tick()
        assert swept == [1] and len(selects) == 1, selects  # the sweep (stubbed here), and the prune's read
        assert monitor.events.jobs_by_task == {job.task_id: job.id}, "a job out is remembered"
