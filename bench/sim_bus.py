"""The simulated followers' lean reporting (`bench/simfollower.py --lean`): the same reports, fewer threads.

A real pool process reports one attempt from one thread: tasks/reporting.py's Reporter, which per report
stores the PROGRESS state (the backend's SET and PUBLISH), sends a `task-progress` event (a PUBLISH on the
event exchange) and now and then renews the lease (a SET). Hundreds of slots in one Python process, each with
its own Reporter thread and its own round trips, cost this simulator ~2.4 ms of CPU a report at 200 slots (the
GIL passed between hundreds of threads): the simulator, not the leader, was the limit from 200 slots on
(docs/benchmarks.md, "Leader at scale with simulated followers").

Here every attempt's reporter is a LeanReporter: the same class (its `__call__`, its timing rules, its `_send`
with Celery's own backend and event dispatcher building every message, byte for byte as a follower sends it),
without a thread. One bus thread, every TICK, runs each reporter's due sends with the network writes held
back, then writes them all in one Redis pipeline: what the leader receives is unchanged (the same keys, values
and channels, at the same rates), only the round trips are shared.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis

from tasks import keys, reporting

TICK = 0.005
# Commands held before the pipeline goes out within a tick (about 16 reports): each report's `ts` is stamped
# when its turn comes, so a long tick must not hold the first reports back until the last one is built.
FLUSH_AT = 48


class Bus:
    """One thread that sends the due reports of every LeanReporter, in one pipeline a tick."""

    def __init__(self, app: Any, client: redis.Redis) -> None:
        self.app = app
        self.client = client
        self.reporters: set[LeanReporter] = set()
        self.lock = threading.Lock()  # held while sending: close() waits for a send in flight, as Reporter's
        self.held: list[tuple[str, tuple]] = []
        self.waiting: list[tuple[int, Any]] = []  # (index in held, callback for that command's reply)
        self.dispatchers: dict[tuple[str, bool], Any] = {}
        self.connection = app.connection_for_write()
        self.sent = 0
        backend = app.backend
        original = backend._set
        bus_thread = threading.Thread(target=self.run, name="report-bus", daemon=True)
        self.thread = bus_thread

        def held_set(key: str, value: Any, expires: int | None = None) -> None:
            if threading.current_thread() is not bus_thread:
                return original(key, value, expires)  # STARTED, SUCCESS and FAILURE from the slots
            expires = backend.expires if expires is None else expires
            self.held.append(("setex", (key, expires, value)) if expires else ("set", (key, value)))
            self.held.append(("publish", (key, value)))
            return None

        backend._set = held_set

    def start(self) -> None:
        self.thread.start()

    def dispatcher(self, hostname: str, buffered: bool = False) -> Any:
        """A persistent event dispatcher for this follower, whose channel holds its publishes for the pipeline.

        buffered: the worker's own (main process) dispatcher, which under a prefork pool keeps its task events and
        sends them as one list on 'task.multi' when flushed (bench/sim_wire.py flushes every tick, as the worker's
        event loop flushes every turn); the pool's reports are sent one by one (buffered=False)."""
        found = self.dispatchers.get((hostname, buffered))
        if found is None:
            groups = {"buffer_group": ["task"]} if buffered else {}
            found = self.app.events.Dispatcher(self.connection, hostname=hostname, enabled=True, **groups)
            if not buffered:
                reporting.on_progress_exchange(found)  # the reports' own exchange, as the pool's sender (fix 51)
            channel = found.producer.channel
            topics = channel._get_publish_topics

            def held_fanout(exchange: str, message: dict, routing_key: str, **_: Any) -> None:
                payload = channel_dumps(message)
                for topic in topics(exchange, routing_key):
                    self.held.append(("publish", (topic, payload)))

            channel._put_fanout = held_fanout
            self.dispatchers[(hostname, buffered)] = found
        return found

    def ask(self, name: str, args: tuple, reply: Any) -> None:
        """Hold a command whose reply is needed (bench/sim_wire.py); `reply` gets it after the pipeline runs."""
        self.waiting.append((len(self.held), reply))
        self.held.append((name, args))

    def run(self) -> None:
        while True:
            began = time.monotonic()
            with self.lock:
                self.step_attempts(time.monotonic())
                for reporter in list(self.reporters):
                    reporter.sent_at = reporter.step(time.monotonic(), reporter.sent_at)
                    if len(self.held) >= FLUSH_AT and not self.waiting:  # a report goes out soon after its `ts`
                        self.flush()
                for (_host, buffered), dispatcher in self.dispatchers.items():
                    if buffered:
                        dispatcher.flush()  # the tick's task events, one list a follower (a worker loop's turn)
                self.flush()
            time.sleep(max(0.0, began + TICK - time.monotonic()))

    def step_attempts(self, now: float) -> None:
        """The attempts' own work each tick, before the reports: none here (slot threads run them); WireBus's."""

    def flush(self) -> None:
        held, self.held = self.held, []
        waiting, self.waiting = self.waiting, []
        if not held:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for name, args in held:
                getattr(pipe, name)(*args)
            replies = pipe.execute(raise_on_error=False)
        except Exception as exc:  # noqa: BLE001  (an outage: a report lost, as a follower loses one)
            print(f"report bus: {exc}", flush=True)
            replies = [exc] * len(held)
        else:
            for reply in replies:
                if isinstance(reply, Exception):
                    print(f"report bus: {reply}", flush=True)
        for index, reply in waiting:
            reply(replies[index])


def channel_dumps(message: dict) -> str:
    from kombu.utils.json import dumps

    return dumps(message)


BUS: list[Bus] = []  # set by simfollower.py --lean


class LeanReporter(reporting.Reporter):
    """tasks/reporting.py's Reporter, its sends run by the bus thread instead of a thread of its own."""

    def __init__(self, task: Any, client: Any, interval: float, lease_seconds: int) -> None:
        super().__init__(task, client, interval, lease_seconds)  # its own thread ends at once: see _loop
        self.sent_at = 0.0
        self.bus = BUS[0]
        with self.bus.lock:
            self.bus.reporters.add(self)

    def _loop(self) -> None:
        """Nothing: the bus thread runs `step` for this reporter."""

    def close(self) -> None:
        """Leave the bus; a send in flight finishes first (the bus holds its lock while sending)."""
        self.closed = True
        with self.bus.lock:
            self.bus.reporters.discard(self)

    def _send(self, meta: dict[str, Any]) -> None:
        self.task.backend.store_result(self.task_id, meta, "PROGRESS", request=self.request)
        self.bus.dispatcher(self.hostname).send("task-progress", uuid=self.task_id, retry=False, **meta)
        self.bus.sent += 1
        self._renew()

    def _renew(self) -> None:
        now = time.monotonic()
        if self.last_renewal is not None and now - self.last_renewal < self.renew_every:
            return
        self.last_renewal = now
        self.bus.held.append(("setex", (keys.lease(self.task_id), self.lease_seconds, self.hostname)))
