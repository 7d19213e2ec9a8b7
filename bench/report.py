"""What a benchmark measures and reports: statistics over runs, the machine's description, CPU and
memory of a process, figures, the results file under bench/results/ and the printed table (bench/harness.py re-exports these)."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"


# ---------------------------------------------------------------- statistics


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (0..100) with linear interpolation between ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: list[float]) -> float:
    """Return the median."""
    return percentile(values, 50)


# ---------------------------------------------------------------- the machine


def machine() -> dict[str, Any]:
    """Describe this machine: CPU model, cores, RAM, FFmpeg, Python, kernel."""
    cpu = ""
    try:
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    except OSError:
        pass
    mem_kb = 0
    try:
        match = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        mem_kb = int(match.group(1)) if match else 0
    except OSError:
        pass
    try:
        ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    except OSError:
        ffmpeg = "missing"
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "ffmpeg": ffmpeg,
        "redis": redis_version,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


# ---------------------------------------------------------------- results


@dataclass
class Figure:
    """One measured figure, with its target when the issue sets one."""

    name: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None
    note: str = ""

    def row(self) -> list[str]:
        verdict = {True: "yes", False: "NO", None: ""}[self.met]
        return [self.name, fmt(self.value), self.unit, self.target, verdict, self.note]


def fmt(value: float) -> str:
    """Format a figure with sensible precision."""
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}"


@dataclass
class Result:
    """What one benchmark writes: its figures, how it was run, and raw details."""

    benchmark: str
    quick: bool
    runs: int
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    setup: str = ""
    load_before: str = field(default_factory=lambda: Path("/proc/loadavg").read_text().strip())

    def add(self, *args: Any, **kwargs: Any) -> Figure:
        figure = Figure(*args, **kwargs)
        self.figures.append(figure)
        return figure

    def save(self) -> Path:
        """Print the table and write results/<benchmark>.json (quick runs to <benchmark>.quick.json)."""
        print()
        print(table([f.row() for f in self.figures], ["figure", "value", "unit", "target", "met", "note"]))
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.benchmark}{'.quick' if self.quick else ''}.json"
        data = {
            "benchmark": self.benchmark,
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "quick": self.quick,
            "runs": self.runs,
            "setup": self.setup,
            "machine": machine(),
            # Other work on the machine skews every figure: the 1/5/15-minute load averages before and after.
            "loadavg_before": self.load_before,
            "loadavg_after": Path("/proc/loadavg").read_text().strip(),
            "figures": [vars(f) for f in self.figures],
            "details": self.details,
        }
        path.write_text(json.dumps(data, indent=2, default=float) + "\n")
        print(f"\nwrote {path.relative_to(ROOT)}")
        return path


def table(rows: list[list[str]], header: list[str]) -> str:
    """Render rows as a plain-text table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


# ---------------------------------------------------------------- /proc sampling


def cpu_seconds(pid: int) -> float:
    """Return user+system CPU seconds used so far by pid (from /proc/<pid>/stat)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the full line)
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Return the resident set size of pid in MiB (from /proc/<pid>/status)."""
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else 0.0
