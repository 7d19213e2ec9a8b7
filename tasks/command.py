"""Render a ConversionSpec into the FFmpeg argv that a follower runs."""

from __future__ import annotations

from dataclasses import dataclass

from tasks.ffmpeg_lib import INPUT_GUARD, compile_argv
from tasks.spec import ConversionSpec

AUDIO_BITRATES = {
    "libopus": {"low": "64k", "medium": "96k", "high": "128k"},
    "aac": {"low": "96k", "medium": "160k", "high": "256k"},
    "ac3": {"low": "192k", "medium": "384k", "high": "640k"},
}
# Text subtitles must be converted to what the container supports.
SUBTITLE_CODEC = {"mkv": "copy", "mp4": "mov_text", "mov": "mov_text", "webm": "webvtt"}
MUXER = {"mkv": "matroska", "mp4": "mp4", "mov": "mov", "webm": "webm"}
# Progress every half second: the task throttles reports to about two a second.
PROGRESS_ARGS = ["-progress", "pipe:1", "-nostats", "-stats_period", "0.5"]


@dataclass(frozen=True)
class Threads:
    """FFmpeg thread limits for one follower (0 = FFmpeg decides)."""

    decoder: int = 0
    encoder: int = 0

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Threads:
        """Read FFMPEG_THREADS and the decoder/encoder overrides."""
        both = int(env.get("FFMPEG_THREADS") or 0)
        return cls(
            decoder=int(env.get("FFMPEG_DECODER_THREADS") or both),
            encoder=int(env.get("FFMPEG_ENCODER_THREADS") or both),
        )


def pixel_format(spec: ConversionSpec) -> str:
    """Return the pixel format for the chosen bit depth."""
    return "yuv420p10le" if spec.bit_depth == 10 else "yuv420p"


def build_argv(
    spec: ConversionSpec,
    source: str,
    target: str,
    threads: Threads = Threads(),
    ffmpeg_bin: str = "ffmpeg",
) -> list[str]:
    """Return the argv that converts source into target (a temporary name) per spec."""
    encoder_threads = spec.threads or threads.encoder
    input_options: dict[str, object] = {**INPUT_GUARD}  # before -i: after it they would apply to the output
    if threads.decoder:
        input_options["threads"] = threads.decoder
    global_args = ["-hide_banner", "-y", *PROGRESS_ARGS]
    if spec.mode == "custom":
        argv = compile_argv(ffmpeg_bin, source, target, input_options, {}, [], global_args)
        tokens = spec.custom_tokens()
        if encoder_threads and "-threads" not in tokens:
            tokens += ["-threads", str(encoder_threads)]
        tokens += ["-f", MUXER[spec.container]]
        # Custom options belong to the output: place them just before the output name.
        return argv[:-1] + tokens + argv[-1:]
    out: dict[str, object] = {"f": MUXER[spec.container], **video_options(spec), **audio_options(spec)}
    selectors = ["v:0", "a?"]
    if spec.subtitles == "copy":
        selectors.append("s?")
        out["c:s"] = SUBTITLE_CODEC[spec.container]
    if encoder_threads:
        out["threads"] = encoder_threads
    return compile_argv(ffmpeg_bin, source, target, input_options, out, selectors, global_args)


def video_options(spec: ConversionSpec) -> dict[str, object]:
    """Return the output options that encode the video of a basic spec (shared with split pieces)."""
    if spec.video_codec == "copy":
        return {"c:v": "copy"}
    out: dict[str, object] = {"c:v": spec.video_codec, "preset": _preset(spec), "pix_fmt": pixel_format(spec)}
    if spec.rate_mode == "crf":
        out["crf"] = spec.crf
    else:
        out["b:v"] = spec.video_bitrate
    if spec.max_height:
        out["vf"] = f"scale=-2:'min({spec.max_height},ih)'"
    if spec.video_codec == "libx265":
        out["x265-params"] = "log-level=error"
    return out


def audio_options(spec: ConversionSpec) -> dict[str, object]:
    """Return the output options that convert the audio of a basic spec (shared with the split audio piece)."""
    if spec.audio_codec == "copy":
        return {"c:a": "copy"}
    out: dict[str, object] = {"c:a": spec.audio_codec}
    if spec.audio_codec in AUDIO_BITRATES:
        out["b:a"] = AUDIO_BITRATES[spec.audio_codec][spec.audio_quality]
    return out


def _preset(spec: ConversionSpec) -> str:
    """Map the x264-style preset names onto SVT-AV1's numeric presets."""
    if spec.video_codec != "libsvtav1":
        return spec.preset
    from tasks.spec import PRESETS

    # ultrafast -> 12 (fastest) ... placebo -> 3
    return str(12 - PRESETS.index(spec.preset))
