"""The tests' FFmpeg: small clips made with lavfi sources, ffprobe's view of a file, the FFmpeg processes running."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support import proc_stat


def _testsrc_argv(source: str) -> list[str]:
    """The start of every generated clip's FFmpeg command: quiet, overwrite, a lavfi test source."""
    return ["ffmpeg", "-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i", source]


def make_clip(path: Path, seconds: float = 3, size: str = "160x120", rate: int = 25, audio: bool = True) -> Path:
    """Generate a small test clip with FFmpeg's lavfi sources."""
    argv = _testsrc_argv(f"testsrc=size={size}:rate={rate}:duration={seconds}")
    if audio:
        argv += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    argv += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        argv += ["-c:a", "aac", "-shortest"]
    argv.append(str(path))
    subprocess.run(argv, check=True)
    return path


def make_hevc_clip(path: Path, seconds: float = 2, size: str = "160x120") -> Path:
    """Generate a small 10-bit HEVC clip (with Opus audio in Matroska, AAC otherwise)."""
    audio = ["-c:a", "libopus"] if path.suffix == ".mkv" else ["-c:a", "aac"]
    argv = _testsrc_argv(f"testsrc=size={size}:duration={seconds}")
    argv += ["-f", "lavfi", "-i", f"sine=duration={seconds}", "-c:v", "libx265", "-preset", "ultrafast"]
    argv += ["-x265-params", "log-level=error", "-pix_fmt", "yuv420p10le", *audio, "-shortest", str(path)]
    subprocess.run(argv, check=True)
    return path


def ffprobe(path: Path) -> dict:
    """Return ffprobe JSON for a file."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        check=True,
    ).stdout
    return json.loads(out)


def ffmpeg_pids(marker: str) -> list[int]:
    """Return pids of ffmpeg processes whose command line contains marker."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"ffmpeg") and any(marker.encode() in part for part in cmd):
            fields = proc_stat(int(entry.name))
            if fields and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids
