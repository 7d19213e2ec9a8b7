"""The monitor's two receiving threads: Celery events and the web's wake-ups, both into the loop's inbox."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from celery import Celery
from celery.events.event import get_exchange
from celery.events.receiver import EventReceiver
from flask import Flask
from kombu import Queue

from app.extensions import redis_store
from app.monitor.events import JOB_EVENTS, EventHandler
from tasks import keys
from tasks.outage import connection_error, redis_failed

log = logging.getLogger("frameshift.monitor")
# What the monitor applies: the followers' worker-* events and the task events of JOB_EVENTS (app/monitor/events.py,
# the split monitor's too). Celery publishes an event on the topic of its type with '.' for '-', and a worker whose
# pool runs an event loop (prefork) buffers its task events and sends them as one list on 'task.multi' (received,
# started, succeeded...: the list is taken whole, task-received in it too); Redis sends a subscriber only the topics
# it subscribed to, so a task-received sent alone (a worker without that buffer: solo, threads) is not sent to the
# monitor, not decoded, not queued (fix 37, docs/benchmarks.md).
TOPICS = ("worker.*", "task.multi", *sorted(kind.replace("-", ".") for kind in JOB_EVENTS))


class FollowerEvents(EventReceiver):
    """Celery's event receiver, subscribed to TOPICS instead of every event: one auto-deleted queue (a Redis
    pattern subscription) a topic, as kombu binds one routing key a fanout queue; and to the progress reports on
    their own exchange (keys.PROGRESS_EXCHANGE, where Flower does not read: fix 51). The `task.progress` topic of
    celeryev stays among TOPICS, for a follower of an earlier version."""

    def get_consumers(self, Consumer: Any, channel: Any) -> list[Any]:
        progress = get_exchange(self.connection, name=keys.PROGRESS_EXCHANGE)
        bindings = [(self.exchange, topic) for topic in TOPICS] + [(progress, "task.progress")]
        queues = [
            Queue(
                f"{self.queue.name}.{exchange.name}.{topic}",
                exchange=exchange,
                routing_key=topic,
                auto_delete=self.queue.auto_delete,
                durable=self.queue.durable,
                exclusive=self.queue.exclusive,
                message_ttl=self.queue.message_ttl,
                expires=self.queue.expires,
            )
            for exchange, topic in bindings
        ]
        return [Consumer(queues=queues, callbacks=[self._receive], no_ack=True, accept=self.accept)]


def broken(exc: Exception, what: str, warning: str, said: bool) -> None:
    """A receiving thread lost its subscription: an outage is said once for the process (redis_failed), any other
    error once until the thread is back (unless `said`); then wait a second before subscribing again."""
    if connection_error(exc) is not None:
        redis_failed(exc, what)
    elif not said:
        log.warning(warning, exc)
    time.sleep(1.0)


class Receivers:
    """Monitor's threads that fill its inbox (app/monitor/loop.py applies what they put there, on its one thread)."""

    flask_app: Flask
    celery_app: Celery
    inbox: queue.Queue[tuple[str, Any]]
    stopping: threading.Event
    ready: threading.Event
    events: EventHandler
    # Items the event thread put in the inbox, and how many of them the loop has applied and published: each counter
    # has one writer (the event thread, the loop), and the event thread takes progress itself only when they agree.
    events_put: int = 0
    events_done: int = 0

    def receive_events(self) -> None:
        """Thread: put every Celery event in the inbox (or publish a progress report: take_event); reconnect after
        broker failures."""
        with self.flask_app.app_context():  # take_event publishes on this app's Redis
            self._receive_events()

    def _receive_events(self) -> None:
        interrupted = False
        while not self.stopping.is_set():
            try:
                with self.celery_app.connection_for_read() as connection:
                    connection.ensure_connection(max_retries=1)
                    receiver = FollowerEvents(connection, handlers={"*": self.take_event}, app=self.celery_app)
                    if interrupted:
                        log.info("event stream back")
                        self.events_put += 1
                        self.inbox.put(("reconnected", None))  # settle what happened meanwhile
                        interrupted = False
                    self.ready.set()
                    receiver.capture(limit=None, timeout=None, wakeup=True)
            except Exception as exc:  # noqa: BLE001  (broker outages)
                if self.stopping.is_set():
                    return
                broken(exc, "the monitor's event stream", "event stream interrupted (%s); reconnecting", interrupted)
                interrupted = True

    def take_event(self, event: dict[str, Any]) -> None:
        """On the event thread: a progress report of an attempt read running goes live from here when the loop has
        applied (and published) everything this thread gave it (EventHandler.fast_progress: fix 42), so none
        overtakes an earlier event; everything else goes to the loop's inbox, in order. While the loop is behind (a
        busy leader) reports go to the inbox too, where it takes many in one batch, one commit and one publish."""
        if event.get("type") == "task-progress" and self.events_put == self.events_done:
            try:
                if self.events.fast_progress(event):
                    return
            except Exception:  # noqa: BLE001  (the loop applies it instead)
                log.exception("progress of %s left to the loop", event.get("uuid"))
        self.events_put += 1  # this thread alone counts up: no lock
        self.inbox.put(("event", event))

    def receive_wakeups(self) -> None:
        """Thread: turn 'new work' messages from the web process into immediate dispatch."""
        failing = False
        while not self.stopping.is_set():
            try:
                pubsub = redis_store.client_for(self.flask_app).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(keys.WAKE_CHANNEL)
                failing = False
                while not self.stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message:
                        data = message.get("data")
                        self.inbox.put(("wake", data.decode() if isinstance(data, bytes) else data))
            except Exception as exc:  # noqa: BLE001
                broken(exc, "the monitor's wake-up channel", "wake-up channel interrupted (%s); retrying", failing)
                failing = True

    def start_threads(self) -> None:
        """Start the event and wake-up receivers."""
        for target in (self.receive_events, self.receive_wakeups):
            threading.Thread(target=target, name=target.__name__, daemon=True).start()
