"""Run-time settings stored in the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.extensions import core, db
from app.models import Setting

QUEUE_PAUSED = "queue_paused"
# The whole queue's weekly hours (app/services/schedules.py): 168 flags, Monday 00:00 first; absent/None: any time.
QUEUE_SCHEDULE = "queue_schedule"


def get_setting(key: str, default: Any = None) -> Any:
    """Return a stored setting, or default (one column read: the monitor asks twice in each dispatch round)."""
    row = core(select(Setting.value).where(Setting.key == key)).first()
    return default if row is None else row[0]


def set_setting(key: str, value: Any) -> None:
    """Store a setting and commit."""
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=value))
    else:
        row.value = value
    db.session.commit()
