"""Idle CPU of make run's processes: user and system CPU per role and wake-ups a second, at rest.

The system is `python scripts/run.py` (bench/makerun.py, as bench/footprint.py starts it) with nothing queued;
after it settles, each role's utime and stime (/proc/PID/stat) and voluntary context switches of all its threads
(/proc/PID/task/*/status) are read at the start and the end of a window. Figures per role, per wall second.

    python bench/idle_cpu.py [--window 30] [--settle 8]

footprint.py gives the same idle CPU as one figure per role (utime+stime, 10 ms ticks, its own window); this splits
it into user and system time and counts wake-ups, which is what a loop that polls shows first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.makerun import MakeRun, stat_fields  # noqa: E402

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def sample(roles: dict[int, str]) -> dict[int, tuple[int, int, int]]:
    """pid -> (utime ticks, stime ticks, voluntary context switches of all its threads)."""
    out = {}
    for pid in roles:
        try:
            fields = stat_fields(pid)
            switches = 0
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/status") as status:
                    switches += sum(int(line.split()[1]) for line in status if line.startswith("voluntary_ctxt"))
            out[pid] = (int(fields[11]), int(fields[12]), switches)
        except OSError:
            continue  # a process that went away in the window is left out
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=8.0)
    args = parser.parse_args()
    system = MakeRun(keep=False)
    try:
        system.start()
        time.sleep(args.settle)
        roles = system.classify()
        before, started = sample(roles), time.monotonic()
        time.sleep(args.window)
        after, seconds = sample(roles), time.monotonic() - started
    finally:
        system.stop()
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for pid, (user, system_time, switches) in after.items():
        if pid in before:
            first = before[pid]
            row = totals[roles[pid]]
            row[0] += user - first[0]
            row[1] += system_time - first[1]
            row[2] += switches - first[2]
    print(f"at rest, {seconds:.0f} s window; CPU ms per wall second (ticks of {TICK_MS:.0f} ms)")
    for role, (user, system_time, switches) in sorted(totals.items(), key=lambda item: -(item[1][0] + item[1][1])):
        print(
            f"{role:12s} user {user * TICK_MS / seconds:5.1f}  sys {system_time * TICK_MS / seconds:5.1f}  "
            f"wake-ups {switches / seconds:5.1f}/s"
        )


if __name__ == "__main__":
    main()
