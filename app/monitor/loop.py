"""The monitor process: one loop that owns every job change after creation."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from celery import Celery
from flask import Flask

from app.extensions import db, get_celery, redis_store
from app.monitor import library_probe, library_scan, split_decide
from app.monitor.dispatcher import dispatch_ready, stop_result_subscriptions
from app.monitor.events import EventHandler
from app.monitor.reaper import active_rows, enforce_cancels, reap_lost
from app.monitor.receivers import Receivers
from app.monitor.reconcile import reconcile, sweep
from app.monitor.registry import Registry
from app.monitor.split_dispatch import dispatch_split, work_queued
from app.monitor.split_monitor import SplitMonitor
from tasks import keys
from tasks.outage import connection_error, quiet_redis_outages, redis_failed, redis_recovered

log = logging.getLogger("frameshift.monitor")
TICK = 0.5
SWEEP_EVERY = 3.0
# The reaper, the cancel check, the follower table and the fallback dispatch round run once a second, not at
# every tick: at twice a second they were most of the monitor's CPU, at rest and with a job running
# (docs/benchmarks.md, "Lean"). A follower found crashed by the presence check (every tick) is reaped at once.
HOUSEKEEPING_EVERY = 1.0
# Rounds for slots freed by events come at most this often: under load each round takes every slot freed
# meanwhile instead of one round after each batch of events (at 800 slots they were 14 % of the main thread's
# time: docs/benchmarks.md, fix 14). A wake-up from the web (new jobs, a retry) still gets its round at once.
DISPATCH_GAP = 0.1
# Only this monitor sends jobs and pieces out. Once the housekeeping found none out, it reads again only after this
# monitor may have sent some (a dispatch round past its probe, a wake from the web, a job's event, a reconnect), or
# this long after its last look (a safety net): at rest that read was a fifth of the monitor's CPU (fix 24).
OUT_RECHECK = 10.0


class Monitor(Receivers):
    """Consume Celery events, dispatch, reap, reconcile; all database work on one thread."""

    def __init__(self, flask_app: Flask) -> None:
        self.flask_app = flask_app
        self.celery_app: Celery = get_celery(flask_app)  # this app's own broker and result backend
        self.registry = Registry(lost_after=flask_app.config["FOLLOWER_LOST_AFTER"])
        self.events = EventHandler(self.celery_app, self.registry)
        self.split = SplitMonitor(self.celery_app, self.registry)  # pieces of split jobs (docs/split.md)
        self.inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.broker_down = False
        self._last_sweep = 0.0
        self._last_housekeeping = 0.0
        self.woken = False
        self.maybe_out = True  # whether a job or a piece may be out (dispatched or running); unknown at start
        self.presence: Any = None  # the tick's read of the followers' connections
        self._out_read = 0.0

    def run(self, max_seconds: float | None = None) -> None:
        """Run until stopped (or for max_seconds)."""
        started = time.monotonic()
        # An outage makes every thread here fail at once: one warning for it, one line when it ends.
        quiet_redis_outages(announce_reconnect=False)
        logging.getLogger("kombu.mixins").setLevel(logging.WARNING)  # "Connected to redis://" on every reconnect
        with self.flask_app.app_context():
            stop_result_subscriptions(self.celery_app)  # on the thread that sends
            self.start_threads()
            self.ready.wait(timeout=10)
            self.safely(reconcile, self.celery_app, self.registry)
            next_tick = last_dispatch = 0.0
            want_dispatch = True
            while not self.stopping.is_set():
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    break
                pending = want_dispatch and not self.broker_down
                wake_at = min(next_tick, last_dispatch + DISPATCH_GAP) if pending else next_tick
                batch = self.take(max(0.0, wake_at - time.monotonic()))
                if batch:
                    want_dispatch |= self.apply(batch)
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + TICK
                    want_dispatch |= self.tick()
                due = self.woken or time.monotonic() - last_dispatch >= DISPATCH_GAP
                if want_dispatch and not self.broker_down and due:
                    want_dispatch = self.woken = False
                    last_dispatch = time.monotonic()
                    self.dispatch()
            db.session.remove()

    def dispatch(self) -> None:
        """One dispatch round, when anything waits (one probe otherwise): pieces of split jobs, then whole jobs."""
        if not self.safely(work_queued):
            return
        self.maybe_out = True  # this round may send some (fix 24)
        started = split_decide.STARTED[0]
        left: dict[str, Any] = {}  # the free slots, counted once for the round (fix 19), unless that step failed
        split = self.safely(dispatch_split, self.celery_app, self.registry, self.split.pieces_by_task, None, left)
        slots = left.get("slots") if split is not None else None
        paused = left.get("paused") if split is not None else None
        self.safely(dispatch_ready, self.celery_app, self.registry, self.events.jobs_by_task, None, slots, paused)
        if split != 0 or split_decide.STARTED[0] != started:  # pieces sent (or failed to), a split job started
            self.split.poke()  # its monitor looks at the next tick; a round of whole jobs leaves it alone (fix 29)

    def take(self, timeout: float, limit: int = 500) -> list[tuple[str, Any]]:
        """Wait up to timeout for the first inbox item, then take what else is there."""
        batch: list[tuple[str, Any]] = []
        try:
            batch.append(self.inbox.get(timeout=timeout))
            while len(batch) < limit:
                batch.append(self.inbox.get_nowait())
        except queue.Empty:
            pass
        return batch

    def apply(self, batch: list[tuple[str, Any]]) -> bool:
        """Apply a batch of inbox items in order; return True when dispatch may have new room or work."""
        wake = False
        events: list[dict[str, Any]] = []
        for kind, item in batch:
            if kind == "event":
                events.append(item)
                if item.get("type", "").startswith("task-"):
                    self.maybe_out = True  # an attempt (this monitor's or not) is about: look again
                continue
            self.maybe_out = True  # a wake from the web or a reconnect: look again
            self.apply_events(events)
            events = []
            if kind == "reconnected":
                self.registry.grace_all()  # events were missed while the stream was down
                with self.events.lock:  # attempts may end here: no progress of theirs goes live meanwhile (fix 42)
                    self.safely(reconcile, self.celery_app, self.registry)
                    self.events.forget_running()
            if item != keys.WAKE_NEW_JOBS:  # new jobs need only the round below; a split one pokes it (dispatch)
                self.split.poke()  # a cancel or a retry from the web, or missed events: look at split jobs too
                if getattr(self, "libraries", None) is not None:
                    self.libraries.poke()  # a library made, changed or asked to rescan: the scanner looks at once
            wake = self.woken = True  # new work from a person is sent at once, whatever DISPATCH_GAP says
        self.apply_events(events)
        self.events_done += sum(kind != "wake" for kind, _ in batch)  # the event thread's items, applied (fix 42)
        if self.events.finished_any:
            self.events.finished_any = False
            wake = True
        return wake

    def apply_events(self, events: list[dict[str, Any]]) -> None:
        """Apply consecutive events in one transaction; if that fails, one at a time (one bad event loses no other)."""
        rest = self.safely(self.split.take_events, events, self.events.jobs_by_task) if events else None
        if rest is not None and len(rest) < len(events):
            events, self.events.finished_any = rest, True  # a piece moved: the next one may go
        if not events or self.safely(self.events.handle_batch, events):
            return
        if len(events) > 1:
            log.warning("applying %d events one at a time after the batch failed", len(events))
            for event in events:
                self.safely(self.events.handle, event)

    def tick(self) -> bool:
        """Twice a second: flush progress, look for crashed followers, advance split jobs, libraries; once a
        second (or at once after a crash): reap lost work, enforce cancels, write the follower table. Return
        True when a dispatch round is due."""
        self.safely(self.events.flush)
        now = time.monotonic()
        due = now - self._last_housekeeping >= HOUSEKEEPING_EVERY
        crashed = False
        busy: dict[str, int] | None = None  # counted by sync_followers unless known from the rows read here
        if self.broker_reachable():
            crashed = bool(self.safely(self.registry.check_presence, self.presence))
            if due or crashed:
                busy = self.safely(self.housekeep)
            self.safely(self.split.tick)
            if now - self._last_sweep >= SWEEP_EVERY:
                self._last_sweep = now
                if not self.maybe_out:  # nothing out at the last read, none sent since (fix 24): nothing to settle,
                    self.safely(self.events.prune, set())  # and every attempt it remembers has ended (fix 30)
                else:
                    with self.events.lock:  # attempts may end here (fix 42)
                        if self.safely(sweep, self.celery_app) != 0:
                            self.events.forget_running()
                    self.safely(self.events.prune)
        if due or crashed:
            self._last_housekeeping = now
            self.safely(self.sync_followers, busy)
        self.safely(library_scan.tick, self)  # libraries: scans, events, hold time, outcomes
        self.safely(library_probe.tick, self)  # libraries: media facts read by followers, in batches
        return due or crashed

    def housekeep(self) -> dict[str, int] | None:
        """Once a second (or at once after a crash): reap lost work and enforce cancels from one read of the jobs
        that are out (fix 22); at rest that read finds none and nothing else runs (fix 20), and it is not made
        again until this monitor may have sent work out (fix 24). Return each follower's busy count when the read
        still holds it, None when it must be counted again."""
        now = time.monotonic()
        if not self.maybe_out and now - self._out_read < OUT_RECHECK:
            self.registry.lease_missing.clear()
            return {}  # none was out at the last look and this monitor has sent none since (fix 24)
        self._out_read = now
        rows = self.safely(active_rows)
        pieces = self.safely(self.registry.pieces_out)
        self.maybe_out = not (rows == [] and pieces is False)
        changed = cancelled = 0
        if rows == []:
            self.registry.lease_missing.clear()  # what the reaper forgets of attempts no longer running
        else:  # some are out, or the read failed (None: the reaper and the enforcer read for themselves)
            # Attempts may end here: the receiving thread publishes no progress meanwhile, and none of theirs after
            # (forget_running, inside the lock: fix 42).
            with self.events.lock:
                changed = self.safely(reap_lost, self.celery_app, self.registry, rows)  # None (failed): a change
                if changed != 0:
                    self.events.forget_running()
                cancelled = self.safely(enforce_cancels, self.celery_app, rows if changed == 0 else None)
                if cancelled != 0:
                    self.events.forget_running()
        if rows is None or changed != 0 or cancelled != 0 or pieces is None:
            return None
        return self.registry.busy_counts(rows, pieces=pieces) if rows or pieces else {}

    def broker_reachable(self) -> bool:
        """Read the followers' presence from Redis (self.presence), which proves Redis answers: one round trip a
        tick where a PING and the presence read were two (fix 34). While we cannot reach Redis, silence from
        followers proves nothing about them."""
        self.presence = None
        try:
            try:
                self.presence = self.registry.read_presence()
            except Exception as exc:  # noqa: BLE001
                if connection_error(exc) is not None:
                    raise
                redis_store.client.ping()  # Redis answers but refused the read (an ACL, say): judge by heartbeats
        except Exception as exc:  # noqa: BLE001
            if connection_error(exc) is not None:
                redis_failed(exc, "the monitor, which judges no follower until it is back")
            elif not self.broker_down:
                log.warning("cannot reach Redis (%s): not judging followers until it is back", exc)
            self.broker_down = True
            return False
        if self.broker_down:
            self.broker_down = False
            redis_recovered(f"every follower gets {self.registry.lost_after} s to be heard again")
            self.registry.grace_all()
            return False
        return True

    def sync_followers(self, busy: dict[str, int] | None = None) -> None:
        """Refresh advertisements every 2 s (a restarted follower is usable soon) and write the follower table
        (busy: each follower's count when known, as from housekeep; None: counted from the database)."""
        now = time.monotonic()
        if now - getattr(self, "_last_refresh", 0.0) > 2:
            self._last_refresh = now
            self.registry.refresh_all()
        self.registry.sync_db(busy)
        db.session.commit()

    def safely(self, func, *args: Any) -> Any:
        """Run one step; log and roll back on error so the loop never dies."""
        try:
            return func(*args)
        except Exception:  # noqa: BLE001
            log.exception("monitor step %s failed", getattr(func, "__name__", func))
            db.session.rollback()
            return None
