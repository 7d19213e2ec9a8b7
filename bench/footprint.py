"""Footprint: what our own processes cost per job and at rest, started exactly as `make run` starts them.

The system is `python scripts/run.py` itself (redis-server, gunicorn with gunicorn.conf.py, the
monitor, one Celery worker with one slot, Flower unless run.py leaves it out), with private ports
and folders. Every process below run.py is classified from /proc (cmdline and parent):
supervisor (run.py), redis, web (gunicorn master and workers), monitor, worker main, pool,
flower; FFmpeg and ffprobe run by the pool are not ours and are reported apart.

Per job (a 30 s and a 5 s 1280x720 clip, libx264 veryfast CRF 23, AAC, MP4): the CPU seconds
(utime+stime from /proc/PID/stat) each of our processes spent from just before POST /api/jobs to
the moment the job is `succeeded` in the database; medians over runs. At rest: CPU per second of
each process over an idle window. Memory: RSS and PSS (/proc/PID/smaps_rollup) of the whole tree
at rest and the peak during a job (sampled each second). Each system job alternates with the same
argv run bare inside the same boundary (bench/bare.py), which gives the overhead ratio.

    python bench/footprint.py [--quick] [--runs N] [--keep]

Memory and CPU are given per role, so what make run would cost without one of its processes (Flower, a
second web worker: WEB_WORKERS, read by gunicorn.conf.py) is the sum of the other roles.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bare import run_bare  # noqa: E402
from bench.harness import Api, Result, db_time, median, parse_args  # noqa: E402
from bench.makerun import ROLES, MakeRun, memory_kb, own_cpu  # noqa: E402
from tests.media import make_clip  # noqa: E402

SPEC = {
    "video_codec": "libx264",
    "preset": "veryfast",
    "crf": 23,
    "bit_depth": 8,
    "audio_codec": "aac",
    "container": "mp4",
}
TARGET_CPU_30 = 0.08
TARGET_RATIO = 1.05
# The 200 MB, in the MiB that /proc reports (1 MiB = 1,048,576 bytes): 190.7 MiB, not 200.
TARGET_IDLE_PSS = 200e6 / 2**20


def by_role(before: dict[int, float], after: dict[int, float], roles: dict[int, str]) -> dict[str, float]:
    out = {role: 0.0 for role in ROLES}
    for pid, value in after.items():
        role = roles.get(pid, "other")
        out[role] = out.get(role, 0.0) + value - before.get(pid, value)
    return out


class JobWatch(threading.Thread):
    """While a job runs: its FFmpeg's CPU and lifetime (every 0.05 s) and the tree's memory (every 1 s)."""

    def __init__(self, system: MakeRun) -> None:
        super().__init__(daemon=True)
        self.system = system
        self.stop = threading.Event()
        self.ffmpeg: dict[int, list[float]] = {}  # pid -> [first seen, last seen, cpu]
        self.memory: list[dict[str, tuple[float, float]]] = []
        self.ffmpeg_memory: list[tuple[float, float]] = []

    def run(self) -> None:
        next_memory = time.monotonic() + 1.0
        while not self.stop.is_set():
            now = time.time()
            for pid in self.system.ffmpeg_children():
                try:
                    cpu = own_cpu(pid)
                except OSError:
                    continue
                entry = self.ffmpeg.setdefault(pid, [now, now, cpu])
                entry[1], entry[2] = now, cpu
            if time.monotonic() >= next_memory:
                next_memory += 1.0
                self.memory.append(self.system.memory())
                for pid in self.system.ffmpeg_children():
                    try:
                        rss, pss = memory_kb(pid)
                        self.ffmpeg_memory.append((rss / 1024, pss / 1024))
                    except OSError:
                        pass
            self.stop.wait(0.05)


def one_job(system: MakeRun, api: Api, clip: Path) -> dict:
    """Submit one job and wait until it succeeded; return its CPU by role and timings."""
    watch = JobWatch(system)
    system.classify()  # the pool may have been replaced
    roles = dict(system.roles)
    before, children_before = system.cpu(), system.pool_children_cpu()
    watch.start()
    submitted = time.time()
    job = api.create_jobs([str(clip)], SPEC)[0]
    deadline = time.time() + 900
    while True:
        row = system.job(job["id"])
        if row.get("status") in ("succeeded", "failed", "cancelled"):
            break
        if time.time() > deadline:
            raise RuntimeError(f"job {job['id']} did not finish")
        time.sleep(0.1)
    after, children_after = system.cpu(), system.pool_children_cpu()
    watch.stop.set()
    watch.join()
    if row["status"] != "succeeded":
        raise RuntimeError(f"job {job['id']} ended {row['status']}: {row['error']}")
    Path(row["output_path"]).unlink(missing_ok=True)
    ffmpeg = list(watch.ffmpeg.values())
    cpu = by_role(before, after, roles)
    return {
        "cpu": cpu,
        "own": sum(cpu.values()),
        "children": children_after - children_before,
        "ffmpeg_cpu": sum(f[2] for f in ffmpeg),
        "ffmpeg_wall": sum(f[1] - f[0] for f in ffmpeg),
        "wall": db_time(row["finished_at"]) - submitted,
        "submit_to_ffmpeg": (min(f[0] for f in ffmpeg) - submitted) if ffmpeg else float("nan"),
        "argv": json.loads(row["argv"]),
        "output": row["output_path"],
        "memory": watch.memory,
        "ffmpeg_memory": watch.ffmpeg_memory,
    }


def main() -> None:
    args = parse_args(__doc__)
    runs = args.runs or (3 if args.quick else 7)
    idle_window = 20.0 if args.quick else 60.0
    result = Result(
        "footprint",
        args.quick,
        runs,
        setup=(
            "python scripts/run.py (make run's own process set) with private ports and folders; one worker -c 1; "
            f"spec {SPEC}; per job = CPU (utime+stime) of each of our processes from before POST to succeeded in "
            "the DB; bare = the job row's argv in the same boundary, alternating; "
            f"idle window {idle_window:.0f} s; memory from /proc/PID/smaps_rollup"
        ),
    )
    system = MakeRun(args.keep)
    try:
        clips = {s: make_clip(system.media / f"clip{s}.mp4", seconds=s, size="1280x720") for s in (30, 5)}
        api = system.start()
        roles = system.classify()
        counts = {role: sum(1 for r in roles.values() if r == role) for role in set(roles.values())}
        print(f"make run's processes: {counts}", flush=True)
        time.sleep(5)  # let start-up settle
        # Idle: CPU per second and memory at rest.
        system.classify()
        before, t0 = system.cpu(), time.monotonic()
        time.sleep(idle_window)
        idle = by_role(before, system.cpu(), system.roles)
        idle_s = time.monotonic() - t0
        idle_rate = {role: value / idle_s for role, value in idle.items()}
        idle_memory = system.memory()
        # Flower opened once (make run starts it then): the memory at rest with it; the jobs below run with it.
        flower_status = system.open_flower()
        time.sleep(10)
        system.classify()
        flower_memory = system.memory()
        # Warm-up job (imports, caches).
        one_job(system, api, clips[5])
        per_clip: dict[int, dict] = {}
        for seconds, clip in clips.items():
            jobs, bare_walls, bare_cpu = [], [], []
            for run in range(runs):
                if run % 2 == 0:
                    done = one_job(system, api, clip)
                    bare = run_bare(done["argv"], Path(done["output"]), f"bare{run}", sandboxed=True)
                else:
                    bare = run_bare(jobs[-1]["argv"], Path(jobs[-1]["output"]), f"bare{run}", sandboxed=True)
                    done = one_job(system, api, clip)
                jobs.append(done)
                bare_walls.append(bare[0])
                bare_cpu.append(bare[1])
                print(
                    f"{seconds:>2} s clip run {run + 1}: own CPU {done['own']:.3f} s "
                    f"({', '.join(f'{r} {v:.3f}' for r, v in done['cpu'].items() if v)}); "
                    f"system {done['wall']:.2f} s, bare {bare[0]:.2f} s, ratio {done['wall'] / bare[0]:.3f}",
                    flush=True,
                )
            per_clip[seconds] = {"jobs": jobs, "bare_wall": bare_walls, "bare_cpu": bare_cpu}
        # Report.
        for seconds in (30, 5):
            data = per_clip[seconds]
            jobs = data["jobs"]
            own = median([j["own"] for j in jobs])
            target = f"<= {TARGET_CPU_30}" if seconds == 30 else ""
            result.add(
                f"own CPU per job, {seconds} s clip",
                own,
                "s",
                target,
                (own <= TARGET_CPU_30) if seconds == 30 else None,
                "original: 0.04 s; ours before: 0.62 s" if seconds == 30 else "",
            )
            for role in ROLES:
                result.add(f"  {role}", median([j["cpu"].get(role, 0.0) for j in jobs]), "s")
            result.add(
                f"  verification ffprobe (pool's children minus FFmpeg), {seconds} s clip",
                median([j["children"] - j["ffmpeg_cpu"] for j in jobs]),
                "s",
                note="approximate: FFmpeg's CPU is sampled every 0.05 s",
            )
            ratios = [j["wall"] / b for j, b in zip(jobs, data["bare_wall"])]
            ratio = median(ratios)
            result.add(
                f"overhead ratio (submit -> succeeded / bare, same boundary), {seconds} s clip",
                ratio,
                "x",
                f"<= {TARGET_RATIO}" if seconds == 30 else "",
                (ratio <= TARGET_RATIO) if seconds == 30 else None,
                "original: 1.12; ours before: 1.22" if seconds == 30 else "",
            )
            result.add(
                f"FFmpeg wall inside / bare, {seconds} s clip",
                median([j["ffmpeg_wall"] / b for j, b in zip(jobs, data["bare_wall"])]),
                "x",
                note="original: 1.09; ours before: 1.19" if seconds == 30 else "",
            )
            result.add(
                f"FFmpeg CPU inside / bare, {seconds} s clip",
                median([j["ffmpeg_cpu"] / b for j, b in zip(jobs, data["bare_cpu"])]),
                "x",
            )
            result.add(
                f"submit -> FFmpeg started, {seconds} s clip",
                median([j["submit_to_ffmpeg"] for j in jobs]) * 1000,
                "ms",
                note="original: 290 ms; ours before: 37 ms (sampled every 0.05 s)",
            )
        total_idle_rate = sum(idle_rate.values())
        result.add("idle CPU, all our processes", total_idle_rate * 1000, "ms/s", note="CPU ms per wall second at rest")
        for role in ROLES:
            result.add(f"  idle {role}", idle_rate.get(role, 0.0) * 1000, "ms/s")
        idle_rss = sum(v[0] for v in idle_memory.values())
        idle_pss = sum(v[1] for v in idle_memory.values())
        result.add(
            "idle PSS, whole tree (Flower not opened yet)",
            idle_pss,
            "MiB",
            f"<= {TARGET_IDLE_PSS:.1f} (200 MB)",
            idle_pss <= TARGET_IDLE_PSS,
            "make run starts Flower at its first visit (fix 26); original: 53-66 MB RSS; ours before: 373-414 MB PSS",
        )
        result.add("idle RSS, whole tree", idle_rss, "MiB", note="ours before: 520-550 MB")
        flower_pss = sum(v[1] for v in flower_memory.values())
        result.add("idle PSS, Flower opened", flower_pss, "MiB", note=f"Flower answered {flower_status}")
        for role in ROLES:
            if role in idle_memory or role in flower_memory:
                rss, pss = idle_memory.get(role) or flower_memory[role]
                result.add(f"  idle {role} PSS (RSS)", pss, "MiB", note=f"RSS {rss:.0f} MiB")
        busy = [sum(v[1] for v in sample.values()) for j in per_clip[30]["jobs"] for sample in j["memory"]]
        busy_rss = [sum(v[0] for v in sample.values()) for j in per_clip[30]["jobs"] for sample in j["memory"]]
        ff = [m for j in per_clip[30]["jobs"] for m in j["ffmpeg_memory"]]
        result.add("busy PSS, our processes, peak", max(busy) if busy else float("nan"), "MiB")
        result.add("busy RSS, our processes, peak", max(busy_rss) if busy_rss else float("nan"), "MiB")
        result.add("busy FFmpeg PSS, peak", max((m[1] for m in ff), default=float("nan")), "MiB", note="not ours")
        result.details = {
            "processes": counts,
            "idle_cpu_per_s": idle_rate,
            "idle_memory_mib": idle_memory,
            "flower_opened_memory_mib": flower_memory,
            "web_workers": os.environ.get("WEB_WORKERS", "gunicorn.conf.py default"),
            "runs": {
                str(s): {
                    "own_cpu_s": [j["own"] for j in d["jobs"]],
                    "cpu_by_role_s": [j["cpu"] for j in d["jobs"]],
                    "system_s": [j["wall"] for j in d["jobs"]],
                    "bare_s": d["bare_wall"],
                    "bare_cpu_s": d["bare_cpu"],
                    "ffmpeg_cpu_s": [j["ffmpeg_cpu"] for j in d["jobs"]],
                    "ffmpeg_wall_s": [j["ffmpeg_wall"] for j in d["jobs"]],
                }
                for s, d in per_clip.items()
            },
        }
        if os.environ.get("WEB_WORKERS"):
            result.benchmark = f"footprint_web{os.environ['WEB_WORKERS']}"
    except BaseException:
        if system.log.exists():
            print(system.log.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        system.stop()
    result.save()


if __name__ == "__main__":
    main()
