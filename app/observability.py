"""Sentry for the leader's processes (web and monitor); the worker side is tasks/observability.py."""

from __future__ import annotations

import sys

from flask import Flask

from tasks.observability import init_sentry

_started: str | None = None


def component() -> str:
    """Name this process for Sentry's `component` tag."""
    return "monitor" if "monitor" in sys.argv[1:] else "web"


def init_app(flask_app: Flask) -> bool:
    """Start Sentry once per process when SENTRY_DSN is set; without it nothing is sent."""
    global _started
    dsn = flask_app.config.get("SENTRY_DSN") or ""
    if not dsn or _started == dsn:
        return bool(dsn)
    _started = dsn
    return init_sentry(
        dsn,
        flask_app.config.get("SENTRY_ENVIRONMENT", "production"),
        component(),
        flask=True,
        traces_sample_rate=float(flask_app.config.get("SENTRY_TRACES_SAMPLE_RATE") or 0),
    )
