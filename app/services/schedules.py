"""Weekly schedules: 168 hour flags, Monday 00:00 first, saying in which hours dispatch may start work. Pure.

A schedule speaks of wall-clock hours in the leader's local time (the monitor's time zone: the `TZ`
environment variable, UTC in most containers). It knows only a weekday and an hour, so daylight saving
needs no rule here: on the night clocks go forward the skipped hour is simply never seen, and on the
night they go back the repeated hour is allowed (or not) both times. None means any time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache

HOURS = 7 * 24
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
Flags = Sequence[int | bool]


def normalized(flags: Flags | None) -> list[int] | None:
    """Return the stored form: None when every hour is allowed (or none given), else 168 flags 0/1."""
    if flags is None:
        return None
    if len(flags) != HOURS:
        raise ValueError(f"a schedule has {HOURS} hour flags (7 days of 24, Monday 00:00 first), not {len(flags)}")
    return None if all(flags) else [1 if flag else 0 for flag in flags]


def local_now() -> datetime:
    """Return the leader's local wall-clock time (naive), the clock schedules are read by."""
    return datetime.now()


def hour_of_week(when: datetime) -> int:
    """Return 0 for Monday 00:00-01:00 ... 167 for Sunday 23:00-24:00."""
    return when.weekday() * 24 + when.hour


def allowed(flags: Flags | None, when: datetime) -> bool:
    """Return True when the schedule lets work start at this time."""
    return flags is None or bool(flags[hour_of_week(when)])


def next_allowed(flags: Flags | None, when: datetime) -> datetime | None:
    """Return when work may next start: `when` itself if allowed now, else the start of the next allowed hour.

    None when the schedule allows no hour at all.
    """
    if allowed(flags, when):
        return when
    assert flags is not None
    start = when.replace(minute=0, second=0, microsecond=0)
    here = hour_of_week(when)
    for step in range(1, HOURS):
        if flags[(here + step) % HOURS]:
            return start + timedelta(hours=step)
    return None


def _days(numbers: list[int]) -> str:
    if len(numbers) == 7:
        return "every day"
    runs: list[list[int]] = []
    for day in numbers:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return " & ".join(DAYS[r[0]] if len(r) == 1 else f"{DAYS[r[0]]}-{DAYS[r[-1]]}" for r in runs)


def _hours(day: tuple[int, ...]) -> str:
    if all(day):
        return "all day"
    ranges, start = [], None
    for hour, flag in enumerate((*day, 0)):
        if flag and start is None:
            start = hour
        elif not flag and start is not None:
            ranges.append(f"{start:02d}:00-{hour:02d}:00")
            start = None
    return " & ".join(ranges)


@lru_cache(maxsize=256)
def _describe(flags: tuple[int, ...]) -> str:
    groups: dict[tuple[int, ...], list[int]] = {}
    for day in range(7):
        hours = flags[day * 24 : day * 24 + 24]
        if any(hours):
            groups.setdefault(hours, []).append(day)
    if not groups:
        return "at no hour"
    return ", ".join(f"{_days(days)} {_hours(hours)}" for hours, days in groups.items())


def describe(flags: Flags | None) -> str:
    """Say in words when a schedule allows work: 'any time', 'Mon-Fri 01:00-06:00, Sat-Sun all day', 'at no hour'."""
    if flags is None or all(flags):
        return "any time"
    return _describe(tuple(1 if f else 0 for f in flags))


def when_text(when: datetime) -> str:
    """Return a weekday and an hour, e.g. 'Tue 01:00' (a schedule's next start is always within a week)."""
    return f"{DAYS[when.weekday()]} {when:%H:%M}"


def reason(label: str, flags: Flags | None, when: datetime) -> str | None:
    """Say why work under this schedule waits at `when` (None when it may start), e.g.
    "waiting: library 'Films' runs Mon-Fri 01:00-06:00; next at Tue 01:00"."""
    if allowed(flags, when):
        return None
    upcoming = next_allowed(flags, when)
    if upcoming is None:
        return f"waiting: {label} is scheduled to run at no hour of the week"
    return f"waiting: {label} runs {describe(flags)}; next at {when_text(upcoming)}"
