"""Slow down password guessing: after too many failed logins from one address, refuse for a while."""

from __future__ import annotations

import logging

from flask import request

from app.extensions import redis_store

log = logging.getLogger("frameshift.auth")
LIMIT = 10
WINDOW = 15 * 60


def _key() -> str:
    return f"frameshift:login-failures:{request.remote_addr or 'unknown'}"


def blocked() -> bool:
    """Return True when this address failed too often recently (never blocks if Redis is down)."""
    try:
        return int(redis_store.client.get(_key()) or 0) >= LIMIT
    except Exception:  # noqa: BLE001
        return False


def record_failure() -> None:
    """Count one failed login for this address."""
    try:
        pipe = redis_store.client.pipeline()
        pipe.incr(_key())
        pipe.expire(_key(), WINDOW)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001
        log.warning("could not count a failed login: %s", exc)
    log.warning("failed login from %s", request.remote_addr)


def clear() -> None:
    """Forget the failures after a successful login."""
    try:
        redis_store.client.delete(_key())
    except Exception:  # noqa: BLE001
        pass


MESSAGE = f"too many failed logins from your address: wait {WINDOW // 60} minutes and try again"
