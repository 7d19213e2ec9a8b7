"""A known set of finished jobs for the statistics tests, and the figures worked out from it by hand-written
Python (not SQL), so that the page, the API and the database can be checked against an independent answer."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

# (folder, outcome, follower, codec_in, codec_out, target, preset, in_ext, out_ext, in MB, out MB, days ago,
#  wait s, work s, media s, fps, error)
# fmt: off
ROWS: list[tuple] = [
    ("Movies", "succeeded", "alpha@host", "h264", "hevc", "libx265", "slow", "mp4", "mkv", 900, 300, 0, 5, 120, 600, 48.0, None),
    ("Movies", "succeeded", "alpha@host", "h264", "hevc", "libx265", "slow", "mp4", "mkv", 700, 350, 1, 40, 200, 500, 30.0, None),
    ("Movies", "succeeded", "beta@host", "mpeg4", "hevc", "libx265", "medium", "avi", "mkv", 500, 100, 1, 700, 90, 450, 60.0, None),
    ("Shows", "succeeded", "beta@host", "h264", "h264", "libx264", "fast", "mkv", "mp4", 400, 320, 2, 12, 30, 300, 120.0, None),
    ("Shows", "succeeded", "alpha@host", "hevc", "av1", "libsvtav1", "slow", "mkv", "mkv", 300, 150, 3, 3600, 600, 300, 12.5, None),
    ("Shows", "failed", "beta@host", "h264", None, "libx265", "slow", "mkv", "mkv", 200, 0, 3, 8, 15, 0, None, "the output failed verification: moov atom not found"),
    ("Shows", "failed", "alpha@host", "h264", None, "libx265", "slow", "mkv", "mkv", 250, 0, 2, 9, 4, 0, None, "follower alpha@host was lost"),
    ("Clips", "failed", "alpha@host", "h264", None, "libx264", "fast", "mov", "mp4", 50, 0, 0, 2, 3, 0, None, "follower alpha@host was lost\nmore detail on a second line"),
    ("Clips", "cancelled", "beta@host", "h264", None, "libx265", "slow", "mov", "mkv", 60, 0, 0, 1, 7, 0, None, "cancelled by user"),
    ("Clips", "succeeded", "beta@host", "h264", "hevc", "libx265", "slow", "mov", "mkv", 80, 100, 6, 20, 45, 90, 40.0, None),
    # Outside the week and the month: only "all" counts it.
    ("Old", "succeeded", "alpha@host", "vp9", "hevc", "libx265", "slow", "webm", "mkv", 1000, 250, 45, 30, 300, 1200, 35.0, None),
    # Directly in the media root.
    (None, "succeeded", "beta@host", "h264", "hevc", "libx265", "slow", "mp4", "mkv", 120, 60, 0, 6, 20, 60, 50.0, None),
]
# fmt: on
MB = 1_000_000
FOLLOWERS = {"alpha@host": 2, "beta@host": 1}


def finished_at(today: date, days_ago: int, i: int) -> datetime:
    return datetime.combine(today - timedelta(days=days_ago), datetime.min.time()) + timedelta(hours=9, minutes=i)


def seed(root: Path, today: date, online_since: datetime | None = None) -> list[int]:
    """Insert ROWS as jobs (and the two followers); return the job ids. Call inside an app context."""
    from app.extensions import db
    from app.models import Follower, Job

    ids = []
    for i, row in enumerate(ROWS):
        (
            folder,
            outcome,
            follower,
            cin,
            cout,
            target,
            preset,
            iext,
            oext,
            in_mb,
            out_mb,
            ago,
            wait,
            work,
            media,
            fps,
            err,
        ) = row
        base = root / folder if folder else root
        done = finished_at(today, ago, i)
        started = done - timedelta(seconds=work)
        source = f"{base}/clip {i}.{iext}"
        job = Job(
            name=f"clip {i}.{iext}",
            input_path=source,
            output_path=f"{base}/clip {i}_converted.{oext}",
            spec={"mode": "basic", "video_codec": target, "preset": preset, "container": oext},
            status=outcome,
            follower=follower,
            input_size=in_mb * MB,
            output_size=out_mb * MB if outcome == "succeeded" else None,
            duration=float(media) if media else None,
            fps=fps,
            error=err,
            result={"video_codec": cout, "input_video_codec": cin} if outcome == "succeeded" else None,
            created_at=started - timedelta(seconds=wait),
            started_at=started,
            finished_at=done,
            attempt=1,
        )
        db.session.add(job)
        db.session.flush()
        ids.append(job.id)
    since = online_since or datetime.combine(today - timedelta(days=60), datetime.min.time())
    for name, slots in FOLLOWERS.items():
        db.session.merge(Follower(name=name, online=True, concurrency=slots, first_seen=since, last_heartbeat=since))
    db.session.commit()
    return ids


def in_period(days: int | None) -> list[tuple]:
    return [r for r in ROWS if days is None or r[11] < days]


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * q)) - 1]


def expected(days: int | None) -> dict[str, Any]:
    """The figures for the last `days` days (None: all time), computed from ROWS."""
    rows = in_period(days)
    ok = [r for r in rows if r[1] == "succeeded"]
    folders: dict[str, int] = {}
    for r in ok:
        name = r[0] or "(top folder)"
        folders[name] = folders.get(name, 0) + (r[9] - r[10]) * MB
    reasons: dict[str, int] = {}
    for r in rows:
        if r[1] == "failed":
            reason = r[16].splitlines()[0]
            reasons[reason] = reasons.get(reason, 0) + 1
    followers: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = followers.setdefault(r[2], {"succeeded": 0, "failed": 0, "cancelled": 0, "busy": 0.0, "codecs": {}})
        entry[r[1]] += 1
        entry["busy"] += r[13]
        if r[1] == "succeeded":
            codec = entry["codecs"].setdefault(r[5], {"jobs": 0, "media": 0.0, "work": 0.0, "fps": []})
            codec["jobs"] += 1
            codec["media"] += r[14]
            codec["work"] += r[13]
            codec["fps"].append(r[15])
    ratios: dict[tuple[str, str], list[float]] = {}
    for r in ok:
        ratios.setdefault((r[5], r[6]), []).append(r[10] / r[9])
    count = lambda values: {v: values.count(v) for v in set(values)}  # noqa: E731
    return {
        "totals": {
            "jobs": len(rows),
            "succeeded": len(ok),
            "failed": sum(r[1] == "failed" for r in rows),
            "cancelled": sum(r[1] == "cancelled" for r in rows),
            "saved_bytes": sum((r[9] - r[10]) * MB for r in ok),
        },
        "folders": folders,
        "reasons": reasons,
        "followers": followers,
        "codecs_before": count([r[3] for r in ok]),
        "codecs_after": count([r[4] for r in ok]),
        "containers_before": count([r[7] for r in ok]),
        "containers_after": count([r[8] for r in ok]),
        "ratios": {k: sum(v) / len(v) for k, v in ratios.items()},
        "wait_median": nearest_rank([r[12] for r in rows], 0.5),
        "wait_p90": nearest_rank([r[12] for r in rows], 0.9),
        "work_median": nearest_rank([r[13] for r in ok], 0.5),
        "work_p90": nearest_rank([r[13] for r in ok], 0.9),
    }
