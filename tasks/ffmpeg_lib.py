"""The only module that imports ffmpeg-python: keep it swappable (typed-ffmpeg is its successor)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import ffmpeg

from tasks import sandbox

# Inputs are opened only as real media: local files or our own pipes, and only these container
# demuxers (no playlists, concat lists, image sequences or text formats that name other files).
# Any one name of a demuxer matches: "mov" admits mov,mp4,m4a,3gp,3g2,mj2; "mpeg" is not "mpegts".
PROTOCOLS = "file,pipe"
MEDIA_FORMATS = "mov,matroska,avi,mpegts,flv,asf,mpeg,ogg,rm"
INPUT_GUARD = {"protocol_whitelist": PROTOCOLS, "format_whitelist": MEDIA_FORMATS}
NOT_MEDIA = "not a video file Frame Shift can read"


class ProbeError(RuntimeError):
    """ffprobe could not read a file."""


def explain_refusal(log: str) -> str | None:
    """Say in words what a whitelist refusal in FFmpeg's log means, or None when there is none."""
    for line in log.splitlines():
        if "not on whitelist" in line:
            kind = line.split("]")[0].lstrip("[").split(" @")[0] if line.startswith("[") else ""
            detail = (
                f" (it is read as '{kind}', a playlist, list or other format that names other files)" if kind else ""
            )
            return f"{NOT_MEDIA}{detail}; only real video containers (MP4, MKV, AVI, TS, ...) are accepted"
    return None


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
    argv = [ffprobe_bin, "-v", "error", "-protocol_whitelist", PROTOCOLS, "-format_whitelist", MEDIA_FORMATS]
    argv += ["-show_format", "-show_streams", "-of", "json", path]
    try:
        done = sandbox.run(argv, reads=[path], timeout=timeout)
    except FileNotFoundError:
        raise ProbeError(f"{ffprobe_bin} is not installed; install FFmpeg (apt-get install ffmpeg)") from None
    except subprocess.TimeoutExpired:
        raise ProbeError(f"ffprobe took longer than {timeout:.0f} s to read the file") from None
    except sandbox.SandboxError as exc:
        raise ProbeError(str(exc)) from None
    message = done.stderr.decode("utf-8", "replace").strip()
    refusal = explain_refusal(message)
    if refusal:
        raise ProbeError(refusal)
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
__all__ = ["compile_argv", "probe", "ProbeError", "ffmpeg", "INPUT_GUARD", "explain_refusal"]
