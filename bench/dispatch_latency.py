"""Dispatch latency: submit (POST /api/jobs) -> the follower's FFmpeg process starts, idle follower.

"FFmpeg started" is seen from outside: a thread here reads the follower's pool processes' children from
/proc every millisecond and notes when a child first shows FFmpeg's name (its exec is done), with its
command line (whose output name carries the task id); ffprobe children are noted the same way, to count
probes of the input. (Until 2 Dec this used FFMPEG_BIN wrappers that wrote a time stamp to a file; since
every FFmpeg runs inside its boundary with a clean environment and writes only its private folder, they
could no longer write it, and the benchmark stopped at its first job.)

    python bench/dispatch_latency.py [--quick] [--runs N]
"""

from __future__ import annotations

import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Result, System, db_time, make_clip, median, parse_args, percentile  # noqa: E402
from bench.pool_children import pool_children  # noqa: E402

SPEC = {
    "video_codec": "libx264",
    "preset": "ultrafast",
    "crf": 30,
    "bit_depth": 8,
    "audio_codec": "aac",
    "container": "mp4",
}


class ExecWatch(threading.Thread):
    """Every POLL seconds: the children of the worker's pool processes; note (time, argv) of each child the
    first time it shows as ffmpeg or ffprobe (a forked child shows the pool's name until its exec)."""

    POLL = 0.001

    def __init__(self, worker_pid: int) -> None:
        super().__init__(daemon=True)
        self.worker_pid = worker_pid
        self.seen: dict[int, tuple[float, list[str]]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.POLL):
            for kid in pool_children(self.worker_pid):
                if kid in self.seen:
                    continue
                try:
                    comm = Path(f"/proc/{kid}/comm").read_text().strip()
                    if comm in ("ffmpeg", "ffprobe"):
                        argv = Path(f"/proc/{kid}/cmdline").read_bytes().decode(errors="replace").split("\0")
                        self.seen[kid] = (time.time(), [a for a in argv if a])
                except OSError:
                    continue

    def started(self, tag: str) -> float | None:
        """When the FFmpeg whose command line carries tag was first seen."""
        times = [t for t, argv in self.seen.values() if argv and argv[0].endswith("ffmpeg") and tag in " ".join(argv)]
        return min(times) if times else None

    def probes_of(self, path: str, after: float) -> int:
        return sum(1 for t, argv in self.seen.values() if argv and "ffprobe" in argv[0] and path in argv and t > after)


def main() -> None:
    args = parse_args(__doc__)
    runs = args.runs or (40 if args.quick else 200)
    result = Result(
        "dispatch_latency",
        args.quick,
        runs,
        setup=(
            "1 idle follower (-c 1), monitor, gunicorn web, private redis; a 1 s 160x120 clip per job; jobs one at a "
            "time with a random 0.2-0.6 s pause between them; latency = the first time FFmpeg shows in the pool's "
            "children (/proc, polled every 1 ms) minus the client's clock just before POST /api/jobs"
        ),
    )
    with System("dispatch", keep=args.keep) as system:
        clip = make_clip(system.media / "tiny.mp4", seconds=1)
        worker = system.start_workers(["w1"], concurrency=1)[0]
        watch = ExecWatch(worker.pid)
        watch.start()
        api = system.start_web()
        system.start_monitor(wait_online=1)
        rng = random.Random(5)
        totals, web, monitor, follower, input_probes, missed = [], [], [], [], 0, 0
        for run in range(runs + 2):  # the first two warm up
            time.sleep(rng.uniform(0.2, 0.6))
            submitted = time.time()
            job = api.create_jobs([str(clip)], SPEC)[0]
            row = system.wait_finished([job["id"]], timeout=60, interval=0.02)[0]
            if row["status"] != "succeeded":
                raise RuntimeError(f"job {job['id']} ended {row['status']}: {row['error']}")
            Path(row["output_path"]).unlink(missing_ok=True)
            tag = f"frameshift-{row['task_id'][:8]}"
            started = watch.started(tag)
            if started is None:  # it began and ended between two looks (a starved poll): counted, not guessed
                missed += 1
                continue
            dispatched_at = db_time(row["dispatched_at"])
            if run < 2:
                continue
            # The follower reads the input's duration from FFmpeg's log; ffprobe verifies only the output
            # (which names the temporary file), unless the log had no duration.
            input_probes += watch.probes_of(str(clip), dispatched_at)
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
        result.add("  jobs whose FFmpeg was not seen (left out)", missed, "jobs", note="polled every 1 ms")
        result.details = {
            "latency_ms": ms,
            "web_ms": [x * 1000 for x in web],
            "monitor_ms": [x * 1000 for x in monitor],
            "follower_ms": [x * 1000 for x in follower],
        }
    result.save()


if __name__ == "__main__":
    main()
