"""Where one of make run's processes spends its CPU, at rest and with a job running: py-spy on a real system.

The system is `python scripts/run.py` (bench/makerun.py, as bench/footprint.py starts it). py-spy samples the
chosen process (monitor, pool, web, worker main, flower) at 250 Hz, samples that hold the GIL only (a thread waiting on Redis or SQLite is not counted), for --seconds at rest
and then while a 60 s 1280x720 clip converts (libx264 veryfast, the footprint spec). Printed: samples (each
4 ms of CPU), CPU ms per second, and the functions that were on the stack of the most samples (inclusive).

    python bench/profile_roles.py [--role monitor] [--seconds 20] [--top 40] [--short-jobs N] [--keep]

With --short-jobs N it then records while N 2 s clips convert one after another: what a job costs from
submit to done, where a 30 s clip (4 s of work on this machine) spends most of our CPU.

Needs py-spy (`pip install py-spy`; it is not a dependency of the project) and ptrace rights on the process.
docs/benchmarks.md ("Lean") has what these profiles showed and what was changed because of them.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.footprint import SPEC  # noqa: E402
from bench.makerun import ROLES, MakeRun  # noqa: E402
from tests.media import make_clip  # noqa: E402

RATE = 250
# Frames on every stack of a process (the interpreter's and click's entry points): left out of the listing.
WRAPPERS = ("runpy>", "__main__.py", " core.py", " decorators.py", "Thread._bootstrap", " cli.py")


def spy_argv(pid: int, seconds: float, out: Path) -> list[str]:
    return [
        "py-spy",
        "record",
        "-p",
        str(pid),
        "-d",
        str(int(seconds)),
        "-r",
        str(RATE),
        "-f",
        "raw",
        "-o",
        str(out),
    ] + [
        "--nonblocking",
        "--gil",
    ]


def wait_done(system: MakeRun, job_id: int) -> None:
    while system.job(job_id).get("status") not in ("succeeded", "failed", "cancelled"):
        time.sleep(0.05)


def record(pid: int, seconds: float, out: Path) -> collections.Counter:
    """Sample pid with py-spy (raw collapsed stacks); return samples per function (inclusive)."""
    subprocess.run(spy_argv(pid, seconds, out), check=True, capture_output=True)
    return collapse(out)


def collapse(out: Path) -> collections.Counter:
    """Samples per function (inclusive) from py-spy's raw collapsed stacks."""
    counts: collections.Counter = collections.Counter()
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        names = {frame.split(" (")[0] + " " + frame.rsplit("/", 1)[-1].split(":")[0] for frame in stack.split(";")}
        for name in names:
            counts[name] += int(count)
    counts["(all samples)"] = sum(int(line.rpartition(" ")[2]) for line in out.read_text().splitlines())
    return counts


def show(title: str, counts: collections.Counter, seconds: float, top: int) -> None:
    total = counts.pop("(all samples)", 0)
    print(f"\n{title}: {total} samples in {seconds:.0f} s = {total * 1000 / RATE / seconds:.1f} ms of CPU a second")
    listed = [(name, count) for name, count in counts.most_common() if not any(w in name for w in WRAPPERS)]
    for name, count in listed[:top]:
        print(f"{count:6d} {100 * count / max(total, 1):5.1f} %  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", default="monitor", choices=[r for r in ROLES if r not in ("redis", "supervisor")])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--short-jobs",
        type=int,
        default=0,
        help="then record while this many 2 s jobs run one after another (what each job costs, start to end)",
    )
    args = parser.parse_args()
    if shutil.which("py-spy") is None:
        sys.exit("profile_roles.py needs py-spy: pip install py-spy")
    out = Path(tempfile.mkdtemp(prefix="fs-profile-"))
    system = MakeRun(args.keep)
    try:
        clip = make_clip(system.media / "clip60.mp4", seconds=60, size="1280x720")
        api = system.start()
        time.sleep(8)  # start-up settles
        pid = next(p for p, role in system.classify().items() if role == args.role)
        show(f"{args.role} at rest", record(pid, args.seconds, out / "rest.txt"), args.seconds, args.top)
        job = api.create_jobs([str(clip)], SPEC)[0]
        time.sleep(0.2)
        pid = next(p for p, role in system.classify().items() if role == args.role)  # the pool may be new
        busy = min(args.seconds, 6.0)  # the clip converts in ~9 s on a quiet 2-core machine
        show(f"{args.role} with a job running", record(pid, busy, out / "busy.txt"), busy, args.top)
        wait_done(system, job["id"])
        if args.short_jobs:
            short = make_clip(system.media / "clip2.mp4", seconds=2, size="1280x720")
            wait_done(system, api.create_jobs([str(short)], SPEC)[0]["id"])  # warm-up
            pid = next(p for p, role in system.classify().items() if role == args.role)
            spy = subprocess.Popen(spy_argv(pid, 3600, out / "short.txt"), stdout=subprocess.DEVNULL)
            began = time.monotonic()
            for _ in range(args.short_jobs):
                wait_done(system, api.create_jobs([str(short)], SPEC)[0]["id"])
            took = time.monotonic() - began
            spy.send_signal(signal.SIGINT)  # py-spy writes what it has
            spy.wait(30)
            counts = collapse(out / "short.txt")
            show(f"{args.role} over {args.short_jobs} 2 s jobs ({took:.1f} s)", counts, took, args.top)
    finally:
        system.stop()
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
