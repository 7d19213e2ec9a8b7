"""With no library, the scanner looks for one every IDLE_EVERY seconds, not every round; the web's changes wake it.

Fix 23 (docs/benchmarks.md, "Lean"): a query for the enabled libraries every second was a fifth of the monitor's
CPU at rest on a system that has none. A library made, changed or asked to rescan through the web publishes on the
monitor's wake-up channel, and the monitor pokes the scanner, so a new library is still scanned at once.
"""

from __future__ import annotations

from app.extensions import db, redis_store
from app.monitor import library_scan
from app.monitor.library_scan import IDLE_EVERY, LibraryScanner
from app.services.libraries import create_library, request_rescan
from tasks import keys
from tests.support import Clock, selects_of, wait_for


def test_with_no_library_the_scanner_looks_every_idle_period_or_when_poked(app, media, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(library_scan, "time", clock)
    with app.app_context(), selects_of(db.engine, "libraries") as looks:
        scanner = LibraryScanner(app, 2.0)
        try:
            scanner.tick()
            assert len(looks) == 1 and scanner.enabled == 0
            for _ in range(int(IDLE_EVERY * 2) - 1):  # the monitor ticks twice a second
                clock.now += 0.5
                scanner.tick()
            assert len(looks) == 1, "looked again before IDLE_EVERY had passed"
            clock.now += 0.5
            scanner.tick()
            assert len(looks) == 2
            clock.now += 0.5
            scanner.poke()
            scanner.tick()
            assert len(looks) == 3, "a poke (the web changed a library) makes the next tick look"
            folder = media / "Films"
            folder.mkdir()
            create_library({"name": "Films", "folder": str(folder), "spec": {}, "rules": {}})
            clock.now += 0.5
            scanner.poke()
            scanner.tick()
            assert scanner.enabled == 1
            clock.now += 1.0  # with a library, a round every EVERY (1 s) as before
            scanner.tick()
            assert len(looks) >= 5
        finally:
            scanner.close()


def test_making_or_rescanning_a_library_wakes_the_monitor(app, media):
    folder = media / "Shows"
    folder.mkdir()
    with app.app_context():
        pubsub = redis_store.client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(keys.WAKE_CHANNEL)
        try:
            wait_for(lambda: pubsub.get_message(timeout=0.1) is None, 5, 0.1, what="a quiet channel")
            library = create_library({"name": "Shows", "folder": str(folder), "spec": {}, "rules": {}})
            assert pubsub.get_message(timeout=2), "creating a library did not wake the monitor"
            request_rescan(library.id, None)
            assert pubsub.get_message(timeout=2), "a rescan request did not wake the monitor"
        finally:
            pubsub.close()
