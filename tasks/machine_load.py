"""This machine's CPU and memory use, read from /proc (Linux) without extra dependencies.

The follower sends it in its advertisement every ADVERT_EVERY seconds (tasks/worker_signals.py); the CPU
figure is the share of time not idle between two readings of /proc/stat, so it covers that interval.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

PROC_STAT = "/proc/stat"
PROC_MEMINFO = "/proc/meminfo"


@dataclass(frozen=True)
class CpuTimes:
    """The machine's cumulative CPU time, in clock ticks: busy and total (all CPUs)."""

    busy: int
    total: int


def parse_cpu_line(text: str) -> CpuTimes:
    """Read the first `cpu` line of /proc/stat: idle and iowait are idle; guest time is already in user/nice."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            fields = [int(v) for v in line.split()[1:]]
            fields += [0] * (8 - len(fields))
            user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
            idle_all = idle + iowait
            total = user + nice + system + idle_all + irq + softirq + steal
            return CpuTimes(busy=total - idle_all, total=total)
    raise ValueError("no cpu line in /proc/stat")


def cpu_percent(before: CpuTimes, after: CpuTimes) -> float | None:
    """Return the busy share between two readings, 0-100 (None when no time passed or the counters went back)."""
    total = after.total - before.total
    busy = after.busy - before.busy
    if total <= 0 or busy < 0:
        return None
    return round(min(100.0, max(0.0, 100.0 * busy / total)), 1)


def parse_meminfo(text: str) -> dict[str, int]:
    """Return total, available and used memory in bytes from /proc/meminfo (kB values)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name.strip()] = int(parts[0]) * 1024
    total = values.get("MemTotal")
    if not total:
        raise ValueError("no MemTotal in /proc/meminfo")
    # MemAvailable (Linux 3.14+) is what programs can still get; older kernels: free + page cache.
    available = values.get("MemAvailable")
    if available is None:
        available = values.get("MemFree", 0) + values.get("Buffers", 0) + values.get("Cached", 0)
    available = min(available, total)
    return {"total": total, "available": available, "used": total - available}


def _read(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as handle:
        return handle.read()


class LoadSampler:
    """Successive readings of this machine's load; each sample's CPU figure covers the time since the last one."""

    def __init__(self, proc_stat: str = PROC_STAT, proc_meminfo: str = PROC_MEMINFO) -> None:
        self.proc_stat = proc_stat
        self.proc_meminfo = proc_meminfo
        self.last: CpuTimes | None = None
        self.lock = threading.Lock()

    def sample(self) -> dict[str, Any]:
        """Return {"cpu_percent", "cpus", "memory_total", "memory_used", "memory_percent"}; unknown values are None."""
        found: dict[str, Any] = {
            "cpu_percent": None,
            "cpus": os.cpu_count(),
            "memory_total": None,
            "memory_used": None,
            "memory_percent": None,
        }
        try:
            now = parse_cpu_line(_read(self.proc_stat))
            with self.lock:
                if self.last is not None:
                    found["cpu_percent"] = cpu_percent(self.last, now)
                self.last = now
        except (OSError, ValueError):
            pass  # not Linux, or /proc is not mounted: the leader shows "unknown"
        try:
            memory = parse_meminfo(_read(self.proc_meminfo))
            found.update(
                memory_total=memory["total"],
                memory_used=memory["used"],
                memory_percent=round(100.0 * memory["used"] / memory["total"], 1),
            )
        except (OSError, ValueError):
            pass
        return found
