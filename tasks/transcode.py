"""The transcode task: verify the payload, claim the attempt, run it, report."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import redis
from celery.exceptions import Ignore

from tasks import keys
from tasks.celery_app import celery_app
from tasks.convert import run_attempt
from tasks.errors import TranscodeCancelled, TranscodeInterrupted
from tasks.follower import FollowerSettings
from tasks.reporting import Reporter, StopCheck
from tasks.signing import PayloadRefused, refusal

log = logging.getLogger("frameshift.task")
CLAIM_TTL = 7 * 24 * 3600


@lru_cache(maxsize=1)
def settings() -> FollowerSettings:
    """Read this follower's settings once per process."""
    return FollowerSettings.from_env()


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    """Return a Redis client on the broker (redis-py resets its pool in a forked pool process)."""
    return redis.Redis.from_url(celery_app.conf.broker_url, socket_timeout=5, socket_connect_timeout=5)


def cancel_requested(task_id: str) -> bool:
    """Return True when the leader asked this attempt to stop."""
    try:
        return bool(redis_client().exists(keys.cancel(task_id)))
    except redis.RedisError:
        return False


def open_attempt(task: Any, payload: dict[str, Any]) -> tuple[FollowerSettings, StopCheck, Reporter]:
    """Verify the signed payload, claim the attempt, stop early if asked, and start its progress reporter.

    Every task that runs FFmpeg for the leader begins here (transcode.run and the split.* tasks).
    """
    conf = settings()
    task_id = task.request.id
    hostname = task.request.hostname or "?"
    # Checked before the claim: a forged, replayed or expired payload takes nothing and runs nothing.
    why = refusal(payload, conf.shared_token, task_id)
    if why:
        log.error("refused task %s: %s", task_id, why)
        raise PayloadRefused(f"refused by {hostname}: {why}")
    client = redis_client()
    # The claim is taken before anything runs; the leader takes it instead when it gives up an attempt
    # that never started. Whoever is first decides: a redelivered or abandoned message never runs.
    if not client.set(keys.claim(task_id), hostname, nx=True, ex=CLAIM_TTL):
        holder = client.get(keys.claim(task_id)) or b""
        if holder.decode(errors="replace") == keys.LEADER_CLAIM:
            log.warning("task %s was given up by the leader before it started; not running it", task_id)
        else:
            log.warning("task %s was delivered again; this attempt already started once, not running it twice", task_id)
        raise Ignore()
    stop = StopCheck(redis_client, task_id, hostname)
    if stop():
        if stop.shutting_down:
            raise TranscodeInterrupted(f"interrupted: follower {hostname} was shutting down before the job started")
        raise TranscodeCancelled("cancelled before it started")
    return conf, stop, Reporter(task, redis_client, conf.progress_interval, conf.lease_seconds)


# How transcode.run is declared (bench/sim_task.py declares its simulated twin with the same). A cancel or a
# shutdown is an expected end: Celery logs it as one INFO line, not an ERROR with a traceback.
RUN_TASK_OPTIONS: dict[str, Any] = {
    "name": "transcode.run",
    "bind": True,
    "ignore_result": False,
    "acks_late": False,
    "track_started": True,
    "throws": (TranscodeCancelled, TranscodeInterrupted),
}


@celery_app.task(**RUN_TASK_OPTIONS)
def run(self, payload: dict[str, Any]) -> dict[str, Any]:
    """Convert one file as described by a signed payload from the leader."""
    return run_body(self, payload, run_attempt, "converting")


def run_body(task: Any, payload: dict[str, Any], body: Callable[..., dict[str, Any]], what: str) -> dict[str, Any]:
    """Open the attempt, run one FFmpeg body (a whole file, a piece, the audio, the join), always close the
    reporter; a shutdown says what it interrupted."""
    conf, stop, reporter = open_attempt(task, payload)
    task_id, hostname = task.request.id, task.request.hostname or "?"
    try:
        return body(payload, conf, reporter, stop, tag=task_id[:8], publish=stop.may_publish)
    except TranscodeInterrupted as exc:
        log.warning("task %s interrupted: follower %s is shutting down", task_id, hostname)
        raise TranscodeInterrupted(
            f"interrupted: follower {hostname} was shut down while {what}", None, exc.log_tail
        ) from None
    finally:
        reporter.close()
