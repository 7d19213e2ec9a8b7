"""What the FFmpeg boundary costs: the same work with FFMPEG_SANDBOX=landlock and =off, runs alternating.

    python bench/sandbox_cost.py [--quick] [--runs N]

Two figures, each a ratio of medians (boundary / no boundary), runs alternating which mode goes
first so drift in the machine's speed falls on both:
- a whole conversion attempt (tasks/convert.run_attempt: FFmpeg in its private folder, the
  verification probe, the rename), 720p libx264 veryfast CRF 23, wall time and the CPU of FFmpeg
  and ffprobe (RUSAGE_CHILDREN);
- one ffprobe of the input, the shortest process we start (where a fixed cost would show most).
The first run of each mode is a warm-up (page cache, ldd of the binaries) and is reported apart
as the cold figure.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import parse_args  # noqa: E402
from bench.report import Result, median  # noqa: E402
from tasks.convert import run_attempt  # noqa: E402
from tasks.ffmpeg_lib import probe  # noqa: E402
from tasks.follower import FollowerSettings  # noqa: E402
from tests.media import make_clip  # noqa: E402

SPEC = {"video_codec": "libx264", "preset": "veryfast", "crf": 23, "bit_depth": 8, "audio_codec": "aac"}
MODES = ("landlock", "off")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_attempt(folder: Path, clip: Path, n: int) -> tuple[float, float]:
    settings = FollowerSettings(media_roots=[folder])
    payload = {"input": str(clip), "output": str(folder / f"out-{n}.mp4"), "spec": {**SPEC, "container": "mp4"}}
    cpu, start = children_cpu(), time.perf_counter()
    run_attempt(payload, settings, lambda fields: None, lambda: None, f"b{n}")
    wall = time.perf_counter() - start
    (folder / f"out-{n}.mp4").unlink()
    return wall, children_cpu() - cpu


def one_probe(clip: Path) -> float:
    start = time.perf_counter()
    probe(str(clip))
    return time.perf_counter() - start


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    runs = args.runs or (3 if args.quick else 8)
    seconds = 5 if args.quick else 30
    result = Result("sandbox_cost", args.quick, runs, setup=f"{seconds} s 720p clip, libx264 veryfast CRF 23")
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        folder = Path(tmp)
        clip = make_clip(folder / "in.mp4", seconds=seconds, size="1280x720", rate=30)
        wall: dict[str, list[float]] = {m: [] for m in MODES}
        cpu: dict[str, list[float]] = {m: [] for m in MODES}
        probes: dict[str, list[float]] = {m: [] for m in MODES}
        cold: dict[str, float] = {}
        for n in range(runs + 1):
            order = MODES if n % 2 == 0 else MODES[::-1]
            for mode in order:
                os.environ["FFMPEG_SANDBOX"] = mode
                w, c = one_attempt(folder, clip, n)
                p = [one_probe(clip) for _ in range(5)]
                if n == 0:
                    cold[mode] = w
                    continue
                wall[mode].append(w)
                cpu[mode].append(c)
                probes[mode].extend(p)
                print(f"run {n} {mode:8s} attempt {w:6.2f} s wall {c:6.2f} s CPU  probe {median(p) * 1000:5.1f} ms")
        for mode in MODES:
            result.add(f"attempt wall, {mode}", median(wall[mode]), "s")
            result.add(f"attempt FFmpeg+ffprobe CPU, {mode}", median(cpu[mode]), "s")
            result.add(f"ffprobe wall, {mode}", median(probes[mode]) * 1000, "ms")
            result.add(f"attempt wall, cold (first run), {mode}", cold[mode], "s")
        ratio = median(wall["landlock"]) / median(wall["off"])
        result.add("attempt wall ratio, boundary / none", ratio, "x", "about 1.00", abs(ratio - 1) < 0.05)
        result.add("attempt CPU ratio, boundary / none", median(cpu["landlock"]) / median(cpu["off"]), "x")
        result.add("ffprobe wall ratio, boundary / none", median(probes["landlock"]) / median(probes["off"]), "x")
        result.details = {"wall": wall, "cpu": cpu, "probe": probes, "cold": cold}
    result.save()


if __name__ == "__main__":
    main()
