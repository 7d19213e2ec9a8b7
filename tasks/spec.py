"""The conversion spec: a validated value object shared by leader and follower."""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field, fields
from typing import Any

VIDEO_CODECS = ("libx265", "libx264", "libsvtav1", "copy")
AUDIO_CODECS = ("libopus", "aac", "ac3", "flac", "copy")
CONTAINERS = ("mkv", "mp4", "webm", "mov")
PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)
RATE_MODES = ("crf", "bitrate")
AUDIO_QUALITIES = ("low", "medium", "high")
SUBTITLE_MODES = ("copy", "none")
IF_EXISTS = ("rename", "fail", "overwrite")
MODES = ("basic", "custom")
# auto: split a long input when more than one follower slot could work on it (docs/split.md).
SPLIT_MODES = ("auto", "always", "never")

# Which codecs each container can hold (what FFmpeg's muxers accept).
CONTAINER_VIDEO = {
    "mkv": VIDEO_CODECS,
    "mp4": VIDEO_CODECS,
    "mov": VIDEO_CODECS,
    "webm": ("libsvtav1", "copy"),
}
CONTAINER_AUDIO = {
    "mkv": AUDIO_CODECS,
    "mp4": ("aac", "ac3", "libopus", "flac", "copy"),
    "mov": ("aac", "ac3", "flac", "copy"),
    "webm": ("libopus", "copy"),
}


class SpecError(ValueError):
    """A conversion spec field is invalid; `field` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class ConversionSpec:
    """What to do to one input file. Defaults follow the original Frame Shift."""

    mode: str = "basic"
    video_codec: str = "libx265"
    rate_mode: str = "crf"
    crf: int = 22
    video_bitrate: str = "4M"
    preset: str = "slow"
    bit_depth: int = 10
    max_height: int | None = None
    audio_codec: str = "libopus"
    audio_quality: str = "high"
    container: str = "mkv"
    subtitles: str = "copy"
    threads: int = 0
    custom_args: str = ""
    output_dir: str | None = None
    if_exists: str = "rename"
    split: str = "auto"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as plain JSON values."""
        return asdict(self)

    def required_encoder(self) -> str | None:
        """Return the video encoder a follower must have, or None for stream copy/custom."""
        if self.mode == "custom":
            return custom_video_encoder(self.custom_args)
        return None if self.video_codec == "copy" else self.video_codec

    def custom_tokens(self) -> list[str]:
        """Return the custom FFmpeg arguments split like a shell would (no expansion)."""
        return shlex.split(self.custom_args)


def _choice(name: str, value: Any, allowed: tuple) -> Any:
    if value not in allowed:
        raise SpecError(name, f"must be one of {', '.join(map(str, allowed))} (got {value!r})")
    return value


def _int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise SpecError(name, f"must be a whole number between {low} and {high}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SpecError(name, f"must be a whole number between {low} and {high} (got {value!r})") from None
    if str(number) != str(value).strip() and not isinstance(value, int):
        raise SpecError(name, f"must be a whole number between {low} and {high} (got {value!r})")
    if not low <= number <= high:
        raise SpecError(name, f"must be between {low} and {high} (got {number})")
    return number


def _bitrate(name: str, value: Any) -> str:
    text = str(value).strip()
    digits = text[:-1] if text[-1:].lower() in ("k", "m") else text
    if not digits.isdigit() or int(digits) <= 0:
        raise SpecError(name, f"must look like 4M, 2500k or 800000 (got {value!r})")
    return text


def parse_spec(data: dict[str, Any] | None) -> ConversionSpec:
    """Validate raw JSON into a ConversionSpec, raising SpecError naming the bad field."""
    data = dict(data or {})
    known = {f.name for f in fields(ConversionSpec)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SpecError(unknown[0], f"is not a conversion setting (known: {', '.join(sorted(known))})")
    base = ConversionSpec()
    values = {**base.to_dict(), **{k: v for k, v in data.items() if v is not None or k in ("max_height", "output_dir")}}
    if data.get("bit_depth") in (None, ""):
        # 10-bit H.264 (High 10) plays on few TVs, phones or browsers: H.264 is 8-bit unless asked for.
        values["bit_depth"] = 8 if values["video_codec"] == "libx264" else base.bit_depth
    mode = _choice("mode", values["mode"], MODES)
    container = _choice("container", values["container"], CONTAINERS)
    spec = ConversionSpec(
        mode=mode,
        video_codec=_choice("video_codec", values["video_codec"], VIDEO_CODECS),
        rate_mode=_choice("rate_mode", values["rate_mode"], RATE_MODES),
        crf=_int("crf", values["crf"], 0, 63),
        video_bitrate=_bitrate("video_bitrate", values["video_bitrate"]),
        preset=_choice("preset", values["preset"], PRESETS),
        bit_depth=_int("bit_depth", values["bit_depth"], 8, 10),
        max_height=None
        if values["max_height"] in (None, "", 0, "0")
        else _int("max_height", values["max_height"], 64, 8640),
        audio_codec=_choice("audio_codec", values["audio_codec"], AUDIO_CODECS),
        audio_quality=_choice("audio_quality", values["audio_quality"], AUDIO_QUALITIES),
        container=container,
        subtitles=_choice("subtitles", values["subtitles"], SUBTITLE_MODES),
        threads=_int("threads", values["threads"], 0, 64),
        custom_args=str(values["custom_args"] or ""),
        output_dir=(str(values["output_dir"]) if values["output_dir"] else None),
        if_exists=_choice("if_exists", values["if_exists"], IF_EXISTS),
        split=_choice("split", values["split"], SPLIT_MODES),
        extra=dict(values.get("extra") or {}),
    )
    if spec.bit_depth not in (8, 10):
        raise SpecError("bit_depth", "must be 8 or 10")
    if spec.video_codec == "libx264" and spec.crf > 51:
        raise SpecError("crf", "must be between 0 and 51 for libx264/libx265")
    if spec.video_codec == "libx265" and spec.crf > 51:
        raise SpecError("crf", "must be between 0 and 51 for libx264/libx265")
    if mode == "basic":
        if spec.video_codec not in CONTAINER_VIDEO[container]:
            raise SpecError(
                "video_codec",
                f"{spec.video_codec} cannot go in a {container} file; pick {', '.join(CONTAINER_VIDEO[container])}",
            )
        if spec.audio_codec not in CONTAINER_AUDIO[container]:
            raise SpecError(
                "audio_codec",
                f"{spec.audio_codec} cannot go in a {container} file; pick {', '.join(CONTAINER_AUDIO[container])}",
            )
    else:
        from tasks.custom_args import check_custom_args

        check_custom_args(spec.custom_args)
    return spec


def custom_video_encoder(custom_args: str) -> str | None:
    """Return the encoder named by -c:v/-vcodec in custom args, if any."""
    try:
        tokens = shlex.split(custom_args)
    except ValueError:
        return None
    for i, token in enumerate(tokens[:-1]):
        if token in ("-c:v", "-vcodec", "-codec:v", "-c:v:0"):
            value = tokens[i + 1]
            return None if value == "copy" else value
    return None
