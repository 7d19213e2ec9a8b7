"""What the file browser shows beyond a stat: cached durations and jobs that already converted a file."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.models import Job, JobStatus, MediaProbe, utcnow
from app.services.errors import ServiceError
from app.services.files import Entry
from tasks.ffmpeg_lib import ProbeError, probe
from tasks.paths import PathError, resolve_inside

MAX_PROBES_PER_REQUEST = 60
PROBE_WORKERS = 4
PROBE_TIMEOUT = 20.0
MAX_CACHED_PATH_BYTES = 2000


def _chunks(items: list[str], size: int = 500):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def annotate(entries: list[Entry]) -> None:
    """Fill in cached durations and mark videos a succeeded job already converted (one query each)."""
    videos = [e for e in entries if e.video]
    if not videos:
        return
    paths = [e.path for e in videos]
    cached: dict[str, MediaProbe] = {}
    done: set[str] = set()
    for chunk in _chunks(paths):
        cached.update(
            {p.path: p for p in db.session.execute(select(MediaProbe).where(MediaProbe.path.in_(chunk))).scalars()}
        )
        done.update(
            db.session.execute(
                select(Job.input_path).where(Job.input_path.in_(chunk), Job.status == JobStatus.SUCCEEDED.value)
            ).scalars()
        )
    for e in videos:
        row = cached.get(e.path)
        if row is not None and row.size == e.size and row.mtime_ns == e.mtime_ns:
            e.duration = row.duration
        e.converted = e.converted or e.path in done


def _probe_one(path: str) -> tuple[float | None, str | None]:
    try:
        data = probe(path, timeout=PROBE_TIMEOUT)
    except ProbeError as exc:
        return None, str(exc)
    try:
        return float(data.get("format", {}).get("duration")), None
    except (TypeError, ValueError):
        return None, "ffprobe reported no duration"


def probe_durations(paths: list[str], roots: list[Path]) -> dict[str, float | None]:
    """Return durations for up to MAX_PROBES_PER_REQUEST files, probing (in parallel) only what the cache lacks."""
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ServiceError("paths: give a list of file paths", field="paths")
    if len(paths) > MAX_PROBES_PER_REQUEST:
        raise ServiceError(f"paths: at most {MAX_PROBES_PER_REQUEST} files per request", field="paths")
    stats: dict[str, os.stat_result] = {}
    real: dict[str, str] = {}  # the path as listed -> the file it resolved to inside the roots
    for raw in paths:
        try:
            resolved = str(resolve_inside(raw, roots))
        except PathError as exc:
            raise ServiceError(f"paths: {exc}", field="paths") from None
        if not os.path.isabs(raw):
            continue  # the browser only sends the absolute paths a listing gave it
        try:
            # Keyed by the path as listed (a symlink's own path), so the listing finds it again.
            stats[raw] = os.stat(resolved)
            real[raw] = resolved
        except OSError:
            continue
    rows = {r.path: r for r in db.session.execute(select(MediaProbe).where(MediaProbe.path.in_(list(stats)))).scalars()}
    result: dict[str, float | None] = {}
    missing = []
    for path, st in stats.items():
        row = rows.get(path)
        if row is not None and row.size == st.st_size and row.mtime_ns == st.st_mtime_ns:
            result[path] = row.duration
        else:
            missing.append(path)
    with ThreadPoolExecutor(max_workers=PROBE_WORKERS) as pool:
        # Probe the resolved file, not the listed name: a symlink swapped after the check must not redirect it.
        probed = dict(zip(missing, pool.map(_probe_one, [real[p] for p in missing])))
    for path, (duration, error) in probed.items():
        result[path] = duration
        if len(path.encode()) > MAX_CACHED_PATH_BYTES:
            continue  # longer than an index key may be (PostgreSQL); probed again next time
        st = stats[path]
        row = rows.get(path) or MediaProbe(path=path)
        row.size, row.mtime_ns, row.duration, row.error, row.probed_at = (
            st.st_size,
            st.st_mtime_ns,
            duration,
            error,
            utcnow(),
        )
        db.session.merge(row)
    db.session.commit()
    return result
