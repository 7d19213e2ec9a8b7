"""What bench/split.py measures besides wall time: the source clip, SSIM against it, the disk a job's
work folders hold at their peak, and the pieces' timings from the leader's database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from pathlib import Path
from typing import Any

from bench.harness import System, db_time


def make_source(path: Path, seconds: int) -> Path:
    """testsrc2 with noise (so the encoder has work), keyframes every 2 s, a 440 Hz tone."""
    video = f"testsrc2=size=1280x720:rate=25:duration={seconds},noise=alls=12:allf=t"
    audio = f"sine=frequency=440:sample_rate=48000:duration={seconds}"
    argv = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio]
    argv += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-g", "50", "-pix_fmt", "yuv420p"]
    subprocess.run([*argv, "-c:a", "aac", str(path)], check=True)
    return path


def ssim(path: Path, source: Path) -> float:
    """Return FFmpeg's mean SSIM (All) of path's video against the source's."""
    done = subprocess.run(
        ["ffmpeg", "-i", str(path), "-i", str(source), "-lavfi", "[0:v][1:v]ssim", "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    found = re.findall(r"All:([0-9.]+)", done.stderr)
    if not found:
        raise RuntimeError(f"no SSIM for {path}: {done.stderr[-800:]}")
    return float(found[-1])


def folder_bytes(folder: Path, seen: set[tuple[int, int]]) -> int:
    """Return the bytes of the files under folder not counted yet (hard links count once)."""
    total = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                total += folder_bytes(Path(entry.path), seen)
                continue
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # renamed or removed while we looked
        if (info.st_dev, info.st_ino) not in seen:
            seen.add((info.st_dev, info.st_ino))
            total += info.st_size
    return total


class DiskPeak:
    """Sample the work folders beside the output twice a second (one job runs at a time): the pieces
    folder alone, and every `.frameshift-` folder (pieces, pieces being encoded, the join's links and
    its output, or a whole-file encode's temporary output)."""

    def __init__(self, media: Path, every: float = 0.5) -> None:
        self.media, self.every = media, every
        self.pieces = 0
        self.all = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> DiskPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            seen: set[tuple[int, int]] = set()
            pieces = everything = 0
            for entry in os.scandir(self.media):
                if ".frameshift-" not in entry.name:
                    continue
                size = folder_bytes(Path(entry.path), seen)
                everything += size
                if entry.name.endswith("-pieces"):
                    pieces += size
            self.pieces, self.all = max(self.pieces, pieces), max(self.all, everything)


def piece_timings(system: System, job_id: int) -> dict[str, Any]:
    """Read the pieces' timings: the join's own seconds, its task's wall time, the last piece's end, count."""
    rows = system.query(
        'SELECT kind, started_at, finished_at, result, attempts, follower, "index" FROM pieces'
        " WHERE job_id = ? AND status = 'succeeded'",
        (job_id,),
    )
    join = next((r for r in rows if r[0] == "join"), None)
    work = [r for r in rows if r[0] in ("video", "audio")]
    if join is None or not work:
        raise RuntimeError(f"job {job_id} has no succeeded join or pieces: {rows}")
    result = json.loads(join[3]) if isinstance(join[3], str) else (join[3] or {})
    return {
        "join_seconds": float(result.get("join_seconds") or 0.0),
        "join_task_s": db_time(join[2]) - db_time(join[1]),
        "last_piece_done": max(db_time(r[2]) for r in work),
        "join_finished": db_time(join[2]),
        "video_pieces": sum(1 for r in work if r[0] == "video"),
        "dispatches": sum(r[4] for r in rows),
        "schedule": sorted(
            [r[0], r[6], (r[5] or "").split("@")[0], round(db_time(r[1]), 2), round(db_time(r[2]), 2)] for r in rows
        ),
    }
