"""Keep the statistics tables in step with the jobs: facts per finished job, sums per day.

A refresh reads only the jobs whose updated_at moved since the last one (an index), rewrites their facts,
and sums again the days those facts touched. A full rebuild does the same for every job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, case, cast, delete, func, insert, literal, select, text
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.models import Job, JobStat, Setting, StatsDaily, StatsMonthly, utcnow
from app.services.stats_facts import COLUMNS, FACT_FIELDS, FINISHED_VALUES, as_tuple, job_facts

log = logging.getLogger("frameshift.stats")

WATERMARK = "stats.watermark"
RECOUNT = "stats.recount"  # {"last_id", "mark", "counted"} while a recount of every job is under way
# A read recounts for at most this long; the next read goes on where it stopped (an upgrade of a big
# install must not hold the first request for minutes).
BUDGET = 2.0
# A transaction may commit a job whose updated_at is a little older than the newest one already read.
SLACK = timedelta(minutes=2)
CHUNK = 5000
LOCK_KEY = 0x46535354  # pg_advisory_xact_lock key: "FSST"


def _lock() -> None:
    """Let one refresh at a time write (PostgreSQL; SQLite's write lock does this by itself)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})


def _watermark() -> datetime | None:
    row = db.session.get(Setting, WATERMARK)
    return datetime.fromisoformat(row.value) if row and row.value else None


def _put(key: str, value: Any) -> None:
    row = db.session.get(Setting, key)
    if value is None:
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(Setting(key=key, value=value))
    else:
        row.value = value  # a new object each time: JSON columns do not track changes inside


def _set_watermark(value: datetime) -> None:
    _put(WATERMARK, value.isoformat())


def recount_state() -> dict[str, Any] | None:
    """Return how far a recount got (None when the statistics are complete)."""
    row = db.session.get(Setting, RECOUNT)
    return row.value if row else None


def refresh() -> int:
    """Bring the statistics up to date with the jobs; return how many jobs' facts changed.

    Safe to call on every read: without changes it is one indexed query. When another refresh holds
    the write lock (SQLite), it gives up and the caller reads what is there.
    """
    try:
        return _refresh()
    except DBAPIError as exc:
        db.session.rollback()
        log.info("statistics refresh skipped: %s", exc.orig)
        return 0


def _refresh() -> int:
    from app.services.jobs import media_roots

    mark = _watermark()
    if mark is None:
        return _recount(BUDGET)
    roots = media_roots()
    # No ORDER BY: SQLite would then walk the primary key instead of the updated_at index.
    rows = db.session.execute(select(*COLUMNS).where(Job.updated_at >= mark - SLACK)).all()
    if not rows:
        return 0
    newest = max(r.updated_at for r in rows if r.updated_at is not None)
    new = {r.id: job_facts(r, roots) for r in rows}
    ids = list(new)
    old: dict[int, tuple] = {}
    for first in range(0, len(ids), CHUNK):
        part = ids[first : first + CHUNK]
        found = db.session.execute(select(*JobStat.__table__.columns).where(JobStat.job_id.in_(part)))
        old.update({r.job_id: tuple(r) for r in found})
    changed = [i for i in ids if as_tuple(new[i]) != old.get(i)]
    if not changed:
        if newest > mark:
            _lock()
            _set_watermark(newest)
            db.session.commit()
        return 0
    _lock()
    days = {old[i][FACT_FIELDS.index("day")] for i in changed if i in old}
    days |= {new[i]["day"] for i in changed if new[i] is not None}
    for first in range(0, len(changed), CHUNK):
        part = changed[first : first + CHUNK]
        db.session.execute(delete(JobStat).where(JobStat.job_id.in_(part)))
        rows_in = [new[i] for i in part if new[i] is not None]
        if rows_in:
            db.session.execute(insert(JobStat), rows_in)
    _sum_days(sorted(days))
    _set_watermark(max(newest, mark))
    db.session.commit()
    return len(changed)


def rebuild() -> int:
    """Recount every job now, however long it takes; return how many finished jobs were counted."""
    _lock()
    _put(WATERMARK, None)
    _put(RECOUNT, None)
    db.session.commit()
    return _recount(None)


def _recount(budget: float | None) -> int:
    """Count every finished job into empty statistics, in chunks (each committed) until done or out of budget."""
    from app.services.jobs import media_roots

    roots = media_roots()
    deadline = None if budget is None else time.monotonic() + budget
    while True:
        _lock()
        state = recount_state()
        if _watermark() is not None:
            return 0  # another process finished the recount meanwhile
        if state is None:
            db.session.execute(delete(StatsMonthly))
            db.session.execute(delete(StatsDaily))
            db.session.execute(delete(JobStat))
            # Jobs that change from now on are newer than this and the first refresh after the recount reads them.
            mark = db.session.execute(select(func.max(Job.updated_at))).scalar() or utcnow()
            state = {"last_id": 0, "mark": mark.isoformat(), "counted": 0}
        rows = db.session.execute(
            select(*COLUMNS)
            .where(Job.id > state["last_id"], Job.status.in_(FINISHED_VALUES))
            .order_by(Job.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            _sum_days(None)
            _set_watermark(datetime.fromisoformat(state["mark"]))
            _put(RECOUNT, None)
            db.session.commit()
            return state["counted"]
        facts = [f for f in (job_facts(r, roots) for r in rows) if f is not None]
        if facts:
            db.session.execute(insert(JobStat), facts)
        state = {**state, "last_id": rows[-1].id, "counted": state["counted"] + len(facts)}
        _put(RECOUNT, state)
        db.session.commit()
        if deadline is not None and time.monotonic() > deadline:
            return state["counted"]


# Each dimension: its two keys, which outcomes it counts, and (for histograms) the bucket column.
S = JobStat.__table__.c
EMPTY = literal("")
DIMENSIONS: dict[str, tuple[Any, Any, list[str] | None]] = {
    "total": (EMPTY, EMPTY, None),
    "folder": (S.folder, EMPTY, None),
    "follower": (S.follower, S.target, None),
    "codec": (S.codec_in, S.codec_out, ["succeeded"]),
    "container": (S.container_in, S.container_out, ["succeeded"]),
    "preset": (S.target, S.preset, ["succeeded"]),
    "reason": (S.reason, EMPTY, ["failed"]),
    "wait": (cast(S.wait_bucket, String), EMPTY, None),
    "work": (cast(S.work_bucket, String), EMPTY, ["succeeded"]),
}
NOT_NULL = {"wait": S.wait_bucket, "work": S.work_bucket, "reason": S.reason}


def _sum_days(days: list[date] | None) -> None:
    """Replace the daily sums of the given days (all days when None) with sums of their facts, then their months."""
    chunks: Iterable[list[date] | None] = (
        [None] if days is None else (days[i : i + 500] for i in range(0, len(days), 500))
    )
    target = StatsDaily.__table__
    for part in chunks:
        if part is not None:
            db.session.execute(delete(StatsDaily).where(StatsDaily.day.in_(part)))
        for dim, (key1, key2, outcomes) in DIMENSIONS.items():
            query = select(
                S.day,
                literal(dim).label("dim"),
                key1.label("key1"),
                key2.label("key2"),
                S.outcome,
                func.count().label("jobs"),
                func.coalesce(func.sum(S.input_bytes), 0),
                func.coalesce(func.sum(S.output_bytes), 0),
                func.coalesce(func.sum(S.ratio), 0.0),
                func.count(S.ratio),
                func.coalesce(func.sum(S.media_seconds), 0.0),
                func.coalesce(func.sum(S.work_seconds), 0.0),
                func.coalesce(func.sum(case((S.fps.is_not(None), S.fps), else_=0.0)), 0.0),
                func.count(S.fps),
            )
            if part is not None:
                query = query.where(S.day.in_(part))
            if outcomes:
                query = query.where(S.outcome.in_(outcomes))
            if dim in NOT_NULL:
                query = query.where(NOT_NULL[dim].is_not(None))
            # A constant in GROUP BY is an error on PostgreSQL: group by the key columns only.
            keys = [k for k in (key1, key2) if k is not EMPTY]
            query = query.group_by(S.day, *keys, S.outcome)
            columns = [
                "day",
                "dim",
                "key1",
                "key2",
                "outcome",
                "jobs",
                "input_bytes",
                "output_bytes",
                "ratio_sum",
                "ratio_n",
                "media_seconds",
                "work_seconds",
                "fps_sum",
                "fps_n",
            ]
            db.session.execute(target.insert().from_select(columns, query))
    if days is None:
        found = db.session.execute(select(func.min(StatsDaily.day), func.max(StatsDaily.day))).one()
        if found[0] is None:
            return
        months, month = [], _month(_as_date(found[0]))
        while month <= _as_date(found[1]):
            months.append(month)
            month = next_month(month)
    else:
        months = sorted({_month(d) for d in days})
    _sum_months(months)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _month(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    """Return the first day of the month after `month`."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


SUMS = (
    "jobs",
    "input_bytes",
    "output_bytes",
    "ratio_sum",
    "ratio_n",
    "media_seconds",
    "work_seconds",
    "fps_sum",
    "fps_n",
)


def _sum_months(months: list[date]) -> None:
    """Replace the monthly sums of the given months with sums of their daily rows."""
    d = StatsDaily
    keys = ("day", "dim", "key1", "key2", "outcome")
    for month in months:
        db.session.execute(delete(StatsMonthly).where(StatsMonthly.day == month))
        query = (
            select(
                literal(month).label("day"), d.dim, d.key1, d.key2, d.outcome, *(func.sum(getattr(d, n)) for n in SUMS)
            )
            .where(d.day >= month, d.day < next_month(month))
            .group_by(d.dim, d.key1, d.key2, d.outcome)
        )
        db.session.execute(StatsMonthly.__table__.insert().from_select([*keys, *SUMS], query))
