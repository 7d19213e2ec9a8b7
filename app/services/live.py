"""Live updates: the monitor publishes job changes; the web streams them to browsers."""

from __future__ import annotations

import json
import logging
from typing import Any

from app.extensions import redis_store
from tasks import keys

log = logging.getLogger(__name__)

LIVE_FIELDS = ("id", "status", "percent", "fps", "speed", "eta", "out_size", "follower", "error",
               "waiting_reason", "attempt", "output_size", "cancel_requested", "position")


def job_message(job_dict: dict[str, Any]) -> dict[str, Any]:
    """Keep only what a queue row needs."""
    return {"type": "job", **{k: job_dict.get(k) for k in LIVE_FIELDS}}


def publish(message: dict[str, Any]) -> None:
    """Publish one message on the live channel; never raise (live updates are best effort)."""
    try:
        redis_store.client.publish(keys.LIVE_CHANNEL, json.dumps(message))
    except Exception as exc:  # noqa: BLE001
        log.warning("live update not published: %s", exc)


def wake_dispatcher() -> None:
    """Tell the monitor there is new work, so dispatch does not wait for its next tick."""
    try:
        redis_store.client.publish(keys.WAKE_CHANNEL, "1")
    except Exception as exc:  # noqa: BLE001
        log.warning("could not wake the dispatcher (it will poll): %s", exc)
