"""Split encoding at the system level: one file whole on 1 follower vs split across 2 followers.

    python bench/split.py [--quick] [--runs N] [--keep] [--pin]

A private Frame Shift (bench/harness.System): redis-server, two followers `celery ... -c 1` with
FFMPEG_THREADS=1, the monitor and the web process under gunicorn. One 4-minute 1280x720 25 fps clip
(--quick: 40 s), testsrc2 with temporal noise, x264 keyframes every 2 s, AAC. Both ways submit the
same custom spec through POST /api/jobs: libx265 -preset fast -crf 26 with one FFmpeg thread (x265
pools=1:frame-threads=1; the followers add -threads 1), Opus 96k, MKV; only `split` differs:
- whole: split=never, w2 drained (1 follower);
- split: split=always, both followers; SPLIT_SECONDS = a quarter of the clip (4 pieces + audio).
Makespan: the client's clock before the POST to the job's finished_at in the leader's database.
Runs alternate which way goes first, in this one process, so drift in the machine's speed falls on
both. Figures are medians: makespans, speed-up, SSIM of each output against the source and their
difference, the peak disk of the work folders (the pieces folder alone, and every work folder), the
join's time (its own `join_seconds`, and its task's wall time from the pieces' rows), and the gap
from the last piece done to the job done. The machine's load average is recorded per run.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import HOSTNAME, Api, Result, System, db_time, median, parse_args  # noqa: E402
from bench.split_measure import DiskPeak, make_source, piece_timings, ssim  # noqa: E402

ARGS = "-c:v libx265 -preset fast -crf 26 -x265-params log-level=error:pools=1:frame-threads=1 -c:a libopus -b:a 96k"
SPEC = {"mode": "custom", "container": "mkv", "custom_args": ARGS}
PIECES = 4
WAYS = {"whole": "never", "split": "always"}


def pin(pid: int, cpu: int) -> None:
    """Put a process, every thread of it and every process below it on one CPU: --pin makes each follower a
    one-core machine, as two followers on two machines would be."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents.setdefault(int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]), []).append(
                    int(entry.name)
                )
            except (OSError, ValueError, IndexError):
                continue
    todo = [pid]
    while todo:
        proc = todo.pop()
        try:
            for task in Path(f"/proc/{proc}/task").iterdir():
                os.sched_setaffinity(int(task.name), {cpu})
        except OSError:  # the process or thread ended meanwhile
            pass
        todo += parents.get(proc, [])


class Pinner:
    """Pin each follower's tree to its CPU now and every half second while the benchmark runs.

    Pinning once is not enough: x265 sets the affinity of its thread pool to every CPU of the NUMA node
    when it starts the pool (seen with `taskset -pc` on a pinned follower's FFmpeg: main thread on CPU 0, the
    pool's threads on 0,1), so the pool threads escaped the first --pin run and the two followers' encodes
    shared both CPUs. Re-pinning catches every new thread within half a second."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            for cpu, pid in enumerate(self.pids):
                pin(pid, cpu)
            if self._stop.wait(0.5):
                return

    def __enter__(self) -> Pinner:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def loadavg() -> str:
    """Return the 1, 5 and 15-minute load averages (other work on the machine skews every figure)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run_one(system: System, api: Api, source: Path, way: str, timeout: float) -> dict:
    """Submit one job the given way, wait for its end, measure it; remove its output."""
    second = f"/api/followers/w2@{HOSTNAME}"
    status, body, _ = api.request("POST", second + ("/drain" if way == "whole" else "/resume"))
    if status != 200:
        raise RuntimeError(f"could not set w2 for {way}: {body[:300]!r}")
    load = loadavg()
    with DiskPeak(system.media) as disk:
        submitted = time.time()
        job = api.create_jobs([str(source)], {**SPEC, "split": WAYS[way]})[0]
        row = system.wait_finished([job["id"]], timeout=timeout, interval=0.2)[0]
    if row["status"] != "succeeded":
        raise RuntimeError(f"{way} job {job['id']} ended {row['status']}: {row['error']}")
    output = Path(row["output_path"])
    seen = {
        "job": job["id"],
        "submitted": round(submitted, 2),
        "makespan": db_time(row["finished_at"]) - submitted,
        "ssim": ssim(output, source),
        "size": output.stat().st_size,
        "disk_pieces": disk.pieces,
        "disk_all": disk.all,
        "load_before": load,
        "load_after": loadavg(),
        "split_state": row["split_state"],
    }
    if way == "split":
        timings = piece_timings(system, job["id"])
        seen.update(timings, tail=db_time(row["finished_at"]) - timings["last_piece_done"])
        if timings["video_pieces"] < 2:
            raise RuntimeError(f"split job {job['id']} made {timings['video_pieces']} piece(s)")
    elif row["split_state"] != "whole":
        raise RuntimeError(f"whole job {job['id']} ran as {row['split_state']}")
    output.unlink()
    return seen


