"""The only module that imports ffmpeg-python: keep it swappable (typed-ffmpeg is its successor)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import ffmpeg


class ProbeError(RuntimeError):
    """ffprobe could not read a file."""


def compile_argv(
    ffmpeg_bin: str,
    source: str,
    target: str,
    input_options: dict[str, Any],
    output_options: dict[str, Any],
    selectors: list[str],
    global_args: list[str],
) -> list[str]:
    """Render one input and one output into an argv list."""
    stream = ffmpeg.input(source, **input_options)
    streams = [stream[s] for s in selectors] if selectors else [stream]
    argv = ffmpeg.output(*streams, target, **output_options).compile(cmd=ffmpeg_bin)
    # Global options first, so the output file stays the last argument.
    return [argv[0], *global_args, *argv[1:]]


def probe(path: str, ffprobe_bin: str = "ffprobe", timeout: float = 60) -> dict[str, Any]:
    """Return ffprobe's JSON for path, or raise ProbeError with ffprobe's own message."""
    argv = [ffprobe_bin, "-v", "error", "-show_format", "-show_streams", "-of", "json", path]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise ProbeError(f"{ffprobe_bin} is not installed; install FFmpeg (apt-get install ffmpeg)") from None
    except subprocess.TimeoutExpired:
        raise ProbeError(f"ffprobe took longer than {timeout:.0f} s to read the file") from None
    message = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode != 0:
        raise ProbeError(message.splitlines()[-1] if message else f"ffprobe exited with {done.returncode}")
    try:
        data = json.loads(done.stdout or b"{}")
    except json.JSONDecodeError:
        raise ProbeError("ffprobe returned unreadable output") from None
    if not data.get("streams"):
        raise ProbeError(message.splitlines()[-1] if message else "the file has no audio or video streams")
    return data


# ffmpeg.probe exists too; we call ffprobe ourselves for a timeout and a clean error message.
__all__ = ["compile_argv", "probe", "ProbeError", "ffmpeg"]
