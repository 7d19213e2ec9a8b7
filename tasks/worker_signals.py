"""Worker life cycle: advertise what we offer (and keep it fresh), stop running attempts on shutdown.

(Start-up refusal on bad settings lives in tasks/observability.py + tasks/preflight.py.)
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from typing import Any

import redis
from celery.signals import worker_ready, worker_shutting_down

from tasks import keys
from tasks.celery_app import celery_app
from tasks.encoders import ffmpeg_version, usable_encoders
from tasks.transcode import redis_client, settings

log = logging.getLogger("frameshift.worker")
ADVERT_TTL = 60
ADVERT_EVERY = 10.0
_advert: dict[str, Any] = {}


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
        "path_map": [f"{leader}={local}" for leader, local in conf.path_map],
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": time.time(),
        "signed": bool(conf.shared_token),
        "shutting_down": False,
    }
    _advert.clear()
    _advert.update(info)
    client = redis_client()
    client.delete(keys.stopping(hostname))
    client.set(keys.follower(hostname), json.dumps(info), ex=ADVERT_TTL)
    client.sadd(keys.FOLLOWERS, hostname)
    return info


def keep_advertising(hostname: str) -> None:
    """Thread: renew the advertisement, so it survives a Redis restart and expires when we die."""
    client = redis.Redis.from_url(celery_app.conf.broker_url, socket_timeout=5, socket_connect_timeout=5)
    while True:
        time.sleep(ADVERT_EVERY)
        try:
            client.set(keys.follower(hostname), json.dumps(_advert), ex=ADVERT_TTL)
            client.sadd(keys.FOLLOWERS, hostname)
            if _advert.get("shutting_down"):
                client.set(keys.stopping(hostname), os.getpid(), ex=24 * 3600)
        except redis.RedisError as exc:
            log.warning("could not renew the advertisement of %s: %s", hostname, exc)


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
    threading.Thread(target=keep_advertising, args=(hostname,), name="advertise", daemon=True).start()


@worker_shutting_down.connect
def on_shutting_down(sender=None, **_: object) -> None:
    """Stop taking work and stop running attempts; they report themselves interrupted."""
    hostname = str(sender)
    _advert["shutting_down"] = True
    try:
        client = redis_client()
        # Running attempts poll this flag with the cancel flag: they stop FFmpeg and end as interrupted.
        client.set(keys.stopping(hostname), os.getpid(), ex=24 * 3600)
        info = dict(_advert) or {"hostname": hostname, "shutting_down": True}
        client.set(keys.follower(hostname), json.dumps(info), ex=ADVERT_TTL)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not mark follower %s as stopping: %s", hostname, exc)
