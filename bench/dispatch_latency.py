"""Dispatch latency: submit (POST /api/jobs) -> the follower's FFmpeg process starts, idle follower.

FFMPEG_BIN on the follower is bench/bin/ffmpeg-stamp, a /bin/sh wrapper that appends
`date +%s.%N` and its output argument (which carries the task id) to a file, then execs the real
ffmpeg. So "FFmpeg started" is the moment the follower's exec of FFMPEG_BIN ran, plus the ~1-2 ms
that sh and date take. FFPROBE_BIN is the same kind of wrapper, to split the time.

    python bench/dispatch_latency.py [--quick] [--runs N]
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import BENCH, Result, System, db_time, make_clip, median, parse_args, percentile  # noqa: E402

SPEC = {
    "video_codec": "libx264",
    "preset": "ultrafast",
    "crf": 30,
    "bit_depth": 8,
    "audio_codec": "aac",
    "container": "mp4",
}


def stamps(path: Path) -> list[tuple[float, str]]:
    """Read (time, argument) lines written by the wrappers."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        when, _, arg = line.partition(" ")
        out.append((float(when), arg))
    return out


def main() -> None:
    args = parse_args(__doc__)
    runs = args.runs or (40 if args.quick else 200)
    result = Result(
        "dispatch_latency",
        args.quick,
        runs,
        setup=(
            "1 idle follower (-c 1), monitor, gunicorn web, private redis; a 1 s 160x120 clip per job; jobs one at a "
            "time with a random 0.2-0.6 s pause between them; latency = wrapper's `date` at exec of FFMPEG_BIN minus "
            "the client's clock just before POST /api/jobs"
        ),
    )
    with System("dispatch", keep=args.keep) as system:
        stamp_file = system.tmp / "stamps.txt"
        clip = make_clip(system.media / "tiny.mp4", seconds=1)
        system.start_workers(
            ["w1"],
            concurrency=1,
            FFMPEG_BIN=str(BENCH / "bin" / "ffmpeg-stamp"),
            FFPROBE_BIN=str(BENCH / "bin" / "ffprobe-stamp"),
            STAMP_FILE=str(stamp_file),
        )
        api = system.start_web()
        system.start_monitor(wait_online=1)
        rng = random.Random(5)
        totals, web, monitor, follower, input_probes = [], [], [], [], 0
        for run in range(runs + 2):  # the first two warm up
            time.sleep(rng.uniform(0.2, 0.6))
            submitted = time.time()
            job = api.create_jobs([str(clip)], SPEC)[0]
            row = system.wait_finished([job["id"]], timeout=60, interval=0.02)[0]
            if row["status"] != "succeeded":
                raise RuntimeError(f"job {job['id']} ended {row['status']}: {row['error']}")
            Path(row["output_path"]).unlink(missing_ok=True)
            tag = f"frameshift-{row['task_id'][:8]}"
            seen = stamps(stamp_file)
            started = next(t for t, arg in seen if tag in arg)
            dispatched_at = db_time(row["dispatched_at"])
            if run < 2:
                continue
            # The follower reads the input's duration from FFmpeg's log; ffprobe verifies only the output
            # (which names the temporary file), unless the log had no duration.
            input_probes += sum(1 for t, arg in seen if arg == f"probe:{clip}" and t > dispatched_at)
            created, dispatched = db_time(row["created_at"]), db_time(row["dispatched_at"])
            totals.append(started - submitted)
            web.append(created - submitted)
            monitor.append(dispatched - created)
            follower.append(started - dispatched)
        ms = [t * 1000 for t in totals]
        p50, p99 = percentile(ms, 50), percentile(ms, 99)
        result.add("dispatch latency p50", p50, "ms", "< 50", p50 < 50)
        result.add("dispatch latency p99", p99, "ms", "< 200", p99 < 200)
        result.add("dispatch latency max", max(ms), "ms")
        result.add("  web: submit -> job row created", median(web) * 1000, "ms", note="median")
        result.add("  monitor: created -> sent to follower", median(monitor) * 1000, "ms", note="median")
        result.add("  follower: sent -> FFmpeg exec", median(follower) * 1000, "ms", note="median")
        result.add(
            "  ffprobe runs on the input, all jobs", input_probes, "runs", note="0: FFmpeg's log gives the duration"
        )
        result.details = {
            "latency_ms": ms,
            "web_ms": [x * 1000 for x in web],
            "monitor_ms": [x * 1000 for x in monitor],
            "follower_ms": [x * 1000 for x in follower],
        }
    result.save()


if __name__ == "__main__":
    main()
