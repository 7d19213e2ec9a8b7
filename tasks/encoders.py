"""Find which encoders this machine can really use: a short trial encode, not a listing."""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

from tasks import sandbox

CANDIDATES = (
    "libx264",
    "libx265",
    "libsvtav1",
    "h264_nvenc",
    "hevc_nvenc",
    "av1_nvenc",
    "h264_qsv",
    "hevc_qsv",
    "av1_qsv",
    "h264_vaapi",
    "hevc_vaapi",
    "av1_vaapi",
)
AUDIO = ("aac", "libopus", "ac3", "flac")


def ffmpeg_version(ffmpeg_bin: str = "ffmpeg") -> str:
    """Return FFmpeg's version string, or '' when FFmpeg is missing."""
    try:
        out = sandbox.run([ffmpeg_bin, "-hide_banner", "-version"], timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired, sandbox.SandboxError):
        return ""
    match = re.match(rb"ffmpeg version (\S+)", out)
    return match.group(1).decode() if match else ""


def listed_encoders(ffmpeg_bin: str = "ffmpeg") -> set[str]:
    """Return the encoder names this FFmpeg build lists."""
    try:
        out = sandbox.run([ffmpeg_bin, "-hide_banner", "-encoders"], timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired, sandbox.SandboxError):
        return set()
    return {m.group(1).decode() for m in re.finditer(rb"^ [VAS][\w.]{5} (\S+)", out, re.MULTILINE)}


def trial_argv(encoder: str, ffmpeg_bin: str = "ffmpeg") -> list[str]:
    """Return a one-frame encode that succeeds only if the encoder really works here."""
    # A generated picture (lavfi), so the trial reads no file; it runs inside the same boundary as a job.
    source = ["-protocol_whitelist", "file,pipe", "-format_whitelist", "lavfi"]
    source += ["-f", "lavfi", "-i", "testsrc2=size=256x256:rate=10:duration=0.2"]
    extra: list[str] = []
    if encoder.endswith("_vaapi"):
        source = ["-vaapi_device", "/dev/dri/renderD128", *source]
        extra = ["-vf", "format=nv12,hwupload"]
    return [
        ffmpeg_bin,
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        *source,
        *extra,
        "-frames:v",
        "2",
        "-c:v",
        encoder,
        "-f",
        "null",
        "-",
    ]


def works(encoder: str, ffmpeg_bin: str = "ffmpeg") -> bool:
    """Run the trial encode for one encoder."""
    try:
        done = sandbox.run(trial_argv(encoder, ffmpeg_bin), timeout=20)
    except (OSError, subprocess.TimeoutExpired, sandbox.SandboxError):
        return False
    return done.returncode == 0


def usable_encoders(ffmpeg_bin: str = "ffmpeg") -> list[str]:
    """Return the video encoders that pass a trial encode, plus listed audio encoders."""
    listed = listed_encoders(ffmpeg_bin)
    candidates = [name for name in CANDIDATES if name in listed]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda name: works(name, ffmpeg_bin), candidates))
    video = [name for name, ok in zip(candidates, results) if ok]
    return video + [name for name in AUDIO if name in listed]
