"""The CPU and memory use a follower reports in its advertisement (tasks/machine_load.py), checked for display."""

from __future__ import annotations

import math
from typing import Any


def _number(value: Any, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value) if low <= value <= high else None


def machine_load(info: dict[str, Any], online: bool) -> dict[str, Any] | None:
    """Return {"cpu_percent", "cpus", "memory_used", "memory_total", "memory_percent"} while online, else None.

    Values come from another machine: anything missing, out of range or not a number becomes None ("unknown").
    """
    load = info.get("load")
    if not online or not isinstance(load, dict):
        return None
    cpus = _number(load.get("cpus"), 1, 65536)
    total = _number(load.get("memory_total"), 1, 2**60)
    used = _number(load.get("memory_used"), 0, total) if total else None
    return {
        "cpu_percent": _number(load.get("cpu_percent"), 0, 100),
        "cpus": int(cpus) if cpus else None,
        "memory_used": int(used) if used is not None else None,
        "memory_total": int(total) if total else None,
        "memory_percent": round(100.0 * used / total, 1) if used is not None and total else None,
    }
