"""What the leader-at-scale benchmarks measure with (moved out of bench/leader_scale.py, which bench/leader_sim.py
also used them from): the machine's and a process tree's CPU from /proc, a sampler of the monitor's CPU and memory,
a counter of the live messages the monitor publishes, and rates over fixed windows."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from app.services.live import unpack
from bench.harness import cpu_seconds, rss_mb
from tasks import keys

WINDOW = 5.0


def machine_busy() -> tuple[int, int]:
    """Return (busy, total) CPU ticks of the whole machine so far (from /proc/stat)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def main_thread_cpu(pid: int) -> float:
    """Return the CPU seconds of pid's main thread (the monitor's loop; the rest is the event receiver)."""
    text = Path(f"/proc/{pid}/task/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """Return the CPU seconds of pid and its descendants: live ones, and reaped ones (cutime/cstime)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()
    own = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime
    return own + sum(tree_cpu(int(child)) for child in children)


class Sampler(threading.Thread):
    """Every 0.5 s: the monitor's CPU seconds, RSS, and its main thread's CPU seconds."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, float, float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.samples.append((time.time(), cpu_seconds(self.pid), rss_mb(self.pid), main_thread_cpu(self.pid)))
            except (OSError, ValueError):
                return
            self.stop.wait(0.5)


class LiveCounter(threading.Thread):
    """Count the live messages the monitor publishes (one per progress event it absorbs)."""

    def __init__(self, redis_client) -> None:
        super().__init__(daemon=True)
        self.pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(keys.LIVE_CHANNEL)
        self.progress: list[float] = []
        self.other = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            message = self.pubsub.get_message(timeout=0.5)
            if message:
                now = time.time()
                for item in unpack(message["data"]):  # one publish holds a batch (app/services/live.py)
                    if item.get("type") == "progress":
                        self.progress.append(now)
                    else:
                        self.other += 1


def rate_windows(times: list[float], start: float, end: float) -> list[float]:
    """Return events per second in each full WINDOW between start and end."""
    counts = []
    edge = start
    while edge + WINDOW <= end:
        counts.append(sum(1 for t in times if edge <= t < edge + WINDOW) / WINDOW)
        edge += WINDOW
    return counts
