"""Overhead: a job through the whole system (submit -> `succeeded` in the database) against exactly the argv
the follower ran, run bare the way the follower runs it (bench/bare.py), for a 5 s and a 30 s 720p clip,
with libx264 veryfast CRF 23 and libx265 fast CRF 26.

Three ways of running each job's argv, alternating with the system run (order rotates every run):
- bare, boundary: the argv in the same Landlock + seccomp boundary (tasks/sandbox.run), its output in a
  fresh private folder beside the job's output, the follower's clean environment, pipes read to the end;
- bare, plain: the same without the boundary (what FFMPEG_SANDBOX=off runs);
- old method: what this benchmark did before (subprocess.run in the benchmark's own environment and working
  folder, stdin /dev/null, output in the temporary folder), kept to show how it differs.

    python bench/overhead.py [--quick] [--runs N] [--codec x264|x265]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bare import children_cpu, run_bare  # noqa: E402
from bench.harness import Result, System, db_time, make_clip, median, parse_args  # noqa: E402

SPECS = {
    # The setting (and the original's comparison): fast H.264 at 720p.
    "x264": {
        "video_codec": "libx264",
        "preset": "veryfast",
        "crf": 23,
        "bit_depth": 8,
        "audio_codec": "aac",
        "container": "mp4",
    },
    # The project's codec, a preset people pick for 720p batch work.
    "x265": {
        "video_codec": "libx265",
        "preset": "fast",
        "crf": 26,
        "bit_depth": 8,
        "audio_codec": "libopus",
        "container": "mkv",
    },
}
TARGET = 1.05
ORIGINAL = {"x264": "original (Bun, 2 cores, quiet): 1.12; ours before: 1.22 (30 s), 1.16 (5 s)"}
WAYS = ("system", "bare boundary", "bare plain", "old method")


def through_system(system: System, api, clip: Path, spec: dict) -> tuple[float, dict, list[str], str]:
    """Submit one job and wait for it; return (seconds submit->succeeded in DB, stages, argv run, output path)."""
    submitted = time.time()
    job = api.create_jobs([str(clip)], spec)[0]
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
    return finished - submitted, stages, json.loads(row["argv"]), row["output_path"]


def old_method(argv: list[str], target: Path) -> tuple[float, float]:
    """The previous baseline: the argv with another output, run in the benchmark's environment and folder."""
    argv = [*argv[:-1], str(target)]
    cpu, started = children_cpu(), time.perf_counter()
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True)
    elapsed, cpu = time.perf_counter() - started, children_cpu() - cpu
    if done.returncode != 0:
        raise RuntimeError(f"direct FFmpeg failed: {done.stderr[-800:]!r}")
    target.unlink(missing_ok=True)
    return elapsed, cpu


def main() -> None:
    args = parse_args(__doc__, codec={"choices": sorted(SPECS), "action": "append", "help": "x264, x265 (both)"})
    runs = args.runs or (2 if args.quick else 6)
    codecs = args.codec or ["x264", "x265"]
    result = Result(
        "overhead",
        args.quick,
        runs,
        setup=(
            f"1 follower (-c 1), monitor, gunicorn web, private redis; specs {json.dumps({c: SPECS[c] for c in codecs})}; "
            "system time = finished_at in the DB minus the client's clock before POST /api/jobs; bare = the job "
            "row's argv in a private folder beside the output, clean environment, in the boundary and plainly; "
            "the four ways rotate their order every run"
        ),
    )
    with System("overhead", keep=args.keep) as system:
        clips = {s: make_clip(system.media / f"clip{s}.mp4", seconds=s, size="1280x720") for s in (5, 30)}
        system.start_workers(["w1"], concurrency=1)
        api = system.start_web()
        system.start_monitor(wait_online=1)
        for codec in codecs:
            spec = SPECS[codec]
            # One warm-up job so imports and caches do not land in the first measurement.
            _, _, argv, output = through_system(system, api, clips[5], spec)
            for seconds, clip in clips.items():
                walls: dict[str, list[float]] = {w: [] for w in WAYS}
                cpus: dict[str, list[float]] = {w: [] for w in WAYS if w != "system"}
                stage_runs = []
                _, _, argv, output = through_system(system, api, clip, spec)  # this clip's argv for the first bare runs
                for run in range(runs):
                    order = WAYS[run % len(WAYS) :] + WAYS[: run % len(WAYS)]
                    for way in order:
                        if way == "system":
                            took, stages, argv, output = through_system(system, api, clip, spec)
                            walls[way].append(took)
                            stage_runs.append(stages)
                        elif way == "old method":
                            wall, cpu = old_method(argv, system.tmp / f"direct{Path(output).suffix}")
                            walls[way].append(wall)
                            cpus[way].append(cpu)
                        else:
                            wall, cpu = run_bare(argv, Path(output), f"bare{run}", sandboxed=way == "bare boundary")
                            walls[way].append(wall)
                            cpus[way].append(cpu)
                    print(
                        f"{codec} {seconds:>2} s clip run {run + 1}: "
                        + ", ".join(f"{w} {walls[w][-1]:.2f} s" for w in WAYS)
                        + f"  load {Path('/proc/loadavg').read_text().split()[0]}",
                        flush=True,
                    )
                for base in ("bare boundary", "bare plain", "old method"):
                    ratios = [s / b for s, b in zip(walls["system"], walls[base])]
                    ratio = median(ratios)
                    main_figure = base == "bare boundary"
                    target = f"<= {TARGET}" if main_figure and seconds == 30 and codec == "x264" else ""
                    result.add(
                        f"overhead ratio vs {base}, {codec}, {seconds} s clip",
                        ratio,
                        "x",
                        target,
                        (ratio <= TARGET) if target else None,
                        (ORIGINAL.get(codec, "") if main_figure and seconds == 30 else "")
                        + f" (runs {', '.join(f'{r:.2f}' for r in ratios)})",
                    )
                result.add(
                    f"added wall time vs bare boundary, {codec}, {seconds} s clip",
                    median([s - b for s, b in zip(walls["system"], walls["bare boundary"])]),
                    "s",
                )
                result.add(
                    f"bare plain / bare boundary, {codec}, {seconds} s clip",
                    median([p / b for p, b in zip(walls["bare plain"], walls["bare boundary"])]),
                    "x",
                    note="what the boundary costs (1 = nothing)",
                )
                result.add(
                    f"old method / bare plain, {codec}, {seconds} s clip",
                    median([o / p for o, p in zip(walls["old method"], walls["bare plain"])]),
                    "x",
                    note="the old baseline against the honest one, both without the boundary; CPU ratio "
                    f"{median([o / p for o, p in zip(cpus['old method'], cpus['bare plain'])]):.3f}",
                )
                result.details[f"{codec}_{seconds}s"] = {
                    "wall_s": walls,
                    "ffmpeg_cpu_s": cpus,
                    "stages_median_s": {k: median([s[k] for s in stage_runs]) for k in stage_runs[0]},
                }
    result.save()


if __name__ == "__main__":
    main()
