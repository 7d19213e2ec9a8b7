"""Leader at scale: one monitor drives 20 followers of concurrency 4 through 10,000 jobs.

Followers run bench/bin/fake-ffmpeg and bench/bin/fake-ffprobe (FFMPEG_BIN/FFPROBE_BIN), so a job
costs the leader what a real one does (dispatch, start, progress, result, database) while FFmpeg
itself costs nothing. The jobs are created first through POST /api/jobs (monitor not running),
then the monitor starts and the clock runs until every job is finished in the database.

    python bench/leader_scale.py [--quick] [--jobs N] [--workers N] [--profile | --profile-cpu]
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    BENCH,
    RESULTS,
    Result,
    System,
    db_time,
    median,
    parse_args,
    percentile,
)
from bench.leader_meters import LiveCounter, Sampler, machine_busy, rate_windows, tree_cpu  # noqa: E402

SPEC = {"video_codec": "libx264", "preset": "ultrafast", "bit_depth": 8, "audio_codec": "aac", "container": "mkv"}
BATCH = 5000
# --profile-cpu: cProfile on the monitor's main thread with a CPU clock (time.thread_time), so waits and
# other processes' load on this shared machine do not show; pyinstrument (--profile) samples wall time.
CPU_PROFILE = """
import cProfile, pstats, runpy, sys, time
out = sys.argv.pop(1)
sys.argv = sys.argv[2:]  # drop '-c' and '-m': run `flask --app app monitor` as python -m flask would
profiler = cProfile.Profile(time.thread_time)
try:
    profiler.runcall(runpy.run_module, sys.argv[0], run_name="__main__", alter_sys=True)
except SystemExit:
    pass
