"""Library rules: whether one file needs work, and why not. Pure functions over plain values."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from tasks.paths import VIDEO_EXTENSIONS

# The codec and container names ffprobe reports for what each spec choice produces.
CODEC_OF_ENCODER = {"libx265": "hevc", "libx264": "h264", "libsvtav1": "av1"}
CONTAINER_NAMES = {"mkv": ("matroska",), "webm": ("matroska", "webm"), "mp4": ("mp4", "mov"), "mov": ("mov",)}
DEFAULT_RULES: dict[str, Any] = {
    "extensions": sorted(e.lstrip(".") for e in VIDEO_EXTENSIONS),
    "skip_matching": True,
    "min_size_mb": 0,
    "min_bitrate_kbps": 0,
    "max_height": 0,
    "include": [],
    "exclude": [],
}
# Rules that read media facts: a file waits for its probe when one of these is on.
FACT_RULES = ("skip_matching", "min_bitrate_kbps", "max_height")


@dataclass(frozen=True)
class Facts:
    """What a probe read from a file (any may be unknown)."""

    container: str | None = None
    video_codec: str | None = None
    bit_depth: int | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    bitrate: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Decision:
    """queue, skip (with the rule that skipped it) or wait (for facts)."""

    action: str
    reason: str = ""


def full_rules(rules: dict[str, Any] | None) -> dict[str, Any]:
    """Return the rules with every default filled in."""
    return {**DEFAULT_RULES, **(rules or {})}


def needs_facts(rules: dict[str, Any]) -> bool:
    """Return True when some rule on reads codec, bit depth, bitrate or height."""
    rules = full_rules(rules)
    return any(rules[name] for name in FACT_RULES)


def name_decision(relative: str, size: int, rules: dict[str, Any]) -> Decision | None:
    """Apply the rules that need no probe (extension, patterns, size); None when the file passes them."""
    rules = full_rules(rules)
    name = relative.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in {e.lower().lstrip(".") for e in rules["extensions"]}:
        return Decision("skip", f"extension .{ext} is not in the library's list")
    if rules["include"] and not any(_matches(relative, p) for p in rules["include"]):
        return Decision("skip", "name matches no include pattern")
    for pattern in rules["exclude"]:
        if _matches(relative, pattern):
            return Decision("skip", f"name matches exclude pattern {pattern}")
    if rules["min_size_mb"] and size < rules["min_size_mb"] * 1024 * 1024:
        return Decision("skip", f"smaller than {rules['min_size_mb']} MB")
    return None


def _matches(relative: str, pattern: str) -> bool:
    """A pattern without a slash matches the file name; with one, the path inside the library."""
    target = relative if "/" in pattern else relative.rsplit("/", 1)[-1]
    return fnmatch.fnmatchcase(target.lower(), pattern.lower())


def already_matches(facts: Facts, spec: dict[str, Any]) -> bool:
    """Return True when the video codec, bit depth and container are already what the spec makes."""
    wanted = CODEC_OF_ENCODER.get(spec.get("video_codec") or "")
    if wanted is None or facts.video_codec != wanted:
        return False
    if spec.get("bit_depth") and facts.bit_depth != int(spec["bit_depth"]):
        return False
    names = CONTAINER_NAMES.get(spec.get("container") or "", ())
    return any(n in (facts.container or "").split(",") for n in names)


def decide(relative: str, size: int, facts: Facts | None, rules: dict[str, Any], spec: dict[str, Any]) -> Decision:
    """Whether this file needs work under the library's rules and spec."""
    rules = full_rules(rules)
    early = name_decision(relative, size, rules)
    if early is not None:
        return early
    if not needs_facts(rules):
        return Decision("queue")
    if facts is None:
        return Decision("wait", "waiting for its media facts")
    if facts.error:
        return Decision("skip", f"not readable as a video: {facts.error[:200]}")
    if rules["max_height"] and facts.height and facts.height > rules["max_height"]:
        return Decision("skip", f"taller than {rules['max_height']} lines ({facts.height})")
    if rules["min_bitrate_kbps"] and facts.bitrate is not None and facts.bitrate < rules["min_bitrate_kbps"] * 1000:
        return Decision("skip", f"bitrate {facts.bitrate // 1000} kb/s is below {rules['min_bitrate_kbps']} kb/s")
    if rules["skip_matching"] and already_matches(facts, spec):
        return Decision("skip", "already matches the target (codec, bit depth and container)")
    return Decision("queue")
