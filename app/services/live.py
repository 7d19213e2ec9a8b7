"""Live updates: the monitor publishes job changes; the web streams them to browsers."""

from __future__ import annotations

import json
import logging
from typing import Any

from app.extensions import redis_store
from tasks import keys

log = logging.getLogger(__name__)

PROGRESS_FIELDS = ("percent", "fps", "speed", "eta", "out_size")


def live_message(job: Any) -> dict[str, Any]:
    """The one builder of a job's live message (a queue row's fields), read straight from the row."""
    return {
        "type": "job",
        "id": job.id,
        "status": job.status,
        "percent": round(job.percent or 0.0, 2),
        "fps": job.fps,
        "speed": job.speed,
        "eta": job.eta,
        "out_size": job.out_size,
        "follower": job.follower,
        "error": job.error,
        "waiting_reason": job.waiting_reason,
        "attempt": job.attempt,
        "output_size": job.output_size,
        "cancel_requested": job.cancel_requested_at is not None,
        "position": job.position,
        "split_note": job.split_note,
    }


def piece_message(piece: Any) -> dict[str, Any]:
    """The one builder of a piece's live message (a row of the job page's pieces table), read from the row."""
    return {
        "type": "piece",
        "id": piece.id,
        "job_id": piece.job_id,
        "kind": piece.kind,
        "index": piece.index,
        "label": piece.label,
        "status": piece.status,
        "follower": piece.follower,
        "percent": round(piece.percent or 0.0, 2),
        "fps": piece.fps,
        "attempts": piece.attempts,
        "error": piece.error,
    }


def progress_message(job_id: int, follower: str | None, ts: float | None, figures: dict[str, Any]) -> dict[str, Any]:
    """The one builder of a progress message (between two writes of the row, straight from the event)."""
    return {
        "type": "progress",
        "id": job_id,
        "status": "running",
        "follower": follower,
        "ts": ts,
        **{k: figures.get(k) for k in PROGRESS_FIELDS},
    }


# A publish on the live channel is a JSON array of messages, in order: the monitor's batch of events or a dispatch
# round publishes once, not once a message (a PUBLISH each was ~8 % of the monitor's CPU a job at 440 jobs a second:
# bench/monitor_cost.py, docs/benchmarks.md fix 36). PUBLISH_CHUNK bounds one publish's size.
PUBLISH_CHUNK = 200


def publish(message: dict[str, Any]) -> None:
    """Publish one message on the live channel; never raise (live updates are best effort)."""
    publish_many([message])


def publish_many(messages: list[dict[str, Any]]) -> None:
    """Publish messages in order, PUBLISH_CHUNK to a publish, in one round trip; never raise."""
    if not messages:
        return
    try:
        with redis_store.client.pipeline(transaction=False) as pipe:
            for first in range(0, len(messages), PUBLISH_CHUNK):
                pipe.publish(keys.LIVE_CHANNEL, json.dumps(messages[first : first + PUBLISH_CHUNK]))
            pipe.execute()
    except Exception as exc:  # noqa: BLE001
        log.warning("%d live updates not published: %s", len(messages), exc)


def unpack(data: bytes | str) -> list[dict[str, Any]]:
    """The messages of one publish on the live channel, in order (the web's stream reads them here)."""
    found = json.loads(data.decode() if isinstance(data, bytes) else data)
    return found if isinstance(found, list) else [found]


def wake_dispatcher(what: str = keys.WAKE_CHANGE) -> None:
    """Tell the monitor there is new work, so dispatch does not wait for its next tick (what: keys.WAKE_NEW_JOBS
    when only new jobs were made: the monitor then leaves its split jobs and libraries alone)."""
    try:
        redis_store.client.publish(keys.WAKE_CHANNEL, what)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not wake the dispatcher (it will poll): %s", exc)
