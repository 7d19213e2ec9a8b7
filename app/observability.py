"""Sentry for the leader's processes (web and monitor); the worker side is tasks/observability.py."""

from __future__ import annotations

from flask import Flask

from tasks.observability import init_sentry

_started: str | None = None
_component = "web"


def component() -> str:
    """Name this process for Sentry's `component` tag: "web" unless a command said otherwise (set_component)."""
    return _component


def set_component(name: str) -> None:
    """Say which process this is (the monitor command says "monitor"); tags Sentry's events from now on."""
    global _component
    _component = name
    if _started:
        import sentry_sdk

        sentry_sdk.set_tag("component", name)


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
