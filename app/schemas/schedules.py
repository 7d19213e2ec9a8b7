"""Schemas of weekly schedules: a library's hours and the whole queue's (app/services/schedules.py)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, PlainValidator, WithJsonSchema

from app.schemas.inputs import Strict
from app.services.schedules import DAYS, HOURS

HOW = f"give {HOURS} true/false flags, one per hour of the week (Monday 00:00 first, 24 a day), or null for any time"


def _week(value: Any) -> list[bool]:
    if not isinstance(value, list):
        raise ValueError(HOW)
    if len(value) != HOURS:
        raise ValueError(f"has {len(value)} flags; {HOW}")
    for hour, flag in enumerate(value):
        if not isinstance(flag, bool):
            raise ValueError(f"the flag of {DAYS[hour // 24]} {hour % 24:02d}:00 (number {hour}) is not true or false")
    return value


Week = Annotated[
    list[bool],
    PlainValidator(_week),
    WithJsonSchema(
        {
            "type": "array",
            "items": {"type": "boolean"},
            "minItems": HOURS,
            "maxItems": HOURS,
            "description": f"{HOURS} flags, Monday 00:00 first (24 a day): the hours when work may start.",
        }
    ),
]


class QueueSchedule(Strict):
    """PUT /api/queue/schedule: the hours when the whole queue may start jobs."""

    schedule: Week | None = Field(description="null (or every hour true): any time.")
