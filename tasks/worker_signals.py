"""Worker start-up: advertise concurrency, FFmpeg version and usable encoders in Redis."""

from __future__ import annotations

import json
import logging
import os
import socket
import time

from celery.signals import worker_ready, worker_shutting_down

from tasks import keys
from tasks.encoders import ffmpeg_version, usable_encoders
from tasks.transcode import redis_client, settings

log = logging.getLogger("frameshift.worker")


def advertise(hostname: str, concurrency: int) -> dict:
    """Write what this follower offers to Redis for the leader's dispatcher."""
    conf = settings()
    info = {
        "hostname": hostname,
        "concurrency": concurrency,
        "ffmpeg_version": ffmpeg_version(conf.ffmpeg_bin),
        "encoders": usable_encoders(conf.ffmpeg_bin),
        "threads": {"decoder": conf.threads.decoder, "encoder": conf.threads.encoder},
        "media_roots": [str(p) for p in conf.media_roots],
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": time.time(),
        "signed": bool(conf.shared_token),
        "shutting_down": False,
    }
    client = redis_client()
    client.set(keys.follower(hostname), json.dumps(info))
    client.sadd(keys.FOLLOWERS, hostname)
    return info


@worker_ready.connect
def on_worker_ready(sender=None, **_: object) -> None:
    """Advertise once the worker consumes."""
    hostname = sender.hostname
    concurrency = int(getattr(sender.controller, "concurrency", 0) or 1)
    try:
        info = advertise(hostname, concurrency)
        log.info("follower %s ready: %s slots, encoders %s", hostname, concurrency, ", ".join(info["encoders"]))
    except Exception as exc:  # noqa: BLE001
        log.error("could not advertise follower %s: %s", hostname, exc)


@worker_shutting_down.connect
def on_shutting_down(sender=None, **_: object) -> None:
    """Tell the leader to stop dispatching here."""
    try:
        client = redis_client()
        raw = client.get(keys.follower(str(sender)))
        info = json.loads(raw) if raw else {"hostname": str(sender)}
        info["shutting_down"] = True
        client.set(keys.follower(str(sender)), json.dumps(info))
    except Exception as exc:  # noqa: BLE001
        log.warning("could not mark follower %s as stopping: %s", sender, exc)
