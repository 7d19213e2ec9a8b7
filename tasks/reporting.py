"""How a running attempt talks to the leader: progress out, stop requests in.

Both go through Redis, and both are best effort: a Redis outage must never block or fail an
encode. Progress is therefore sent from a background thread that always carries the latest
figures; the encode loop only hands them over.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from celery.events.event import get_exchange

from tasks import keys
from tasks.outage import connection_error, redis_failed, redis_recovered

log = logging.getLogger("frameshift.task")
URGENT_STAGES = ("starting", "started")
# FFmpeg writes a block every interval too (-stats_period), so reports are spaced EARLY x interval, not a
# whole interval: holding a block that comes a little early to the full interval delays every later
# block by as much (bench/progress_freshness.py measured ~300-400 ms median, up to 0.5 s).
EARLY = 0.8
# The lease is renewed at most this often (and at most every sixth of its TTL): it lives JOB_LEASE_SECONDS
# (30 s) and the leader gives a running attempt up after LEASE_GRACE (10 s) without one, so one SET with each
# of the two reports a second was 17 % of a pool process's CPU for nothing (py-spy, docs/benchmarks.md).
RENEW_EVERY = 5.0
# The task state (Celery's PROGRESS, read by AsyncResult and by the leader's reconcile after a restart) is stored
# at most this often; the `task-progress` event, which the leader's live view runs on, goes with every report.
# A store is a GET (Celery reads the state first, never to overwrite a SUCCESS) and a SETEX with a PUBLISH: at
# two a second it was 15 % of a pool process's CPU (py-spy, docs/benchmarks.md fix 32). The stages 'starting'
# and 'started' are stored at once.
STATE_EVERY = 1.0


class Reporter:
    """Send the latest progress as a `task-progress` event, the task state (at most every STATE_EVERY) and a lease
    renewal."""

    def __init__(self, task: Any, client: Callable[[], redis.Redis], interval: float, lease_seconds: int) -> None:
        self.task = task
        self.request = task.request  # thread-local in Celery: capture it on the task's own thread
        # The result backend too: Celery makes one per thread, and the sender below is a new thread each attempt,
        # so each attempt built a backend (a connection pool, a connection, its driver's version read from the
        # installed packages): 13 % of a pool process's CPU per job (py-spy, docs/benchmarks.md fix 28). The
        # task's thread keeps its own for the process's life; the sender uses that one (redis-py is thread-safe).
        self.backend = task.backend
        self.task_id: str = task.request.id
        self.hostname: str = task.request.hostname or ""
        self.client = client
        self.interval = interval
        self.lease_seconds = lease_seconds
        self.renew_every = max(interval, min(RENEW_EVERY, lease_seconds / 6))
        self.last_renewal: float | None = None
        self.state_stored: float | None = None  # when the task state was last stored (STATE_EVERY)
        self.state: dict[str, Any] = {}
        self.dirty = False
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.closed = False
        self.thread = threading.Thread(target=self._loop, name=f"report-{self.task_id[:8]}", daemon=True)
        self.thread.start()

    def __call__(self, update: dict[str, Any]) -> None:
        """Take new figures; never blocks on the network."""
        with self.lock:
            self.state.update(update)
            self.dirty = True
        # Always wake the sender: it sends at once when `interval` has passed since its last report, else
        # when it has. Waking it only for urgent stages left a block waiting up to `interval` for the timer.
        self.wake.set()

    def close(self) -> None:
        """Stop the sender; waits for a send in flight so no late PROGRESS follows the final result."""
        self.closed = True
        self.wake.set()
        self.thread.join()

    def _loop(self) -> None:
        # Two clocks: `sent` spaces progress reports, `last_renewal` keeps the lease alive while nothing new
        # comes. A lease renewal must not restart the report clock, or each new block waits for the next tick.
        sent = 0.0
        while not self.closed:
            with self.lock:
                waiting = self.dirty
            due = (sent + self.interval * EARLY) if waiting else ((self.last_renewal or 0.0) + self.renew_every)
            self.wake.wait(timeout=max(due - time.monotonic(), 0.05))
            self.wake.clear()
            if self.closed:
                return
            sent = self.step(time.monotonic(), sent)

    def step(self, now: float, sent: float) -> float:
        """Send the latest figures if they are due (urgent stages at once, others EARLY x interval after the
        last report), else renew the lease when due; return when the last report was sent."""
        with self.lock:
            urgent = self.state.get("stage") in URGENT_STAGES
            ready = self.dirty and (urgent or now - sent >= self.interval * EARLY)
            meta = {**self.state, "ts": time.time()} if ready else None
            if ready:
                self.state.pop("argv", None)  # sent once, with the first report
                self.dirty = False
        if meta is not None:
            if not urgent:  # 'starting'/'started' must not hold back the first block right after them
                sent = now
            self._send(meta)
        else:
            self._renew()  # nothing new (a slow probe, a stalled input): still alive, when due
        return sent

    def _send(self, meta: dict[str, Any]) -> None:
        try:
            now = time.monotonic()
            if (
                self.state_stored is None
                or now - self.state_stored >= STATE_EVERY
                or meta.get("stage") in URGENT_STAGES
            ):
                self.backend.store_result(self.task_id, meta, "PROGRESS", request=self.request)
                self.state_stored = now
            EVENTS.send(self.task.app, self.hostname, "task-progress", uuid=self.task_id, **meta)
        except Exception as exc:  # noqa: BLE001  (a Redis hiccup must not fail a long encode)
            EVENTS.drop(self.task.app, self.hostname)  # its connection may be broken: the next report makes a new one
            if connection_error(exc) is None:
                log.warning("progress report for %s failed (the encode goes on): %s", self.task_id, exc)
            else:  # an outage: said once for the whole process, not once per report
                redis_failed(exc, "progress reports")
        else:
            redis_recovered("progress reports go out again")
        self._renew()

    def _renew(self) -> None:
        """Renew the attempt's lease (at most every renew_every): the leader treats a running attempt without
        one as gone."""
        now = time.monotonic()
        if self.last_renewal is not None and now - self.last_renewal < self.renew_every:
            return
        self.last_renewal = now
        try:
            self.client().set(keys.lease(self.task_id), self.hostname, ex=self.lease_seconds)
        except Exception as exc:  # noqa: BLE001
            log.debug("lease renewal for %s failed: %s", self.task_id, exc)


class EventSender:
    """One event dispatcher (and its broker connection) per sender for this process's life, shared by its attempts'
    reporters.

    A dispatcher made and closed for each report cost ~50 % more CPU a report (fix 17); one made for each attempt
    still opened a broker connection and a channel per job: 14 % of a pool process's CPU over a run of short jobs
    (py-spy, docs/benchmarks.md fix 21). A prefork pool process runs one attempt at a time and has one sender (its
    app and worker hostname); bench/simfollower.py runs many followers' slots in one process, one dispatcher per
    follower. A lock per dispatcher keeps two threads from sending on its connection at once. After a failed send
    the dispatcher is dropped and the next report makes a new one; those inherited across a fork are left alone.
    It sends the pool's progress reports, on keys.PROGRESS_EXCHANGE (on_progress_exchange: not where Flower reads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.senders: dict[tuple[int, str], list[Any]] = {}  # (id(app), hostname) -> [lock, app, dispatcher]

    def _sender(self, app: Any, hostname: str) -> list[Any]:
        with self.lock:
            if self.pid != os.getpid():  # a forked child: the parent's connections are not ours to use or close
                self.pid, self.senders = os.getpid(), {}
            # The app is kept in the entry, so its id cannot be reused by another app while the entry lives.
            return self.senders.setdefault((id(app), hostname), [threading.Lock(), app, None])

    def send(self, app: Any, hostname: str, kind: str, **fields: Any) -> None:
        sender = self._sender(app, hostname)
        with sender[0]:
            if sender[2] is None:
                sender[2] = app.events.Dispatcher(
                    app.connection_for_write(), hostname=hostname, enabled=True, buffer_while_offline=False
                )
                on_progress_exchange(sender[2])
                keep_client(getattr(getattr(sender[2], "producer", None), "channel", None))
            sender[2].send(kind, retry=False, **fields)

    def drop(self, app: Any, hostname: str) -> None:
        """Close the dispatcher of this sender (its connection may be broken): the next report makes a new one."""
        sender = self._sender(app, hostname)
        with sender[0]:
            dispatcher, sender[2] = sender[2], None
        if dispatcher is not None:
            try:
                dispatcher.close()
                dispatcher.connection.release()
            except Exception:  # noqa: BLE001, S110  (closing what may already be broken)
                pass

    def drop_all(self) -> None:
        """Close every dispatcher of this process (tests; at a worker's exit its sockets simply close)."""
        for (_app_id, hostname), (_lock, app, _dispatcher) in list(self.senders.items()):
            self.drop(app, hostname)


