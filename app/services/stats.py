"""What the fleet did in a period: the figures of the Statistics page and GET /api/stats, from the daily sums."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.models import Follower, Job, JobStat, StatsDaily, StatsMonthly, utcnow
from app.services.stats_facts import bucket_bounds
from app.services.stats_period import Period
from app.services.stats_refresh import SUMS, next_month, recount_state, refresh

OUTCOMES = ("succeeded", "failed", "cancelled")
TOP_REASONS = 10
JOBS_PER_REASON = 5


def _pieces(period: Period) -> list[tuple[Any, date | None, date | None]]:
    """Cover the period with whole months from stats_monthly and the days at either end from stats_daily."""
    first, last = period.first, period.last
    if first is None:
        found = db.session.execute(select(func.min(StatsDaily.day), func.max(StatsDaily.day))).one()
        if found[0] is None:
            return []
        first, last = _as_date(found[0]), _as_date(found[1])
    month_first = first if first.day == 1 else next_month(first.replace(day=1))
    # The first day after the last whole month: last's own month counts only when last is its final day.
    month_end = last + timedelta(days=1) if (last + timedelta(days=1)).day == 1 else last.replace(day=1)
    if month_first >= month_end:
        return [(StatsDaily, first, last)]
    pieces: list[tuple[Any, date | None, date | None]] = [(StatsMonthly, month_first, month_end - timedelta(days=1))]
    if first < month_first:
        pieces.append((StatsDaily, first, month_first - timedelta(days=1)))
    if month_end <= last:
        pieces.append((StatsDaily, month_end, last))
    return pieces


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _in_period(query, table, first: date | None, last: date | None):
    if first is not None:
        query = query.where(table.day >= first)
    if last is not None:
        query = query.where(table.day <= last)
    return query


def _grouped(period: Period) -> dict[str, list[tuple]]:
    """Sum every dimension's rows over the period: (key1, key2, outcome, sums...) per dimension."""
    totals: dict[tuple, list[float]] = {}
    for table, first, last in _pieces(period):
        query = select(table.dim, table.key1, table.key2, table.outcome, *(func.sum(getattr(table, n)) for n in SUMS))
        query = _in_period(query, table, first, last).group_by(table.dim, table.key1, table.key2, table.outcome)
        for row in db.session.execute(query):
            values = [_number(v) for v in row[4:]]
            found = totals.get(tuple(row[:4]))
            totals[tuple(row[:4])] = values if found is None else [a + b for a, b in zip(found, values)]
    rows: dict[str, list[tuple]] = {}
    for (dim, key1, key2, outcome), values in sorted(totals.items()):
        rows.setdefault(dim, []).append((key1, key2, outcome, *values))
    return rows


def statistics(period: Period) -> dict[str, Any]:
    """Return every figure for the period (refreshing the sums first)."""
    refresh()
    d = StatsDaily
    rows = _grouped(period)
    daily = db.session.execute(
        _in_period(
            select(d.day, d.outcome, d.jobs, d.input_bytes, d.output_bytes).where(d.dim == "total"),
            d,
            period.first,
            period.last,
        ).order_by(d.day)
    ).all()
    days = _days(daily, period)
    first = period.first or (days[0]["day"] if days else None)
    last = period.last or (days[-1]["day"] if days else None)
    recount = recount_state()
    return {
        # While past jobs are still being counted (after an upgrade), how many are in so far.
        "counting": None if recount is None else {"counted": recount["counted"]},
        "period": {
            "name": period.name,
            "from": first.isoformat() if first else None,
            "to": last.isoformat() if last else None,
        },
        "totals": _totals(rows.get("total", [])),
        "days": [{**day, "day": day["day"].isoformat()} for day in days],
        "folders": _folders(rows.get("folder", [])),
        "failures": _failures(rows.get("reason", []), period),
        "followers": _followers(rows.get("follower", []), first, last),
        "codecs": _before_after(rows.get("codec", [])),
        "containers": _before_after(rows.get("container", [])),
        "size_ratio": _size_ratio(rows.get("preset", [])),
        "durations": {
            "wait": _distribution(rows.get("wait", [])),
            "conversion": _distribution(rows.get("work", [])),
        },
    }


