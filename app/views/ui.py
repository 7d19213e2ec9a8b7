"""Helpers shared by the page blueprints: safe query arguments and the layout's template globals."""

from __future__ import annotations

import shlex
from datetime import datetime, timezone

from flask import Flask, current_app, request, url_for
from werkzeug.routing import BuildError

from app.services.errors import ServiceError

# The queue page's tabs: label, the `status` argument list_jobs gets.
TABS: list[tuple[str, str, str]] = [
    ("all", "All", ""),
    ("queued", "Waiting", "queued"),
    ("active", "Running", "dispatched,running"),
    ("succeeded", "Succeeded", "succeeded"),
    ("failed", "Failed", "failed"),
    ("cancelled", "Cancelled", "cancelled"),
]


def int_arg(name: str, default: int, low: int = 1, high: int = 1_000_000) -> int:
    """Read a whole-number query argument, or raise a clear error naming it."""
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ServiceError(f"{name}: must be a whole number (got {raw!r})", field=name) from None
    if not low <= value <= high:
        raise ServiceError(f"{name}: must be between {low} and {high} (got {value})", field=name)
    return value


def endpoint_url(*endpoints: str) -> str | None:
    """Return the URL of the first endpoint that exists (pages other helpers add may be missing)."""
    for endpoint in endpoints:
        if endpoint in current_app.view_functions:
            try:
                return url_for(endpoint)
            except BuildError:
                continue
    return None


def human_size(value: int | float | None) -> str:
    """Format a byte count: 1.2 MB."""
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def human_seconds(value: float | None) -> str:
    """Format a duration in seconds: 1h 02m, 3m 05s, 12s."""
    if value is None:
        return "—"
    seconds = max(0, int(round(value)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from start to end (to now when end is missing), or None."""
    if start is None:
        return None
    end = end or datetime.now(timezone.utc).replace(tzinfo=None)
    return (end - start).total_seconds()


def timestamp(value: datetime | None) -> str:
    """Format a stored UTC time for people (the browser localises elements with data-utc)."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def register_template_helpers(flask_app: Flask) -> None:
    """Make the helpers above available in every template."""
    flask_app.jinja_env.filters.update(
        size=human_size, seconds=human_seconds, utc=timestamp, shell=lambda argv: shlex.join(argv or [])
    )
    flask_app.jinja_env.globals.update(endpoint_url=endpoint_url, between=between)
