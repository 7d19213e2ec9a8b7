"""The processes a follower's pool starts (FFmpeg, ffprobe, wrappers), read from /proc: for benchmarks that
watch them from outside (bench/dispatch_latency.py, bench/progress_freshness.py)."""

from __future__ import annotations

from pathlib import Path


def children(pid: int) -> list[int]:
    """The children of every thread of pid (a pool process may start FFmpeg from any of its threads)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def pool_children(worker_pid: int) -> list[int]:
    """The children of the worker's pool processes (the worker's children); [] when it is gone."""
    try:
        pools = children(worker_pid)
    except OSError:
        return []
    found = []
    for pool in pools:
        try:
            found += children(pool)
        except OSError:
            continue
    return found