EVENTS = EventSender()


def on_progress_exchange(dispatcher: Any) -> Any:
    """Make a Celery event dispatcher publish on keys.PROGRESS_EXCHANGE instead of `celeryev` (what Flower reads),
    as Celery makes its own event exchange for the broker's transport (a fanout one on Redis); return it. Used for
    the pool's progress reports (EventSender) and by the simulated followers (bench/sim_bus.py)."""
    dispatcher.exchange = get_exchange(dispatcher.connection, name=keys.PROGRESS_EXCHANGE)
    return dispatcher


def keep_client(channel: Any) -> bool:
    """Give a kombu Redis channel one redis-py client for its life; return False when the channel is not one.

    Its fanout publish (every event) asks `conn_or_acquire` for a client, and with none given that builds a new
    `redis.Redis` on the channel's connection pool each time: ~60 us warm, ~8 % of a pool process's samples over
    short jobs (py-spy, docs/benchmarks.md fix 41). The kept client uses the same pool, so what is sent and on
    which connections is unchanged; the channel's other calls get it too."""
    create = getattr(channel, "_create_client", None)
    if create is None or not hasattr(channel, "conn_or_acquire"):
        return False
    kept = create()
    channel.conn_or_acquire = lambda client=None: contextlib.nullcontext(client or kept)
    return True


