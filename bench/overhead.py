"""Overhead: a job through the whole system (submit -> `succeeded` in the database) against the same
FFmpeg argv run directly, for a 5 s and a 30 s 720p clip.

    python bench/overhead.py [--quick] [--runs N]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Result, System, db_time, make_clip, median, parse_args  # noqa: E402

# A fast HEVC encode: the project's codec, a preset people pick for 720p batch work.
SPEC = {
    "video_codec": "libx265",
    "preset": "fast",
    "crf": 26,
    "bit_depth": 8,
    "audio_codec": "libopus",
    "container": "mkv",
}


def through_system(system: System, api, clip: Path) -> tuple[float, dict, list[str]]:
    """Submit one job and wait for it; return (seconds submit->succeeded in DB, stage times, argv run)."""
    submitted = time.time()
    job = api.create_jobs([str(clip)], SPEC)[0]
    row = system.wait_finished([job["id"]], timeout=900, interval=0.1)[0]
    if row["status"] != "succeeded":
        raise RuntimeError(f"job {job['id']} ended {row['status']}: {row['error']}")
    created, dispatched, started, finished = (
        db_time(row[k]) for k in ("created_at", "dispatched_at", "started_at", "finished_at")
    )
    stages = {
        "submit_to_created": created - submitted,
        "created_to_dispatched": dispatched - created,
        "dispatched_to_running": started - dispatched,
        "running_to_succeeded": finished - started,
    }
    Path(row["output_path"]).unlink(missing_ok=True)
    return finished - submitted, stages, json.loads(row["argv"])


def direct(argv: list[str], target: Path) -> float:
    """Run the follower's argv ourselves (same binary, same options), writing to target."""
    argv = [*argv[:-1], str(target)]
    started = time.monotonic()
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"direct FFmpeg failed: {done.stderr[-800:]!r}")
    target.unlink(missing_ok=True)
    return elapsed


def main() -> None:
    args = parse_args(__doc__)
    runs = args.runs or (2 if args.quick else 5)
    result = Result(
        "overhead",
        args.quick,
        runs,
        setup=(
            f"1 follower (-c 1), monitor, gunicorn web, private redis; spec {json.dumps(SPEC)}; "
            "system time = finished_at in the DB minus the client's clock before POST /api/jobs; "
            "direct time = the follower's argv run by subprocess.run; runs alternate which goes first"
        ),
    )
    with System("overhead", keep=args.keep) as system:
        clips = {}
        for seconds in (5, 30):
            clips[seconds] = make_clip(system.media / f"clip{seconds}.mp4", seconds=seconds, size="1280x720")
        system.start_workers(["w1"], concurrency=1)
        api = system.start_web()
        system.start_monitor(wait_online=1)
        # One warm-up job so imports and caches do not land in the first measurement.
        through_system(system, api, clips[5])
        for seconds, clip in clips.items():
            ratios, sys_times, direct_times, stage_runs = [], [], [], []
            argv: list[str] = []
            for run in range(runs):
                if run % 2 == 0:
                    took, stages, argv = through_system(system, api, clip)
                    bare = direct(argv, system.tmp / "direct.mkv")
                else:  # direct first, with the argv of this clip's previous system run
                    bare = direct(argv, system.tmp / "direct.mkv")
                    took, stages, argv = through_system(system, api, clip)
                ratios.append(took / bare)
                sys_times.append(took)
                direct_times.append(bare)
                stage_runs.append(stages)
                print(
                    f"{seconds:>2} s clip run {run + 1}: system {took:.3f} s, direct {bare:.3f} s, "
                    f"ratio {took / bare:.4f}",
                    flush=True,
                )
            target = "<= 1.03" if seconds == 30 else ""
            ratio = median(ratios)
            result.add(
                f"overhead ratio, {seconds} s 720p clip",
                ratio,
                "x",
                target,
                (ratio <= 1.03) if seconds == 30 else None,
                f"system {median(sys_times):.2f} s vs direct {median(direct_times):.2f} s",
            )
            result.add(
                f"added wall time, {seconds} s 720p clip", median([s - d for s, d in zip(sys_times, direct_times)]), "s"
            )
            result.details[f"clip_{seconds}s"] = {
                "ratios": ratios,
                "system_s": sys_times,
                "direct_s": direct_times,
                "stages_median_s": {k: median([s[k] for s in stage_runs]) for k in stage_runs[0]},
            }
    result.save()


if __name__ == "__main__":
    main()
