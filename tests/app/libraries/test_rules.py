"""Library rules as pure functions: names, sizes, facts, and what already matches."""

from __future__ import annotations

from app.services.library_rules import Facts, decide
from app.services.library_walk import ours

HEVC_MKV = {"video_codec": "libx265", "bit_depth": 10, "container": "mkv"}


def test_rules_without_facts():
    rules = {"skip_matching": False, "min_size_mb": 1, "include": ["Season*/*"], "exclude": ["*sample*"]}
    assert decide("Season 1/e1.mkv", 5 << 20, None, rules, HEVC_MKV).action == "queue"
    assert decide("Season 1/e1.mkv", 5, None, rules, HEVC_MKV).reason == "smaller than 1 MB"
    assert decide("Extras/e1.mkv", 5 << 20, None, rules, HEVC_MKV).reason == "name matches no include pattern"
    assert decide("Season 1/a-SAMPLE.mkv", 5 << 20, None, rules, HEVC_MKV).action == "skip"
    assert decide("Season 1/e1.srt", 5 << 20, None, rules, HEVC_MKV).action == "skip"


def test_rules_with_facts():
    rules = {"max_height": 1080, "min_bitrate_kbps": 1000}
    hevc10 = Facts(container="matroska,webm", video_codec="hevc", bit_depth=10, height=720, bitrate=4_000_000)
    assert decide("a.mkv", 1, None, rules, HEVC_MKV).action == "wait"
    assert decide("a.mkv", 1, hevc10, rules, HEVC_MKV).reason.startswith("already matches")
    assert decide("a.mkv", 1, Facts(**{**hevc10.__dict__, "bit_depth": 8}), rules, HEVC_MKV).action == "queue"
    assert decide("a.mp4", 1, Facts(**{**hevc10.__dict__, "container": "mov,mp4"}), rules, HEVC_MKV).action == "queue"
    assert decide("a.mkv", 1, Facts(**{**hevc10.__dict__, "height": 2160}), rules, HEVC_MKV).reason.startswith("taller")
    assert decide("a.mkv", 1, Facts(**{**hevc10.__dict__, "bitrate": 500_000}), rules, HEVC_MKV).reason.startswith(
        "bitrate 500 kb/s"
    )
    assert decide("a.mkv", 1, Facts(error="invalid data"), rules, HEVC_MKV).action == "skip"


def test_our_own_files_are_never_taken():
    assert ours("film_converted.mkv") and ours("film_converted (2).mp4")
    assert ours(".film_converted.frameshift-abc123") and ours(".frameshift-recycle")
    assert not ours("film.mkv") and not ours("converted.mkv")
