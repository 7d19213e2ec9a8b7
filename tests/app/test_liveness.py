"""Follower liveness: one rule (app/services/liveness.py), and the monitor and the web agree on it.

Expected answers are written out by hand from the rule in words (FOLLOWER_LOST_AFTER = 10 s): a follower is
online when it was heard within 10 s and neither crashed nor stopped; lost when it crashed or has been silent
longer than 10 s (a clean stop is shown as stopped, and counts as lost only once silent past the bound)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from app.extensions import db
from app.models import Follower
from app.monitor.registry import FollowerState, Registry
from app.services.followers import describe
from app.services.liveness import follower_alive

LOST_AFTER = 10

# (case, silent for s, stopped cleanly, crashed) -> monitor online, monitor lost, state the web shows
CASES = [
    ("heartbeating", 2, False, False, True, False, "idle"),
    ("quiet but inside the bound", 8, False, False, True, False, "idle"),
    ("silent past the bound", 30, False, False, False, True, "lost"),
    ("crashed a moment ago", 2, False, True, False, True, "lost"),
    ("stopped cleanly a moment ago", 2, True, False, False, False, "stopped"),
    ("stopped cleanly long ago", 30, True, False, False, True, "stopped"),
]


@pytest.mark.parametrize(
    ("heard_ago", "gone", "expected"), [(0, False, True), (10, False, True), (10.5, False, False), (1, True, False)]
)
def test_the_rule(heard_ago, gone, expected):
    now = 1_000.0
    assert follower_alive(now - heard_ago, now, LOST_AFTER, gone=gone) is expected
    assert follower_alive(None, now, LOST_AFTER) is False  # never heard


@pytest.mark.parametrize(
    ("case", "silent", "stopped", "crashed", "online", "lost", "shown"), CASES, ids=[c[0] for c in CASES]
)
def test_the_monitor_and_the_web_agree(app, case, silent, stopped, crashed, online, lost, shown):
    name = "w@h"
    now = time.time()
    registry = Registry(lost_after=LOST_AFTER)
    registry.followers[name] = FollowerState(
        name=name, last_seen=now - silent, heartbeat_at=now - silent, offline=stopped, crashed=crashed, token="ok"
    )
    assert (registry.online(name, now), registry.lost(name, now)) == (online, lost), case
    with app.app_context():
        registry.sync_db()  # what the monitor writes for the web
        db.session.commit()
        seen = describe(db.session.get(Follower, name), [], LOST_AFTER)
    assert (seen["online"], seen["state"]) == (online, shown), case


def test_the_web_stops_trusting_a_row_its_monitor_no_longer_writes(app):
    """The monitor wrote 'online' and then stopped (crashed, or was stopped): the row keeps saying online, but
    once its heartbeat is older than the bound plus the monitor's lag (5 s), the web shows the follower lost."""
    with app.app_context():
        for name, age in (("fresh@h", 12), ("stale@h", 16)):
            heartbeat = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=age)
            db.session.add(Follower(name=name, online=True, last_heartbeat=heartbeat, info={"token": "ok"}))
        db.session.commit()
        shown = {
            name: describe(db.session.get(Follower, name), [], LOST_AFTER)["state"] for name in ("fresh@h", "stale@h")
        }
    assert shown == {"fresh@h": "idle", "stale@h": "lost"}


def test_a_forgotten_follower_stays_forgotten_until_it_sends_something_new(app):
    """A follower killed while the monitor was paused, then forgotten: the events it sent before it died reached
    the monitor after the forget (read from the paused stream) and wrote its row again, so the forgotten follower
    came back (a clean-clone CI run of tests/e2e/test_followers_forget.py). An event older than the forget
    brings nothing back; a newer one (the follower started again) does."""
    name = "killed@h"
    registry = Registry(lost_after=LOST_AFTER)
    with app.app_context():
        sent_before = time.time() - 5
        registry.seen(name, sent_before)
        registry.sync_db()
        db.session.commit()
        db.session.delete(db.session.get(Follower, name))  # the web forgets it
        db.session.commit()
        registry.last_write = 0.0  # the next write is due
        registry.sync_db()
        db.session.commit()
        assert name not in registry.followers
        registry.seen(name, sent_before + 1)  # a late event, sent before the forget
        registry.last_write = 0.0
        registry.sync_db()
        db.session.commit()
        assert name not in registry.followers and db.session.get(Follower, name) is None
        registry.seen(name, time.time() + 1)  # it started again
        registry.last_write = 0.0
        registry.sync_db()
        db.session.commit()
        assert db.session.get(Follower, name) is not None
