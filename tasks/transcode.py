"""The transcode task: verify the payload, claim the attempt, run it, report."""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from typing import Any

import redis
from celery.exceptions import Ignore

from tasks import keys
from tasks.celery_app import celery_app
from tasks.convert import run_attempt
from tasks.errors import TranscodeRefused
from tasks.follower import FollowerSettings
from tasks.signing import verify

log = logging.getLogger("frameshift.task")
CLAIM_TTL = 7 * 24 * 3600


@lru_cache(maxsize=1)
def settings() -> FollowerSettings:
    """Read this follower's settings once per process."""
    return FollowerSettings.from_env()


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    """Return a Redis client on the broker (created in the pool process, after fork)."""
    return redis.Redis.from_url(celery_app.conf.broker_url, socket_timeout=5, socket_connect_timeout=5)


class Reporter:
    """Send progress through task state and a task event, at most every `interval` seconds."""

    def __init__(self, task: Any, interval: float, lease_seconds: int) -> None:
        self.task = task
        self.interval = interval
        self.lease_seconds = lease_seconds
        self.last = 0.0
        self.state: dict[str, Any] = {}

    def __call__(self, update: dict[str, Any]) -> None:
        self.state.update(update)
        now = time.monotonic()
        urgent = update.get("stage") in ("starting", "started") or update.get("done")
        if not urgent and now - self.last < self.interval:
            return
        self.last = now
        meta = {**self.state, "ts": time.time()}
        self.state.pop("argv", None)  # sent once, with the first report
        # Best effort: a Redis hiccup must not fail a long encode.
        try:
            self.task.update_state(state="PROGRESS", meta=meta)
            self.task.send_event("task-progress", **meta)
            redis_client().set(keys.lease(self.task.request.id), self.task.request.hostname or "", ex=self.lease_seconds)
        except Exception as exc:  # noqa: BLE001
            log.warning("progress report failed (encode goes on): %s", exc)


def cancel_requested(task_id: str) -> bool:
    """Return True when the leader asked this attempt to stop."""
    try:
        return bool(redis_client().exists(keys.cancel(task_id)))
    except redis.RedisError:
        return False


@celery_app.task(name="transcode.run", bind=True, ignore_result=False, acks_late=False, track_started=True)
def run(self, payload: dict[str, Any]) -> dict[str, Any]:
    """Convert one file as described by a signed payload from the leader."""
    conf = settings()
    task_id = self.request.id
    if not verify(payload, conf.shared_token):
        log.error("refused task %s: missing or wrong signature (check SHARED_TOKEN matches the leader)", task_id)
        raise TranscodeRefused("refused: the task signature is missing or wrong; SHARED_TOKEN must match on leader and follower")
    client = redis_client()
    if not client.set(keys.claim(task_id), self.request.hostname or "?", nx=True, ex=CLAIM_TTL):
        log.warning("task %s was delivered again; this attempt already started once, not running it twice", task_id)
        raise Ignore()
    if cancel_requested(task_id):
        from tasks.errors import TranscodeCancelled

        raise TranscodeCancelled("cancelled before it started")
    reporter = Reporter(self, conf.progress_interval, conf.lease_seconds)
    return run_attempt(payload, conf, reporter, lambda: cancel_requested(task_id), tag=task_id[:8])
