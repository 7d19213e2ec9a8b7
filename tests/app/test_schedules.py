"""The weekly schedule grid, pure: which hours are allowed, when work next starts, and the words shown."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.services import schedules as sch

# 2026-11-30 is a Monday.
MON_0030 = datetime(2026, 11, 30, 0, 30)


def week(*ranges: tuple[str, int, int]) -> list[int]:
    """Flags allowing (days, from hour, to hour) for each range: ('Mon-Fri', 1, 6) allows 01:00-06:00."""
    flags = [0] * sch.HOURS
    for days, start, end in ranges:
        first, _, last = days.partition("-")
        for day in range(sch.DAYS.index(first), sch.DAYS.index(last or first) + 1):
            for hour in range(start, end):
                flags[day * 24 + hour] = 1
    return flags


NIGHTS = week(("Mon-Fri", 1, 6))


def test_hours_are_counted_from_monday_midnight():
    assert sch.hour_of_week(MON_0030) == 0
    assert sch.hour_of_week(datetime(2026, 12, 6, 23, 59)) == 167  # Sunday 23:59
    assert sch.hour_of_week(datetime(2026, 12, 2, 4, 0)) == 2 * 24 + 4  # Wednesday 04:00


def test_allowed_reads_the_flag_of_the_hour():
    assert sch.allowed(None, MON_0030)
    assert not sch.allowed(NIGHTS, MON_0030)
    assert sch.allowed(NIGHTS, datetime(2026, 11, 30, 1, 0))
    assert sch.allowed(NIGHTS, datetime(2026, 12, 4, 5, 59))  # Friday 05:59
    assert not sch.allowed(NIGHTS, datetime(2026, 12, 4, 6, 0))
    assert not sch.allowed(NIGHTS, datetime(2026, 12, 5, 3, 0))  # Saturday


def test_next_allowed_is_the_start_of_the_next_allowed_hour():
    assert sch.next_allowed(NIGHTS, MON_0030) == datetime(2026, 11, 30, 1, 0)
    assert sch.next_allowed(NIGHTS, datetime(2026, 11, 30, 3, 15)) == datetime(2026, 11, 30, 3, 15)  # allowed now
    assert sch.next_allowed(NIGHTS, datetime(2026, 11, 30, 6, 0)) == datetime(2026, 12, 1, 1, 0)  # Tue
    # Friday morning after the window: the week wraps round to Monday 01:00.
    assert sch.next_allowed(NIGHTS, datetime(2026, 12, 4, 9, 45, 12)) == datetime(2026, 12, 7, 1, 0)
    only_sunday_23 = [0] * 167 + [1]
    assert sch.next_allowed(only_sunday_23, MON_0030) == datetime(2026, 12, 6, 23, 0)
    assert sch.next_allowed([0] * sch.HOURS, MON_0030) is None


def test_descriptions_group_days_with_the_same_hours():
    assert sch.describe(None) == "any time"
    assert sch.describe([1] * sch.HOURS) == "any time"
    assert sch.describe([0] * sch.HOURS) == "at no hour"
    assert sch.describe(NIGHTS) == "Mon-Fri 01:00-06:00"
    assert sch.describe(week(("Mon-Fri", 1, 6), ("Sat-Sun", 0, 24))) == "Mon-Fri 01:00-06:00, Sat-Sun all day"
    assert sch.describe(week(("Mon-Sun", 0, 6), ("Mon-Sun", 22, 24))) == "every day 00:00-06:00 & 22:00-24:00"
    assert sch.describe(week(("Mon", 9, 10), ("Wed-Thu", 9, 10), ("Sat", 9, 10))) == "Mon & Wed-Thu & Sat 09:00-10:00"


def test_the_reason_names_the_schedule_and_the_next_start():
    assert sch.reason("library 'Films'", NIGHTS, datetime(2026, 11, 30, 2, 0)) is None
    assert (
        sch.reason("library 'Films'", NIGHTS, datetime(2026, 11, 30, 6, 30))
        == "waiting: library 'Films' runs Mon-Fri 01:00-06:00; next at Tue 01:00"
    )
    assert (
        sch.reason("the queue", [0] * sch.HOURS, MON_0030)
        == "waiting: the queue is scheduled to run at no hour of the week"
    )


def test_normalized_stores_any_time_as_none_and_refuses_a_wrong_length():
    assert sch.normalized(None) is None
    assert sch.normalized([True] * sch.HOURS) is None
    assert sch.normalized([True] * 167 + [False]) == [1] * 167 + [0]
    with pytest.raises(ValueError, match="168 hour flags"):
        sch.normalized([True] * 24)