def _number(value: Any) -> float | int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    number = float(value)  # PostgreSQL sums integers as numeric
    return int(number) if number.is_integer() else number


def _days(daily: list, period: Period) -> list[dict[str, Any]]:
    """One entry per day of the period (no gaps, so charts and tables line up): jobs by outcome, space saved."""
    found: dict[date, dict[str, Any]] = {}
    for day, outcome, jobs, input_bytes, output_bytes in daily:
        day = day if isinstance(day, date) else date.fromisoformat(str(day))
        entry = found.setdefault(day, {"day": day, **{o: 0 for o in OUTCOMES}, "saved_bytes": 0})
        entry[outcome] = int(jobs)
        if outcome == "succeeded":
            entry["saved_bytes"] = int(input_bytes) - int(output_bytes)
    if not found and period.first is None:
        return []
    start = period.first or min(found)
    end = period.last or max(found)
    out, total, day = [], 0, start
    while day <= end:
        entry = found.get(day) or {"day": day, **{o: 0 for o in OUTCOMES}, "saved_bytes": 0}
        total += entry["saved_bytes"]
        out.append({**entry, "saved_cumulative": total})
        day += timedelta(days=1)
    return out


def _totals(folder_rows: list[tuple]) -> dict[str, int]:
    totals = {"jobs": 0, **{o: 0 for o in OUTCOMES}, "input_bytes": 0, "output_bytes": 0, "saved_bytes": 0}
    for _key1, _key2, outcome, jobs, input_bytes, output_bytes, *_ in folder_rows:
        totals["jobs"] += jobs
        totals[outcome] += jobs
        if outcome == "succeeded":
            totals["input_bytes"] += input_bytes
            totals["output_bytes"] += output_bytes
    totals["saved_bytes"] = totals["input_bytes"] - totals["output_bytes"]
    return totals


def _folders(folder_rows: list[tuple]) -> list[dict[str, Any]]:
    folders: dict[str, dict[str, Any]] = {}
    for folder, _key2, outcome, jobs, input_bytes, output_bytes, *_ in folder_rows:
        entry = folders.setdefault(folder, {"folder": folder, "jobs": 0, "input_bytes": 0, "output_bytes": 0})
        if outcome == "succeeded":
            entry["jobs"] += jobs
            entry["input_bytes"] += input_bytes
            entry["output_bytes"] += output_bytes
    out = [{**f, "saved_bytes": f["input_bytes"] - f["output_bytes"]} for f in folders.values() if f["jobs"]]
    return sorted(out, key=lambda f: (-f["saved_bytes"], f["folder"]))


def _failures(reason_rows: list[tuple], period: Period) -> dict[str, Any]:
    counts = sorted(((jobs, reason) for reason, _k, _o, jobs, *_ in reason_rows), key=lambda c: (-c[0], c[1]))
    latest: dict[str, list[int]] = {}
    for _count, reason in counts[:TOP_REASONS]:
        query = select(JobStat.job_id).where(JobStat.reason == reason).order_by(JobStat.job_id.desc())
        if period.first is not None:
            query = query.where(JobStat.day >= period.first)
        if period.last is not None:
            query = query.where(JobStat.day <= period.last)
        latest[reason] = list(db.session.execute(query.limit(JOBS_PER_REASON)).scalars())
    # Links only to jobs still in the queue (a cleared job keeps counting, but has no page): one query for all.
    wanted = [i for ids in latest.values() for i in ids]
    present = set(db.session.execute(select(Job.id).where(Job.id.in_(wanted))).scalars()) if wanted else set()
    reasons = [
        {"reason": reason, "count": count, "jobs": [i for i in latest[reason] if i in present]}
        for count, reason in counts[:TOP_REASONS]
    ]
    return {"total": sum(c for c, _ in counts), "reasons": reasons}


