"""Simulated followers: many Celery followers in one light process, as the leader sees them on the wire.

Each simulated follower has its own Celery hostname (NAME@host) and does what a real follower's worker does
for the leader: it advertises itself (tasks/worker_signals.py `stamp`: concurrency, encoders, a fresh proof of
SHARED_TOKEN) over its own named presence connection (keys.presence, checked by the monitor in CLIENT LIST),
sends worker-online, a worker-heartbeat every 2 s and worker-offline through Celery's event dispatcher, and
consumes its own direct queue (celery.utils.worker_direct) with kombu, early ack, one message per free slot
(as worker_disable_prefetch). Each message runs through Celery's own tracer (celery.app.trace.build_tracer:
STARTED, SUCCESS or FAILURE stored in the result backend as a worker stores them, result_extended included)
around a task declared like transcode.run whose body is tasks/transcode.py `run_body`: the payload's signature,
task id and expiry are checked (tasks/signing.py), the claim taken, the cancel flag polled (StopCheck), progress
sent by tasks/reporting.py's Reporter (backend PROGRESS, a task-progress event, the lease), and the fence taken
before "publishing". Only FFmpeg is simulated: a block every PROGRESS_INTERVAL (0.5 s, two a second a slot),
parsed by the follower's own parser, for --job-seconds (times a random factor in 1 +/- --jitter). No file is
read or written. task-received, task-started, task-succeeded and task-failed are sent as Celery's worker sends
them. Not simulated: the remote-control (pidbox) queue, the default queue, mingle and gossip.

    REDIS_URL=... SHARED_TOKEN=... python bench/simfollower.py --followers 100 --slots 8 --job-seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402
from celery.app.trace import build_tracer  # noqa: E402
from celery.utils import worker_direct  # noqa: E402
from celery.worker.state import SOFTWARE_INFO  # noqa: E402
from kombu import Consumer  # noqa: E402

from bench import sim_bus, sim_wire  # noqa: E402
from bench.sim_task import _CLIENT, COUNT_LOCK, COUNTS, JOB_SECONDS, count, delivered, run, sim_app  # noqa: E402
from tasks import keys, transcode  # noqa: E402
from tasks.reporting import on_progress_exchange  # noqa: E402
from tasks.worker_signals import ADVERT_EVERY, ADVERT_TTL, stamp  # noqa: E402

HEARTBEAT = 2.0  # Celery's worker-heartbeat interval
_THREAD = threading.local()  # each thread's event dispatchers, by follower
ENCODERS = ["libx264", "libx265", "libsvtav1", "libvpx-vp9", "aac", "libopus", "flac", "copy"]


class SimFollower:
    """One follower: advertisement, presence connection, direct queue consumer and `slots` slots."""

    def __init__(self, name: str, slots: int, stopping: threading.Event) -> None:
        self.hostname = f"{name}@{socket.gethostname()}"
        self.slots = slots
        self.free = threading.Semaphore(slots)
        self.stopping = stopping
        self.active = 0
        self.processed = 0
        self.presence = redis.Redis.from_url(
            sim_app.conf.broker_url,
            socket_timeout=5,
            socket_connect_timeout=5,
            client_name=keys.presence(self.hostname),
        )
        self.tracer = build_tracer(run.name, run, hostname=self.hostname, app=sim_app)
        self.work: queue.Queue[tuple[str, list, dict, dict]] = queue.Queue()
        self.took = False
        self.info: dict[str, Any] = {
            "hostname": self.hostname,
            "concurrency": slots,
            "ffmpeg_version": "5.1-simulated",
            "encoders": ENCODERS,
            "threads": {"decoder": 0, "encoder": 0},
            "media_roots": [os.environ.get("FRAME_SHIFT_HOME", "")],
            "path_map": [],
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": time.time(),
            "signed": True,
            "sandbox": {"enabled": False, "mode": "simulated"},
            "shutting_down": False,
            "stopped": False,
            "load": {},
        }

    def event(self, kind: str, **fields: Any) -> None:
        """Send one event through Celery's dispatcher, as this follower.

        A worker keeps one event dispatcher (and its connection) for its life; so does each thread here, one per
        follower it speaks for (a kombu channel is not shared between threads). A dispatcher taken from the pool
        for every event made a new dispatcher and Redis client each time (in a throughput run, 4 Dec: four simulators
        119 % of a core before, 112 % after, at 330-344 jobs/s)."""
        dispatchers = _THREAD.__dict__.setdefault("dispatchers", {})
        key = (self.hostname, kind == "task-progress")  # the reports go on their own exchange, as the pool's (fix 51)
        dispatcher = dispatchers.get(key)
        if dispatcher is None:
            connection = sim_app.connection_for_write()
            dispatcher = sim_app.events.Dispatcher(connection, hostname=self.hostname, enabled=True)
            if kind == "task-progress":
                on_progress_exchange(dispatcher)
            dispatchers[key] = dispatcher
        dispatcher.send(kind, **fields)

    def heartbeat(self, kind: str = "worker-heartbeat") -> None:
        """What celery.worker.heartbeat.Heart sends (worker-online/heartbeat/offline)."""
        load = os.getloadavg()
        self.event(kind, freq=HEARTBEAT, active=self.active, processed=self.processed, loadavg=load, **SOFTWARE_INFO)

    def advertise(self, first: bool = False) -> None:
        """Write (or renew) the advertisement over the named presence connection, as keep_advertising does."""
        token = transcode.settings().shared_token
        if first:
            self.presence.delete(keys.stopping(self.hostname))
        ttl = 24 * 3600 if self.info["stopped"] else ADVERT_TTL
        self.presence.set(keys.follower(self.hostname), json.dumps(stamp(self.info, token)), ex=ttl)
        self.presence.sadd(keys.FOLLOWERS, self.hostname)

    def consume(self) -> None:
        """Thread: take a message from our direct queue only while a slot is free; run each in its own thread."""
        with sim_app.connection_for_read() as connection:
            consumer = Consumer(connection, queues=[worker_direct(self.hostname)], accept=["json"])
            consumer.register_callback(self.on_message)
            with consumer:
                while not self.stopping.is_set():
                    if not self.free.acquire(timeout=1.0):
                        continue
                    self.took = False
                    try:
                        connection.drain_events(timeout=1.0)
                    except TimeoutError:
                        pass
                    if not self.took:
                        self.free.release()

    def on_message(self, body: Any, message: Any) -> None:
        """Early ack, task-received, then the attempt on its own thread (a pool slot)."""
        message.ack()
        if self.took:  # a second message in one drain: Celery's worker would not have fetched it
            count("busy_fetch")
            self.free.acquire()
        self.took = True
        task_id, args, kwargs, request, received = delivered(body, message, self.hostname)
        self.event("task-received", **received)
        count("received")
        self.work.put((task_id, args, kwargs, request))

    def slot(self) -> None:
        """Thread: one pool slot for the follower's life (a prefork pool process keeps its backend and clients)."""
        while True:
            task_id, *rest = self.work.get()
            try:
                self.attempt(task_id, *rest)
            except Exception as exc:  # noqa: BLE001  (the slot lives on, as a pool process would)
                print(f"{self.hostname}: attempt {task_id} broke: {exc!r}", file=sys.stderr, flush=True)

    def attempt(self, task_id: str, args: list, kwargs: dict, request: dict) -> None:
        """Run one attempt through Celery's tracer and send the events the worker's Request sends."""
        self.active += 1
        try:
            self.event("task-started", uuid=task_id)  # the dispatcher adds its pid
            outcome = self.tracer(task_id, args, kwargs, request)
            state = outcome.info.state if outcome.info is not None else "SUCCESS"
            if state == "SUCCESS":
                self.event("task-succeeded", uuid=task_id, result=outcome.retstr, runtime=outcome.runtime)
                count("succeeded")
            elif state == "FAILURE":
                trace = getattr(outcome.retval, "traceback", "")
                self.event("task-failed", uuid=task_id, exception=repr(outcome.info.retval), traceback=trace)
                count("failed")
            else:
                count("ignored")  # Ignore (the claim was held): the worker sends nothing
        finally:
            self.active -= 1
            self.processed += 1
            self.free.release()