def report(result: Result, runs: dict[str, list[dict]]) -> None:
    """Add the medians to the result."""

    def med(way: str, key: str) -> float:
        return median([r[key] for r in runs[way]])

    whole, split = med("whole", "makespan"), med("split", "makespan")
    diff = med("split", "ssim") - med("whole", "ssim")
    result.add("makespan, whole on 1 follower", whole, "s")
    result.add("makespan, split on 2 followers", split, "s", note=f"{runs['split'][0]['video_pieces']} pieces + audio")
    result.add("speed-up", whole / split, "x", ">= 1.8", whole / split >= 1.8)
    result.add("SSIM vs source, whole", med("whole", "ssim"), "")
    result.add("SSIM vs source, split", med("split", "ssim"), "")
    result.add("SSIM difference, split - whole", diff, "", "< 0.002", abs(diff) < 0.002)
    result.add("output size, split / whole", med("split", "size") / med("whole", "size"), "x")
    result.add("peak of the pieces folder", med("split", "disk_pieces") / 1e6, "MB")
    result.add("pieces folder, of the output", med("split", "disk_pieces") / med("split", "size") * 100, "%")
    result.add("peak of all work folders, split", med("split", "disk_all") / 1e6, "MB", note="pieces + join")
    result.add("peak of all work folders, whole", med("whole", "disk_all") / 1e6, "MB", note="temp output")
    result.add("join (concat, verify, rename)", med("split", "join_seconds"), "s", note="the task's join_seconds")
    result.add("join task, started to finished", med("split", "join_task_s"), "s", note="pieces table")
    result.add("last piece done to job done", med("split", "tail"), "s", note="join dispatch + join")


def main() -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        pin={"action": "store_true", "help": "each follower on a CPU of its own (w1 on 0, w2 on 1): one-core machines"},
    )
    runs = args.runs or (1 if args.quick else 3)
    seconds = 40 if args.quick else 240
    result = Result(
        "split-pinned" if args.pin else "split",
        args.quick,
        runs,
        setup=f"{seconds} s 1280x720 25 fps clip (keyframes every 2 s); custom spec {ARGS!r}, MKV; followers -c 1, "
        f"FFMPEG_THREADS=1; whole: split=never on w1 (w2 drained); split: split=always on w1+w2, "
        f"SPLIT_SECONDS={seconds / PIECES:g}; monitor, gunicorn web and redis on the same machine"
        + ("; each follower pinned to a CPU of its own (w1: 0, w2: 1)" if args.pin else ""),
    )
    env = {"SPLIT_SECONDS": f"{seconds / PIECES:g}", "SPLIT_MIN_SECONDS": "0"}
    with System("split", keep=args.keep, **env) as system:
        source = make_source(system.media / "film.mp4", seconds)
        workers = system.start_workers(["w1", "w2"], concurrency=1, FFMPEG_THREADS="1")
        pinner = Pinner([worker.proc.pid for worker in workers] if args.pin else [])
        api = system.start_web()
        system.start_monitor(wait_online=2)
        seen: dict[str, list[dict]] = {"whole": [], "split": []}
        with pinner:
            for n in range(runs):
                for way in ("whole", "split") if n % 2 == 0 else ("split", "whole"):
                    one = run_one(system, api, source, way, timeout=seconds * 20)
                    seen[way].append(one)
                    extra = f"  join {one['join_seconds']:.2f} s" if way == "split" else ""
                    print(
                        f"run {n + 1} {way:5s} {one['makespan']:7.1f} s  SSIM {one['ssim']:.5f}  "
                        f"{one['size'] / 1e6:.1f} MB  load {one['load_before']}{extra}",
                        flush=True,
                    )
        report(result, seen)
        result.details = {"runs": seen, "clip_seconds": seconds, "source_bytes": source.stat().st_size}
        if not args.keep:
            shutil.rmtree(system.media, ignore_errors=True)
    result.save()


if __name__ == "__main__":
    main()