def _followers(rows: list[tuple], first: date | None, last: date | None) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    codecs: dict[tuple[str, str], dict[str, float]] = {}
    for name, target, outcome, jobs, _i, _o, _rs, _rn, media, work, fps_sum, fps_n in rows:
        entry = found.setdefault(name, {"name": name, **{o: 0 for o in OUTCOMES}, "busy_seconds": 0.0})
        entry[outcome] += jobs
        entry["busy_seconds"] += work
        if outcome == "succeeded":
            codec = codecs.setdefault(
                (name, target), {"jobs": 0, "media": 0.0, "work": 0.0, "fps_sum": 0.0, "fps_n": 0}
            )
            codec["jobs"] += jobs
            codec["media"] += media
            codec["work"] += work
            codec["fps_sum"] += fps_sum
            codec["fps_n"] += fps_n
    rows_by_name = {f.name: f for f in db.session.execute(select(Follower)).scalars()} if found else {}
    out = []
    for name, entry in sorted(found.items()):
        online = _online_seconds(rows_by_name.get(name), first, last)
        slots = rows_by_name[name].concurrency if name in rows_by_name else 1
        share = min(1.0, entry["busy_seconds"] / (online * max(slots, 1))) if online else None
        entry.update(
            busy_seconds=round(entry["busy_seconds"], 1),
            online_seconds=online,
            slots=slots,
            busy_share=None if share is None else round(share, 4),
            codecs=[
                {
                    "codec": target,
                    "jobs": c["jobs"],
                    "speed": round(c["media"] / c["work"], 3) if c["work"] else None,
                    "fps": round(c["fps_sum"] / c["fps_n"], 2) if c["fps_n"] else None,
                }
                for (who, target), c in sorted(codecs.items())
                if who == name
            ],
        )
        out.append(entry)
    return out


def _online_seconds(follower: Follower | None, first: date | None, last: date | None) -> float | None:
    """Seconds between the follower's first sighting and its last heartbeat (now while online), inside the period.

    The database keeps no history of outages in between, so this is an upper bound of its online time.
    """
    if follower is None or follower.first_seen is None:
        return None
    now = utcnow()
    end = now if follower.online else (follower.last_heartbeat or follower.first_seen)
    start = follower.first_seen
    if first is not None:
        start = max(start, datetime.combine(first, datetime.min.time()))
    if last is not None:
        end = min(end, datetime.combine(last + timedelta(days=1), datetime.min.time()))
    return round(max(0.0, (end - start).total_seconds()), 1)


def _before_after(rows: list[tuple]) -> dict[str, list[dict[str, Any]]]:
    before: dict[str, int] = {}
    after: dict[str, int] = {}
    for key_in, key_out, _outcome, jobs, *_ in rows:
        before[key_in] = before.get(key_in, 0) + jobs
        after[key_out] = after.get(key_out, 0) + jobs
    ordered = lambda counts: [{"name": k, "jobs": v} for k, v in sorted(counts.items(), key=lambda i: (-i[1], i[0]))]  # noqa: E731
    return {"before": ordered(before), "after": ordered(after)}


def _size_ratio(rows: list[tuple]) -> list[dict[str, Any]]:
    out = []
    for target, preset, _outcome, jobs, input_bytes, output_bytes, ratio_sum, ratio_n, *_ in rows:
        out.append(
            {
                "codec": target,
                "preset": preset,
                "jobs": jobs,
                "ratio": round(ratio_sum / ratio_n, 4) if ratio_n else None,
                "input_bytes": input_bytes,
                "output_bytes": output_bytes,
            }
        )
    return sorted(out, key=lambda r: (r["codec"], r["preset"]))


def _distribution(rows: list[tuple]) -> dict[str, Any]:
    """Median and p90 from the bucket counts (each value is its bucket's geometric middle: within 9%)."""
    counts: dict[int, int] = {}
    for key, _k2, _outcome, jobs, *_ in rows:
        counts[int(key)] = counts.get(int(key), 0) + jobs
    total = sum(counts.values())
    histogram = []
    for index in sorted(counts):
        low, high = bucket_bounds(index)
        histogram.append({"from": round(low, 3), "to": round(high, 3), "jobs": counts[index]})

    def quantile(q: float) -> float | None:
        if not total:
            return None
        rank, seen = max(1, -(-total * q // 1)), 0
        for index in sorted(counts):
            seen += counts[index]
            if seen >= rank:
                low, high = bucket_bounds(index)
                return round((low * high) ** 0.5, 2)
        return None

    return {"jobs": total, "median": quantile(0.5), "p90": quantile(0.9), "histogram": histogram}