def keep_beating(followers: list[SimFollower], stopping: threading.Event) -> None:
    """Thread: heartbeats every 2 s, adverts every ADVERT_EVERY s, spread over the interval."""
    last_advert = time.monotonic()
    while not stopping.wait(0):
        began = time.monotonic()
        advert = began - last_advert >= ADVERT_EVERY
        for i, follower in enumerate(followers):
            try:
                follower.heartbeat()
                if advert:
                    follower.advertise()
            except Exception as exc:  # noqa: BLE001  (a missed beat is what the leader must judge)
                print(f"heartbeat of {follower.hostname} failed: {exc}", file=sys.stderr, flush=True)
            if stopping.wait(max(0.0, began + HEARTBEAT * (i + 1) / len(followers) - time.monotonic())):
                return
        if advert:
            last_advert = began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--followers", type=int, default=10)
    parser.add_argument("--slots", type=int, default=4, help="slots (concurrency) per follower")
    parser.add_argument("--prefix", default="sim", help="follower names: PREFIX000@host ...")
    parser.add_argument("--job-seconds", type=float, default=20.0, help="mean simulated encode length")
    parser.add_argument("--jitter", type=float, default=0.5, help="each job lasts job-seconds x (1 +/- jitter)")
    parser.add_argument("--stats", type=Path, default=None, help="write counters here (JSON) every second")
    parser.add_argument("--lean", action="store_true", help="one thread sends every slot's reports (bench/sim_bus.py)")
    parser.add_argument("--wire", action="store_true", help="one thread runs every slot's attempts (bench/sim_wire.py)")
    args = parser.parse_args()
    JOB_SECONDS[:] = [args.job_seconds, min(max(args.jitter, 0.0), 1.0)]
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    followers = [SimFollower(f"{args.prefix}{i:03d}", args.slots, stopping) for i in range(args.followers)]
    for follower in followers:
        follower.advertise(first=True)
        follower.heartbeat("worker-online")
    if args.wire or args.lean:  # one thread sends the reports (--lean), or runs whole attempts too (--wire)
        sim_bus.BUS.append(
            sim_wire.WireBus(sim_app, _CLIENT, followers) if args.wire else sim_bus.Bus(sim_app, _CLIENT)
        )
        transcode.Reporter = sim_bus.LeanReporter
        sim_bus.BUS[0].start()
    for follower in [] if args.wire else followers:
        for _ in range(follower.slots):
            threading.Thread(target=follower.slot, daemon=True).start()
        threading.Thread(target=follower.consume, name=f"consume-{follower.hostname}", daemon=True).start()
    threading.Thread(target=keep_beating, args=(followers, stopping), name="heartbeats", daemon=True).start()
    print(f"{len(followers)} simulated followers x {args.slots} slots ready", flush=True)
    while not stopping.wait(1.0):
        if args.stats:
            with COUNT_LOCK:
                if sim_bus.BUS:
                    COUNTS["reports"] = sim_bus.BUS[0].sent
                text = json.dumps({**COUNTS, "t": time.time()})
            args.stats.write_text(text)
    for follower in followers:  # a clean stop, as on_shutdown says it
        follower.info.update(shutting_down=True, stopped=True)
        try:
            follower.advertise()
            follower.heartbeat("worker-offline")
        except Exception:  # noqa: BLE001
            pass
    if args.stats:
        args.stats.write_text(json.dumps({**COUNTS, "t": time.time()}))


if __name__ == "__main__":
    main()
