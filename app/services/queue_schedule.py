"""The whole queue's weekly hours: read and change them (the monitor reads them in app/monitor/schedule_gate.py)."""

from __future__ import annotations

import time
from typing import Any

from app.services import schedules
from app.services.live import publish, wake_dispatcher
from app.services.settings import QUEUE_SCHEDULE, get_setting, set_setting


def time_zone() -> str:
    """Name the leader's local time zone, the one schedules are read in (e.g. UTC, CET)."""
    return time.strftime("%Z") or "local time"


def schedule_state(flags: list[int] | None) -> dict[str, Any]:
    """A schedule as the API and the pages show it: flags, words, and whether work may start now."""
    now = schedules.local_now()
    upcoming = schedules.next_allowed(flags, now)
    return {
        "schedule": flags,
        "text": schedules.describe(flags),
        "time_zone": time_zone(),
        "open_now": schedules.allowed(flags, now),
        "next_start": schedules.when_text(upcoming) if upcoming is not None and upcoming != now else None,
    }


def queue_schedule() -> dict[str, Any]:
    """The queue's hours (schedule None: any time)."""
    stored = get_setting(QUEUE_SCHEDULE)
    try:
        flags = schedules.normalized(stored)
    except (TypeError, ValueError):
        flags = None  # a damaged row means no restriction, as the monitor reads it
    return schedule_state(flags)


def set_queue_schedule(flags: list[bool] | None) -> dict[str, Any]:
    """Store the queue's hours (every hour allowed is stored as None) and tell the pages and the monitor."""
    set_setting(QUEUE_SCHEDULE, schedules.normalized(flags))
    state = queue_schedule()
    publish({"type": "queue", "schedule": state["schedule"], "schedule_text": state["text"]})
    wake_dispatcher()
    return state
