"""With no split job in flight the split monitor looks at the database only every QUIET_RECHECK, or when poked.

Fix 25 (docs/benchmarks.md, "Lean"): every way a split job starts or changes pokes the split monitor (a dispatch
round with work queued, a wake from the web, a piece's event), so its look without a poke is a safety net.
"""

from __future__ import annotations

from app.extensions import db, get_celery
from app.monitor import split_monitor
from app.monitor.registry import Registry
from app.monitor.split_monitor import QUIET_RECHECK, SplitMonitor
from tests.support import Clock, selects_of


def test_with_nothing_split_the_monitor_looks_every_quiet_period_or_when_poked(app, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(split_monitor, "time", clock)
    with app.app_context():
        split = SplitMonitor(get_celery(app), Registry(lost_after=10))
        with selects_of(db.engine) as looks:
            split.tick()
            first = len(looks)
            assert first >= 1, "the first tick looks"
            for _ in range(int(QUIET_RECHECK * 2) - 1):  # the monitor ticks twice a second
                clock.now += 0.5
                split.tick()
            assert len(looks) == first, "looked again before QUIET_RECHECK had passed"
            clock.now += 0.5
            split.tick()
            assert len(looks) > first
            rounds = 0
            for _ in range(120):  # a minute of ticks at rest: four looks at most (twelve at the old 5 s)
                before = len(looks)
                clock.now += 0.5
                split.tick()
                rounds += len(looks) > before
            assert rounds <= 4, rounds
            again = len(looks)
            clock.now += 0.5
            split.poke()
            split.tick()
            assert len(looks) > again, "a poke makes the next tick look"


def test_a_dispatch_round_pokes_the_split_monitor_only_when_split_work_moved(app, monkeypatch):
    """Every dispatch round poked the split monitor, so a stream of whole jobs made it read the pieces and the split
    jobs at the next tick each time (fix 29). Now a round pokes it when pieces were sent (or sending them failed)
    or a split job started (split_decide.decide_jobs counts those, in either step of the round)."""
    from app.monitor import loop, split_decide

    monitor = loop.Monitor(app)
    pokes: list[int] = []
    monkeypatch.setattr(monitor.split, "poke", lambda: pokes.append(1))
    monkeypatch.setattr(loop, "work_queued", lambda: True)
    sent = {"pieces": 0}
    monkeypatch.setattr(loop, "dispatch_split", lambda *args: sent["pieces"])

    def whole_jobs(*args, start_split=False):
        if start_split:  # as decide_jobs does when a job it is about to send must be split after all
            split_decide.STARTED[0] += 1

    monkeypatch.setattr(loop, "dispatch_ready", whole_jobs)
    with app.app_context():
        monitor.dispatch()
        assert pokes == [], "a round of whole jobs poked the split monitor"
        sent["pieces"] = 2
        monitor.dispatch()
        assert len(pokes) == 1, "pieces sent: their monitor must watch them"
        sent["pieces"] = None  # the step failed: look anyway
        monitor.dispatch()
        assert len(pokes) == 2
        sent["pieces"] = 0
        monkeypatch.setattr(loop, "dispatch_ready", lambda *args: whole_jobs(start_split=True))
        monitor.dispatch()
        assert len(pokes) == 3, "a split job started in the round"


def test_a_wake_for_new_jobs_leaves_split_jobs_and_libraries_alone(app, monkeypatch):
    """Every job made through the web woke the monitor with a plain wake, which poked the split monitor and the
    library scanner: each looked at the database at the next tick for every submission (fix 33). A wake that says
    only new jobs were made gets its dispatch round and no look; any other wake (a cancel, a retry, a library)
    still pokes both."""
    from app.monitor import loop
    from tasks import keys

    monitor = loop.Monitor(app)
    pokes: list[str] = []
    monkeypatch.setattr(monitor.split, "poke", lambda: pokes.append("split"))
    monitor.libraries = type("Scanner", (), {"poke": lambda self: pokes.append("libraries")})()
    with app.app_context():
        assert monitor.apply([("wake", keys.WAKE_NEW_JOBS)]) is True, "new jobs must get a dispatch round at once"
        assert monitor.woken
        assert pokes == [], "a wake for new jobs made the split monitor or the library scanner look"
        assert monitor.apply([("wake", keys.WAKE_CHANGE)]) is True
        assert pokes == ["split", "libraries"]
        pokes.clear()
        monitor.apply([("wake", None)])  # a wake of unknown kind counts as a change
        assert pokes == ["split", "libraries"]


def test_making_jobs_wakes_the_monitor_saying_so_and_a_retry_as_a_change(app, clips):
    """What the web publishes on the wake channel (read from Redis): new jobs say so; a retry is a change."""
    from app.extensions import redis_store
    from app.models import Job, JobStatus
    from app.services.jobs import create_jobs, retry_job
    from tasks import keys

    with app.app_context():
        pubsub = redis_store.client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(keys.WAKE_CHANNEL)
        try:
            pubsub.get_message(timeout=0.5)  # the subscription settles
            job = create_jobs([str(clips["short"])], {"split": "never"})[0]
            message = pubsub.get_message(timeout=2)
            assert message is not None, "making a job did not wake the monitor"
            assert message["data"] in (keys.WAKE_NEW_JOBS, keys.WAKE_NEW_JOBS.encode())
            row = db.session.get(Job, job.id)
            row.status = JobStatus.FAILED.value
            db.session.commit()
            retry_job(job.id)
            message = pubsub.get_message(timeout=2)
            assert message is not None, "a retry did not wake the monitor"
            assert message["data"] in (keys.WAKE_CHANGE, keys.WAKE_CHANGE.encode())
        finally:
            pubsub.close()
