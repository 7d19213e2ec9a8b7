"""Own CPU per job, fine enough to compare fixes of a few milliseconds: many jobs back to back, two readings.

bench/footprint.py reads each process's CPU (utime+stime, /proc/PID/stat) before and after every job: the kernel
reports it in 10 ms ticks, so each role's figure for one job is off by up to 10 ms, and with six roles a single
job's total by up to 60 ms; its medians over three jobs cannot show a change of 5 ms a job. Here the system
(`python scripts/run.py`, as footprint starts it) converts --jobs jobs of one clip one after another, each
submitted as soon as the one before is `succeeded` in the database (polled every 20 ms), and each role's CPU
is read once before the first and once after the last: the rounding is then at most 10 ms a role over all
the jobs, 0.5 ms a job with 20 jobs. The figure includes what our processes spend at rest while the jobs run,
as the issue's per-job figure does; the rest rate is measured over --idle seconds first and printed beside it.
Also printed: the same CPU per second of a job, steadier than the per-job figure across hours of a VM whose
speed varies (docs/benchmarks.md, "4 Dec 2026").

    python bench/job_cost.py [--clip 30] [--jobs 20] [--idle 20] [--flower] [--keep]

With --flower, Flower is opened first (make run starts it at a person's first visit and keeps it), so its share
is measured too; without, it is not running, as in a make run whose Flower nobody opened.

Compare two commits by running this from a git worktree of each, alternating (docs/benchmarks.md, "Lean").
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.footprint import SPEC, by_role  # noqa: E402
from bench.makerun import ROLES, MakeRun  # noqa: E402
from bench.report import Result, machine  # noqa: E402
from tests.media import make_clip  # noqa: E402


def wait_done(system: MakeRun, job_id: int, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = system.job(job_id)
        if row.get("status") in ("succeeded", "failed", "cancelled"):
            if row["status"] != "succeeded":
                raise RuntimeError(f"job {job_id} ended {row['status']}: {row['error']}")
            return row
        time.sleep(0.02)
    raise RuntimeError(f"job {job_id} did not finish in {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=int, default=30, help="clip length in seconds (1280x720)")
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of rest measured before the jobs")
    parser.add_argument(
        "--flower",
        action="store_true",
        help="open Flower first (make run starts it at its first visit), so the jobs run with it",
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop what was started
    result = Result(
        "job_cost",
        quick=False,
        runs=args.jobs,
        setup=f"python scripts/run.py; {args.jobs} jobs of a {args.clip} s 1280x720 clip back to back; spec {SPEC}; "
        "CPU (utime+stime) of each role read before the first job and after the last"
        + ("; Flower opened first" if args.flower else "; Flower not opened (make run starts it at its first visit)"),
    )
    system = MakeRun(args.keep)
    try:
        clip = make_clip(system.media / f"clip{args.clip}.mp4", seconds=args.clip, size="1280x720")
        api = system.start()
        if args.flower:
            print(f"Flower answered {system.open_flower()}", file=sys.stderr)
        time.sleep(5)  # start-up settles
        system.classify()
        before, t0 = system.cpu(), time.monotonic()
        time.sleep(args.idle)
        rest = {r: v / (time.monotonic() - t0) for r, v in by_role(before, system.cpu(), system.roles).items()}
        wait_done(system, api.create_jobs([str(clip)], SPEC)[0]["id"])  # warm-up: imports, caches
        system.classify()  # the pool may have been replaced
        roles = dict(system.roles)
        before, t0 = system.cpu(), time.monotonic()
        outputs = []
        for _ in range(args.jobs):
            outputs.append(wait_done(system, api.create_jobs([str(clip)], SPEC)[0]["id"])["output_path"])
        wall = time.monotonic() - t0
        spent = by_role(before, system.cpu(), roles)
        for output in outputs:
            Path(output).unlink(missing_ok=True)
        total = sum(spent.values()) / args.jobs
        result.add(f"own CPU per job, {args.clip} s clip", total, "s", "<= 0.08" if args.clip == 30 else "")
        for role in ROLES:
            result.add(
                f"  {role}",
                spent.get(role, 0.0) / args.jobs * 1000,
                "ms",
                note=f"at rest {rest.get(role, 0.0) * 1000:.1f} ms/s",
            )
        result.add("wall per job (submit -> succeeded, back to back)", wall / args.jobs, "s")
        # The per-job figure grows with the job's wall time, which follows the machine's speed of the hour (3.0 to
        # 6.2 s for this clip on one VM across two days): per second of a job compares runs of different hours.
        result.add("own CPU per second of a job", sum(spent.values()) / wall * 1000, "ms/s")
        result.add("at rest, all roles", sum(rest.values()) * 1000, "ms/s")
        result.add("resolution of the per-job total", 10 * len(ROLES) / args.jobs, "ms", note="10 ms a role, once")
        result.details = {"spent": spent, "rest": rest, "wall": wall, "machine": machine()}
        result.save()
    finally:
        system.stop()


if __name__ == "__main__":
    main()
