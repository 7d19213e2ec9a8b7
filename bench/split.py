"""Split encoding at the layer level: one file whole in one process vs in pieces two processes at a time.

    python bench/split.py [--quick] [--runs N] [--keep]

One 4-minute 1280x720 25 fps clip (--quick: 30 s), testsrc2 with temporal noise, x264 keyframes every
2 s, AAC. Both ways encode libx265 -preset fast -crf 26 with one FFmpeg thread (x265 pools=1,
frame-threads=1) and Opus audio into MKV, through the follower's own code inside the FFmpeg boundary:
- whole: tasks/convert.run_attempt, one process;
- split: tasks/split_run.py's task bodies, as the split.* tasks will run them: the plan, then four
  pieces and the audio piece on a pool of two processes (two followers with one slot each), then
  the join (verified, renamed into place).
Runs alternate which way goes first, so drift in the machine's speed falls on both. Figures: wall
times (medians), speed-up, SSIM against the source of each output and their difference, the extra
disk the pieces take before the join, and the join's own time. The leader is not involved yet: the
system-level figure (dispatch across two real followers) comes once the leader wiring lands.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import parse_args  # noqa: E402
from bench.report import Result, median  # noqa: E402
from tasks.convert import run_attempt  # noqa: E402
from tasks.follower import FollowerSettings  # noqa: E402
from tasks.split_join import run_join  # noqa: E402
from tasks.split_run import pieces_folder, run_audio, run_piece, run_plan  # noqa: E402

# The same arguments for both ways: one x265 thread, as a follower slot with FFMPEG_THREADS=1 would run.
ARGS = "-c:v libx265 -preset fast -crf 26 -x265-params log-level=error:pools=1:frame-threads=1 -c:a libopus -b:a 96k"
SPEC = {"mode": "custom", "container": "mkv", "custom_args": ARGS}
PROCESSES = 2
PIECES = 4


def make_source(path: Path, seconds: int) -> Path:
    """testsrc2 with noise (so the encoder has work), keyframes every 2 s, a 440 Hz tone."""
    video = f"testsrc2=size=1280x720:rate=25:duration={seconds},noise=alls=12:allf=t"
    audio = f"sine=frequency=440:sample_rate=48000:duration={seconds}"
    argv = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio]
    argv += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-g", "50", "-pix_fmt", "yuv420p"]
    subprocess.run([*argv, "-c:a", "aac", str(path)], check=True)
    return path


def noop(_fields: dict) -> None:
    pass


def _piece(payload: dict, roots: list[Path]) -> dict:
    return run_piece(payload, FollowerSettings(media_roots=roots), noop, lambda: None, f"p{payload['index']}", None)


def _audio(payload: dict, roots: list[Path]) -> dict:
    return run_audio(payload, FollowerSettings(media_roots=roots), noop, lambda: None, "a", None)


def whole(source: Path, output: Path) -> float:
    start = time.perf_counter()
    payload = {"input": str(source), "output": str(output), "spec": SPEC}
    run_attempt(payload, FollowerSettings(media_roots=[source.parent]), noop, lambda: None, "whole")
    return time.perf_counter() - start


def split(source: Path, output: Path, job: str, seconds: int) -> dict[str, float]:
    """Plan, pieces and audio on two processes, join: wall time, join time, the pieces' bytes."""
    roots = [source.parent]
    conf = FollowerSettings(media_roots=roots)
    base = {"input": str(source), "output": str(output), "spec": SPEC, "job": job}
    start = time.perf_counter()
    plan = run_plan({**base, "split_seconds": seconds / PIECES}, conf)
    with ProcessPoolExecutor(PROCESSES, mp_context=get_context("fork")) as pool:
        # The pieces in order, the audio last: two followers with one slot each take the next as they free up.
        jobs = [pool.submit(_piece, {**base, **p}, roots) for p in plan["pieces"]]
        jobs.append(pool.submit(_audio, base, roots))
        for done in jobs:
            done.result()
    folder = pieces_folder(output, job)
    extra = sum(p.stat().st_size for p in folder.iterdir())
    keys = ("frames", "video_duration", "frame_duration", "video_start", "start_time", "audio")
    joined = run_join(
        {**base, **{k: plan[k] for k in keys}, "starts": [p["start"] for p in plan["pieces"]]},
        conf,
        noop,
        lambda: None,
        "j",
        None,
    )
    return {
        "wall": time.perf_counter() - start,
        "join": joined["join_seconds"],
        "extra_bytes": extra,
        "pieces": len(plan["pieces"]),
    }


def ssim(path: Path, source: Path) -> float:
    done = subprocess.run(
        ["ffmpeg", "-i", str(path), "-i", str(source), "-lavfi", "[0:v][1:v]ssim", "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    return float(re.findall(r"All:([0-9.]+)", done.stderr)[-1])


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    runs = args.runs or (1 if args.quick else 3)
    seconds = 30 if args.quick else 240
    result = Result(
        "split",
        args.quick,
        runs,
        setup=f"{seconds} s 1280x720 25 fps clip; libx265 fast CRF 26, 1 thread per process; "
        f"whole: 1 process; split: {PIECES} pieces + audio on {PROCESSES} processes, then the join",
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-split-"))
    try:
        source = make_source(tmp / "source.mp4", seconds)
        walls: dict[str, list[float]] = {"whole": [], "split": []}
        joins, extras, ssims, sizes = [], [], {"whole": [], "split": []}, {"whole": [], "split": []}
        for n in range(runs):
            for way in ("whole", "split") if n % 2 == 0 else ("split", "whole"):
                output = tmp / f"{way}-{n}.mkv"
                if way == "whole":
                    walls["whole"].append(whole(source, output))
                else:
                    figures = split(source, output, f"run{n}", seconds)
                    walls["split"].append(figures["wall"])
                    joins.append(figures["join"])
                    extras.append(figures["extra_bytes"])
                ssims[way].append(ssim(output, source))
                sizes[way].append(output.stat().st_size)
                print(
                    f"run {n} {way:5s} {walls[way][-1]:7.1f} s  SSIM {ssims[way][-1]:.5f}  {sizes[way][-1] / 1e6:.1f} MB"
                )
                if not args.keep:
                    output.unlink()
        speedup = median(walls["whole"]) / median(walls["split"])
        diff = median(ssims["split"]) - median(ssims["whole"])
        result.add("whole, 1 process", median(walls["whole"]), "s")
        result.add(f"split, {PROCESSES} processes", median(walls["split"]), "s")
        result.add("speed-up", speedup, "x", ">= 1.8 (system level)", speedup >= 1.8)
        result.add("SSIM vs source, whole", median(ssims["whole"]), "")
        result.add("SSIM vs source, split", median(ssims["split"]), "")
        result.add("SSIM difference, split - whole", diff, "", "< 0.002", abs(diff) < 0.002)
        result.add("output size, split / whole", median(sizes["split"]) / median(sizes["whole"]), "x")
        result.add("extra disk before the join (pieces + audio)", median(extras) / 1e6, "MB")
        result.add("extra disk, of the output", median(extras) / median(sizes["split"]) * 100, "%")
        result.add("join (concat, verify, rename)", median(joins), "s")
        result.details = {"wall": walls, "join": joins, "extra_bytes": extras, "ssim": ssims, "size": sizes}
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    result.save()


if __name__ == "__main__":
    main()
