"""The period a statistics request asks for: ?period=day|week|month|all, or ?from=&to= as dates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from app.models import utcnow
from app.services.errors import ServiceError

PERIODS = {"day": 1, "week": 7, "month": 30, "all": None}
MAX_DAYS = 3660  # ten years of daily points at most
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Period:
    """Days from first to last, inclusive (first None: since the first job)."""

    name: str
    first: date | None
    last: date | None


def parse_period(period: str | None, first: str | None, last: str | None, today: date | None = None) -> Period:
    """Read ?period= or ?from=&to=; raise ServiceError naming the field."""
    today = today or utcnow().date()
    if first is not None or last is not None:
        if period not in (None, ""):
            raise ServiceError("give either period or from and to, not both", field="period")
        start, end = _date(first, "from"), _date(last, "to")
        if end < start:
            raise ServiceError("to must not be before from", field="to")
        if (end - start).days >= MAX_DAYS:
            raise ServiceError(f"a period is at most {MAX_DAYS} days", field="from")
        return Period("range", start, end)
    name = period or "all"
    if name not in PERIODS:
        raise ServiceError(f"period must be one of {', '.join(PERIODS)}", field="period")
    days = PERIODS[name]
    return Period(name, None if days is None else today - timedelta(days=days - 1), None if days is None else today)


def _date(value: str | None, field: str) -> date:
    if not value:
        raise ServiceError(f"{field} is required with a date range (YYYY-MM-DD)", field=field)
    if not DATE.match(value):
        raise ServiceError(f"{field} must be a date as YYYY-MM-DD", field=field)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ServiceError(f"{field} is not a real date", field=field) from None