class StopCheck:
    """Answer 'should this attempt stop, and why?' from the leader's cancel flag and our own shutdown."""

    def __init__(self, client: Callable[[], redis.Redis], task_id: str, hostname: str) -> None:
        self.client = client
        self.names = [keys.cancel(task_id), keys.stopping(hostname)]
        self.hostname = hostname
        self.reason: str | None = None

    def __call__(self) -> str | None:
        """Return why to stop ('cancel', a leader's reason, or 'shutdown'), or None to go on."""
        if self.reason:
            return self.reason
        try:
            cancel, stopping = self.client().mget(self.names)
        except redis.RedisError:
            return None  # cannot ask: keep encoding rather than stop on a hiccup
        if cancel:
            self.reason = cancel.decode(errors="replace") if isinstance(cancel, bytes) else str(cancel)
        elif stopping:
            self.reason = "shutdown"
        return self.reason

    def may_publish(self, attempts: int = 30, pause: float = 1.0) -> bool:
        """Take the fence before renaming the output into place: False when the leader gave this attempt up.

        Atomic with the leader's give-up (keys.PUBLISH_SCRIPT / GIVE_UP_SCRIPT): a stale attempt, paused
        past its lease and given up, can never publish. Without Redis we cannot know, so we wait for it
        (a Redis outage must not fail a finished encode) and give up only after `attempts` tries.
        """
        task_id = self.names[0].rsplit(":", 1)[1]
        for _ in range(attempts):
            try:
                won = self.client().eval(
                    keys.PUBLISH_SCRIPT, 2, self.names[0], keys.fence(task_id), f"publishing:{self.hostname}", 24 * 3600
                )
                if not won:
                    self.reason = self.reason or self._leader_reason() or "given up by the leader"
                return bool(won)
            except redis.RedisError as exc:
                log.warning("cannot reach Redis to publish the output of %s yet (%s); retrying", task_id, exc)
                time.sleep(pause)
        raise ConnectionError(f"Redis was unreachable for {attempts * pause:.0f} s when the output was ready")

    def _leader_reason(self) -> str | None:
        try:
            value = self.client().get(self.names[0])
        except redis.RedisError:
            return None
        return value.decode(errors="replace") if isinstance(value, bytes) else value

    @property
    def shutting_down(self) -> bool:
        """Return True when the stop came from this follower shutting down."""
        return self.reason == "shutdown"
