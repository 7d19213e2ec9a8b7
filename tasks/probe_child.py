"""The probe child: read media facts of many files in one process, inside the follower's read-only boundary.

Started by tasks/library_probe.py as `python -I -B tasks/probe_child.py` (a file, not `-m tasks.probe_child`,
so that it imports only the standard library and PyAV, never the tasks package with Celery and Redis). It
reads one JSON object on stdin: {"paths": [...], "formats": "mov,matroska,...", "protocols": "file"},
says {"ready": true} once PyAV is loaded, then writes one JSON line per path, in order:
{"i": N, "container": ..., "video_codec": ..., ...} or {"i": N, "error": "..."}.

Each file is opened with FFmpeg's own format and protocol whitelists (the same ones every FFmpeg and ffprobe
gets: a playlist or concat list named .mp4 is refused before it can name another file); the kernel boundary
(Landlock + seccomp, which the child inherits from the follower's thread that starts it) is the guarantee behind them.
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from typing import Any

NOT_MEDIA = "not a video file Frame Shift can read"
# What a probe returns for a readable file (the media_facts columns of the same names).
FACT_FIELDS = ("container", "video_codec", "bit_depth", "width", "height", "duration", "bitrate", "audio_codec")


def bit_depth(codec_context: Any) -> int | None:
    """The bits per sample of the decoded picture (yuv420p10le: 10), or None when unknown."""
    fmt = getattr(codec_context, "format", None)
    components = getattr(fmt, "components", None) or ()
    depths = [c.bits for c in components if getattr(c, "bits", 0)]
    if depths:
        return max(depths)
    raw = getattr(codec_context, "bits_per_raw_sample", 0) or 0
    return int(raw) or None


def duration_of(container: Any, stream: Any) -> float | None:
    """The container's duration in seconds, else the video stream's."""
    if container.duration:
        return round(container.duration / 1_000_000, 3)
    if stream.duration and stream.time_base:
        return round(float(stream.duration * Fraction(stream.time_base)), 3)
    return None


def read_facts(av: Any, path: str, formats: str, protocols: str) -> dict[str, Any]:
    """Open one file (headers and stream info only) and return its facts, or {"error": why}."""
    options = {"format_whitelist": formats, "protocol_whitelist": protocols}
    try:
        container = av.open(path, container_options=options)
    except (av.FFmpegError, OSError, ValueError, UnicodeError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc)
        return {"error": f"{NOT_MEDIA}: {detail}"[:500]}
    try:
        video = next(iter(container.streams.video), None)
        if video is None:
            return {"error": f"{NOT_MEDIA}: it has no video stream"}
        context = video.codec_context
        audio = next(iter(container.streams.audio), None)
        return {
            "container": container.format.name,
            "video_codec": context.name,
            "bit_depth": bit_depth(context),
            "width": context.width or None,
            "height": context.height or None,
            "duration": duration_of(container, video),
            "bitrate": container.bit_rate or None,
            "audio_codec": audio.codec_context.name if audio is not None else None,
        }
    except (av.FFmpegError, AttributeError, TypeError, ValueError) as exc:
        return {"error": f"{NOT_MEDIA}: {exc}"[:500]}
    finally:
        container.close()


def main() -> int:
    """Read the batch, probe each path in order, one JSON line per answer."""
    request = json.loads(sys.stdin.read())
    import av  # after reading the batch: an import failure is the parent's to report, not a file's

    if hasattr(av, "logging"):
        av.logging.set_level(None)  # FFmpeg's own log lines would only fill our stderr pipe
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for index, path in enumerate(request["paths"]):
        facts = read_facts(av, path, request["formats"], request["protocols"])
        out.write(json.dumps({"i": index, **facts}) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