finally:
    with open(out, "w") as fh:
        stats = pstats.Stats(profiler, stream=fh)
        fh.write(f"main thread CPU {stats.total_tt:.2f} s (cProfile, time.thread_time)\\n")
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(40)
"""


def main() -> None:
    args = parse_args(
        __doc__,
        jobs={"type": int, "default": None, "help": "number of jobs (10000)"},
        workers={"type": int, "default": 20, "help": "follower processes (20)"},
        concurrency={"type": int, "default": 4, "help": "slots per follower (4)"},
        profile={"action": "store_true", "help": "run the monitor under pyinstrument"},
        profile_cpu={"action": "store_true", "help": "run the monitor under cProfile, main-thread CPU time"},
    )
    total = args.jobs or (1000 if args.quick else 10000)
    steps, step = 3, 0.1
    result = Result(
        "leader_scale",
        args.quick,
        1,
        setup=(
            f"{args.workers} followers x concurrency {args.concurrency} (prefork, -E, --without-gossip "
            f"--without-mingle), fake FFmpeg of {steps} progress blocks {step} s apart, {total} jobs created through "
            "the API before the monitor starts; one monitor, gunicorn web, private redis, SQLite; "
            f"{'monitor under pyinstrument; ' if args.profile else ''}"
            f"{'monitor under cProfile; ' if args.profile_cpu else ''}rates from the database timestamps"
        ),
    )
    fakes = {
        "FFMPEG_BIN": str(BENCH / "bin" / "fake-ffmpeg"),
        "FFPROBE_BIN": str(BENCH / "bin" / "fake-ffprobe"),
        "FAKE_STEPS": str(steps),
        "FAKE_STEP_SECONDS": str(step),
    }
    fakes.update(json.loads(os.environ.get("BENCH_WORKER_ENV") or "{}"))  # experiments: more worker settings
    with System("scale", keep=args.keep) as system:
        folder = system.media / "in"
        folder.mkdir()
        inputs = []
        for i in range(total):
            path = folder / f"clip{i:05d}.mkv"
            path.touch()
            inputs.append(str(path))
        began = time.time()
        names = [f"w{i:02d}" for i in range(args.workers)]
        workers = system.start_workers(names, args.concurrency, extra_args=["--without-mingle"], timeout=600, **fakes)
        print(f"{args.workers} followers ready in {time.time() - began:.1f} s", flush=True)
        api = system.start_web()
        began = time.time()
        for i in range(0, total, BATCH):
            api.create_jobs(inputs[i : i + BATCH], SPEC)
        created_s = time.time() - began
        print(f"{total} jobs created in {created_s:.1f} s", flush=True)
        live = LiveCounter(system.redis)
        live.start()
        wrapper = None
        profile = RESULTS / "profiles" / "monitor-at-scale.txt"
        if args.profile:
            profile.parent.mkdir(parents=True, exist_ok=True)
            wrapper = ["-m", "pyinstrument", "--renderer", "text", "--outfile", str(profile)]
        elif args.profile_cpu:
            profile = RESULTS / "profiles" / "monitor-at-scale-cpu.txt"
            profile.parent.mkdir(parents=True, exist_ok=True)
            wrapper = ["-c", CPU_PROFILE, str(profile)]
        started = time.time()
        monitor = system.start_monitor(wrapper=wrapper)
        sampler = Sampler(monitor.pid)
        sampler.start()
        busy_before = machine_busy()
        others = {
            "followers": [w.pid for w in workers],
            "web": [system.web.pid],
            "redis": [system.redis_server.proc.pid],
        }
        others_before = {name: sum(tree_cpu(pid) for pid in pids) for name, pids in others.items()}
        last_done, last_change = -1, time.time()
        while True:
            counts = system.status_counts()
            done = sum(counts.get(s, 0) for s in ("succeeded", "failed", "cancelled"))
            if done != last_done:
                last_done, last_change = done, time.time()
                print(f"  {time.time() - started:6.1f} s  {counts}", flush=True)
            if done >= total or time.time() - last_change > 90 or not monitor.alive():
                break
            time.sleep(1.0)
        busy_after = machine_busy()
        others_after = {name: sum(tree_cpu(pid) for pid in pids) for name, pids in others.items()}
        sampler.stop.set()
        live.stop.set()
        monitor.stop(timeout=60)  # a profiled monitor writes its profile on the way out
        rows = system.query("SELECT dispatched_at, finished_at, status, started_at FROM jobs")
        dispatched = sorted(t for t in (db_time(r[0]) for r in rows) if t)
        finished = sorted(t for t in (db_time(r[1]) for r in rows) if t)
        statuses: dict[str, int] = {}
        for row in rows:
            statuses[row[2]] = statuses.get(row[2], 0) + 1
        first, last = dispatched[0], finished[-1]
        span = last - first
        lost = total - statuses.get("succeeded", 0)
        result.add(
            "jobs completed per second",
            len(finished) / span,
            "jobs/s",
            ">= 200",
            len(finished) / span >= 200,
            f"{len(finished)} jobs, first dispatch to last finish {span:.1f} s",
        )
        result.add(
            "jobs dispatched per second",
            len(dispatched) / (dispatched[-1] - first),
            "jobs/s",
            note="first to last dispatch",
        )
        windows = rate_windows(finished, first, last)
        result.add(
            "completed per second, median 5 s window",
            median(windows) if windows else float("nan"),
            "jobs/s",
            note=f"{len(windows)} windows",
        )
        progress_times = [t for t in live.progress if first <= t <= last]
        result.add(
            "progress events absorbed per second",
            len(progress_times) / span,
            "events/s",
            note=f"{len(live.progress)} progress messages published by the monitor",
        )
        active = [s for s in sampler.samples if first <= s[0] <= last] or sampler.samples
        cpu = (active[-1][1] - active[0][1]) / max(active[-1][0] - active[0][0], 1e-9) * 100
        result.add("monitor CPU while working", cpu, "% of a core")
        cpu_per_job = (active[-1][1] - active[0][1]) / max(len(finished), 1) * 1000
        result.add("monitor CPU per job", cpu_per_job, "ms", note="CPU time while working / jobs finished")
        loop_per_job = (active[-1][3] - active[0][3]) / max(len(finished), 1) * 1000
        result.add(
            "  of which the main thread (loop)",
            loop_per_job,
            "ms",
            note="the rest is the event receiver and the wake-up thread",
        )
        result.add(
            "leader bound: jobs/s one monitor core could absorb",
            1000 / cpu_per_job,
            "jobs/s",
            note="1000 / monitor CPU ms per job",
        )
        for name, note in (
            ("followers", "the 20 workers, their pool processes and the fake FFmpeg/ffprobe they run"),
            ("web", "gunicorn"),
            ("redis", "redis-server"),
        ):
            result.add(
                f"CPU per job: {name}",
                (others_after[name] - others_before[name]) / max(len(finished), 1) * 1000,
                "ms",
                note=note.replace("20", str(args.workers)),
            )
        machine = 100 * (busy_after[0] - busy_before[0]) / max(busy_after[1] - busy_before[1], 1)
        result.add("whole machine CPU busy during the run", machine, "%", note="all processes, incl. other users'")
        result.add("monitor RSS, peak", max(s[2] for s in sampler.samples), "MiB")
        result.add("jobs lost (not succeeded)", lost, "jobs", "0", lost == 0, json.dumps(statuses))
        result.add(
            "jobs created through the API per second",
            total / created_s,
            "jobs/s",
            note=f"{total // BATCH or 1} POSTs of up to {BATCH}",
        )
        first_wait = first - started
        result.add("monitor start to first dispatch", first_wait, "s")
        result.details = {
            "jobs": total,
            "workers": args.workers,
            "concurrency": args.concurrency,
            "statuses": statuses,
            "span_s": span,
            "completed_per_window": windows,
            "dispatch_to_finish_p50_s": median(
                [f - d for d, f in zip((db_time(r[0]) for r in rows), (db_time(r[1]) for r in rows)) if d and f]
            ),
            "dispatched_to_running_p50_s": median(
                [s - d for d, s in ((db_time(r[0]), db_time(r[3])) for r in rows) if d and s]
            ),
            "running_to_finished_p50_s": median(
                [f - s for f, s in ((db_time(r[1]), db_time(r[3])) for r in rows) if f and s]
            ),
            "rss_mb_samples": [round(s[2], 1) for s in sampler.samples[::4]],
            "progress_p95_gap_s": percentile([b - a for a, b in zip(progress_times, progress_times[1:])], 95)
            if len(progress_times) > 2
            else None,
        }
        if args.profile or args.profile_cpu:
            result.details["profile"] = str(profile.relative_to(BENCH.parent))
    result.save()


if __name__ == "__main__":
    main()
