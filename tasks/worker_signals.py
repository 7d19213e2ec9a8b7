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
from celery.signals import worker_ready, worker_shutdown, worker_shutting_down

from tasks import keys
from tasks.celery_app import celery_app
from tasks.encoders import ffmpeg_version, usable_encoders
from tasks.machine_load import LoadSampler
from tasks.reporting import keep_client
from tasks.signing import proof
from tasks.transcode import redis_client, settings

log = logging.getLogger("frameshift.worker")
ADVERT_TTL = 60
ADVERT_EVERY = 10.0
# A stopped follower's last word stays a day, so a monitor started later still tells `stopped` from `lost`.
STOPPED_TTL = 24 * 3600
_advert: dict[str, Any] = {}
# CPU and memory of this machine ride in every renewal; the CPU share covers the ADVERT_EVERY s since the last.
_load = LoadSampler()


def sandbox_info() -> dict[str, Any]:
    """Return this follower's FFmpeg sandbox state (tasks/sandbox.py), or 'unknown' where it cannot be told."""
    try:
        from tasks.sandbox import sandbox_state
    except ImportError:
        return {"enabled": False, "mode": "unknown"}
    try:
        return dict(sandbox_state())
    except Exception as exc:  # noqa: BLE001  (the advertisement must go out whatever the sandbox says)
        log.warning("could not read the FFmpeg sandbox state: %s", exc)
        return {"enabled": False, "mode": "unknown", "reason": str(exc)}


def stamp(info: dict[str, Any], token: str) -> dict[str, Any]:
    """Put our own clock and a fresh proof that we hold SHARED_TOKEN (never the token) in the advertisement."""
    now = round(time.time(), 3)
    info["heartbeat_at"] = now
    info["proof_at"] = now
    info["token_proof"] = proof(info.get("hostname") or "", now, token)
    return info


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
        "sandbox": sandbox_info(),
        "shutting_down": False,
        "stopped": False,
        "load": _load.sample(),
    }
    stamp(info, conf.shared_token)
    _advert.clear()
    _advert.update(info)
    client = redis_client()
    client.delete(keys.stopping(hostname))
    client.set(keys.follower(hostname), json.dumps(info), ex=ADVERT_TTL)
    client.sadd(keys.FOLLOWERS, hostname)
    return info


def keep_advertising(hostname: str) -> None:
    """Thread: renew the advertisement, so it survives a Redis restart and expires when we die."""
    # This connection is named (keys.presence) and used every ADVERT_EVERY, so it stays open while we live
    # (even with a Redis `timeout`); redis-py names it again on every reconnect.
    client = redis.Redis.from_url(
        celery_app.conf.broker_url, socket_timeout=5, socket_connect_timeout=5, client_name=keys.presence(hostname)
    )
    token = settings().shared_token
    first = True
    while True:
        if not first:
            time.sleep(ADVERT_EVERY)
        first = False
        try:
            ttl = STOPPED_TTL if _advert.get("stopped") else ADVERT_TTL
            if not _advert.get("stopped"):
                _advert["load"] = _load.sample()
            client.set(keys.follower(hostname), json.dumps(stamp(_advert, token)), ex=ttl)
            client.sadd(keys.FOLLOWERS, hostname)
            if _advert.get("shutting_down"):
                client.set(keys.stopping(hostname), os.getpid(), ex=24 * 3600)
        except redis.RedisError as exc:
            log.warning("could not renew the advertisement of %s: %s", hostname, exc)


@worker_ready.connect
def on_worker_ready(sender=None, **_: object) -> None:
    """Advertise once the worker consumes."""
    hostname = sender.hostname
    producer = getattr(getattr(sender, "event_dispatcher", None), "producer", None)  # task events, heartbeats
    keep_client(getattr(producer, "channel", None))  # one redis-py client for its publishes (fix 41)
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
        client.set(keys.follower(hostname), json.dumps(stamp(info, settings().shared_token)), ex=ADVERT_TTL)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not mark follower %s as stopping: %s", hostname, exc)


@worker_shutdown.connect
def on_shutdown(sender=None, **_: object) -> None:
    """Say we stopped on purpose (the leader shows `stopped`, not `lost`); sent after the pool has stopped."""
    hostname = getattr(sender, "hostname", None) or _advert.get("hostname")
    if not hostname:
        return
    _advert.update(shutting_down=True, stopped=True)
    try:
        info = stamp(dict(_advert) or {"hostname": hostname}, settings().shared_token)
        info["stopped_at"] = info["heartbeat_at"]
        client = redis_client()
        client.set(keys.follower(hostname), json.dumps(info), ex=STOPPED_TTL)
        log.info("follower %s stopped", hostname)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not mark follower %s as stopped: %s", hostname, exc)
