"""What one finished job contributes to the statistics: its facts row (job_stats), read from a few columns.

Durations are counted in histogram buckets, failures by the first line of their error, inputs by their top
folder below the media root. app/services/stats_refresh.py keeps the tables in step with the jobs.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from app.models import FINISHED, Job, JobStat

# Waiting and conversion times are counted in buckets a quarter of an octave wide (each 19% wider than
# the last): a median read from them is off by at most 9%, and a day holds a few dozen rows at most.
PER_OCTAVE = 4
SMALLEST = 1 / 16  # seconds; shorter times share bucket 0
FINISHED_VALUES = [s.value for s in FINISHED]
UNKNOWN = "unknown"
TOP_FOLDER = "(top folder)"


def bucket(seconds: float | None) -> int | None:
    """Return the histogram bucket of a duration in seconds."""
    if seconds is None:
        return None
    return max(0, math.floor(PER_OCTAVE * math.log2(max(seconds, SMALLEST) / SMALLEST)))


def bucket_bounds(index: int) -> tuple[float, float]:
    """Return the [low, high) seconds a bucket covers."""
    return SMALLEST * 2 ** (index / PER_OCTAVE), SMALLEST * 2 ** ((index + 1) / PER_OCTAVE)


def failure_reason(error: str | None) -> str:
    """Return the first line of an error, cut to fit: failures with the same message count together."""
    first = (error or "").strip().splitlines()
    line = first[0].strip() if first else ""
    return (line or "no reason recorded")[:200]


def top_folder(path: str, roots: list[Path]) -> str:
    """Return the first folder of path below its media root (named with its root when there are several)."""
    posix = PurePosixPath(path)
    for root in roots:
        try:
            parts = posix.relative_to(PurePosixPath(str(root))).parts
        except ValueError:
            continue
        name = parts[0] if len(parts) > 1 else TOP_FOLDER
        return f"{root.name}/{name}"[:255] if len(roots) > 1 else name[:255]
    return "(outside the media folders)"


def _extension(path: str | None) -> str:
    suffix = PurePosixPath(path or "").suffix.lower().lstrip(".")
    return suffix[:16] or UNKNOWN


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return max(0.0, (later - earlier).total_seconds())


# Only the JSON members statistics need, extracted by the database (json_extract / ->>), never whole documents.
COLUMNS = (
    Job.id,
    Job.status,
    Job.input_path,
    Job.output_path,
    Job.follower,
    Job.error,
    Job.input_size,
    Job.output_size,
    Job.duration,
    Job.fps,
    Job.created_at,
    Job.started_at,
    Job.finished_at,
    Job.updated_at,
    Job.spec["mode"].as_string().label("mode"),
    Job.spec["video_codec"].as_string().label("target"),
    Job.spec["preset"].as_string().label("preset"),
    Job.result["video_codec"].as_string().label("codec_out"),
    Job.result["input_video_codec"].as_string().label("codec_in"),
)


def job_facts(row: Any, roots: list[Path]) -> dict[str, Any] | None:
    """Return the job_stats row for one job (a row of COLUMNS), or None while it is not finished."""
    if row.status not in FINISHED_VALUES or row.finished_at is None:
        return None
    succeeded = row.status == "succeeded"
    custom = row.mode == "custom"
    target = "custom" if custom else (row.target or UNKNOWN)
    input_bytes = int(row.input_size or 0)
    output_bytes = int(row.output_size or 0) if succeeded else 0
    work = _seconds(row.finished_at, row.started_at)
    wait = _seconds(row.started_at, row.created_at)
    return {
        "job_id": row.id,
        "day": row.finished_at.date(),
        "outcome": row.status,
        "folder": top_folder(row.input_path, roots),
        "follower": (row.follower or "(none)")[:255],
        "target": target[:32],
        "preset": ("custom" if custom else (row.preset or UNKNOWN))[:32],
        "codec_in": (row.codec_in or UNKNOWN)[:32],
        "codec_out": (row.codec_out or (row.codec_in if target == "copy" else None) or UNKNOWN)[:32],
        "container_in": _extension(row.input_path),
        "container_out": _extension(row.output_path),
        "input_bytes": input_bytes,
        "output_bytes": output_bytes,
        "ratio": output_bytes / input_bytes if succeeded and input_bytes > 0 and output_bytes > 0 else None,
        "media_seconds": float(row.duration or 0.0) if succeeded else 0.0,
        "work_seconds": work,
        "wait_seconds": wait,
        "fps": float(row.fps) if succeeded and row.fps else None,
        "wait_bucket": bucket(wait),
        "work_bucket": bucket(work) if succeeded else None,
        "reason": failure_reason(row.error) if row.status == "failed" else None,
    }


FACT_FIELDS = tuple(c.name for c in JobStat.__table__.columns)


def as_tuple(facts: dict[str, Any] | None) -> tuple | None:
    """The facts in FACT_FIELDS order (to compare with a stored row), or None."""
    return None if facts is None else tuple(facts[name] for name in FACT_FIELDS)
