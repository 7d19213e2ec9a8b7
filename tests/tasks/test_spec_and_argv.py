"""Conversion spec validation and argv rendering (pure)."""

from __future__ import annotations

import pytest

from tasks.command import Threads, build_argv
from tasks.spec import SpecError, parse_spec


def test_defaults_follow_the_original():
    spec = parse_spec({})
    assert (spec.video_codec, spec.crf, spec.container, spec.preset, spec.bit_depth, spec.audio_codec) == (
        "libx265",
        22,
        "mkv",
        "slow",
        10,
        "libopus",
    )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"video_codec": "mpeg2"}, "video_codec"),
        ({"crf": 99}, "crf"),
        ({"crf": "abc"}, "crf"),
        ({"crf": 22.5}, "crf"),
        ({"container": "avi2"}, "container"),
        ({"audio_codec": "mp3"}, "audio_codec"),
        ({"bit_depth": 12}, "bit_depth"),
        ({"container": "webm", "video_codec": "libx265"}, "video_codec"),
        ({"container": "webm", "video_codec": "libsvtav1", "audio_codec": "aac"}, "audio_codec"),
        ({"video_bitrate": "lots", "rate_mode": "bitrate"}, "video_bitrate"),
        ({"max_height": 10}, "max_height"),
        ({"colour": "blue"}, "colour"),
        ({"mode": "custom", "custom_args": ""}, "custom_args"),
    ],
)
def test_invalid_specs_name_the_field(data, field):
    with pytest.raises(SpecError) as caught:
        parse_spec(data)
    assert caught.value.field == field
    assert field in str(caught.value)


def test_argv_is_a_list_with_progress_and_chosen_codecs():
    spec = parse_spec(
        {
            "video_codec": "libx264",
            "crf": 20,
            "preset": "fast",
            "bit_depth": 8,
            "container": "mp4",
            "audio_codec": "aac",
            "audio_quality": "medium",
            "max_height": 720,
        }
    )
    argv = build_argv(spec, "/m/in put.mkv", "/m/.out.mp4", Threads(decoder=2, encoder=3))
    assert argv[0] == "ffmpeg" and argv[-1] == "/m/.out.mp4"
    assert argv[argv.index("-i") + 1] == "/m/in put.mkv"
    assert argv[argv.index("-threads") + 1] == "2"  # decoder threads come before -i
    after_input = argv[argv.index("-i") :]
    pairs = dict(zip(after_input[::1], after_input[1::1]))
    assert pairs["-c:v"] == "libx264" and pairs["-crf"] == "20" and pairs["-preset"] == "fast"
    assert pairs["-pix_fmt"] == "yuv420p" and pairs["-c:a"] == "aac" and pairs["-b:a"] == "160k"
    assert pairs["-f"] == "mp4" and pairs["-c:s"] == "mov_text" and pairs["-threads"] == "3"
    assert "min(720,ih)" in pairs["-vf"]
    assert ["-progress", "pipe:1", "-nostats"] == argv[argv.index("-progress") : argv.index("-progress") + 3]


def test_bitrate_mode_ten_bit_and_stream_copy():
    argv = build_argv(parse_spec({"rate_mode": "bitrate", "video_bitrate": "2500k"}), "/a.mkv", "/b.mkv")
    assert argv[argv.index("-b:v") + 1] == "2500k" and "-crf" not in argv
    assert argv[argv.index("-pix_fmt") + 1] == "yuv420p10le"
    copy = build_argv(parse_spec({"video_codec": "copy", "audio_codec": "copy", "subtitles": "none"}), "/a", "/b.mkv")
    assert copy[copy.index("-c:v") + 1] == "copy" and "-preset" not in copy and "-c:s" not in copy


def test_svtav1_preset_is_numeric():
    argv = build_argv(
        parse_spec({"video_codec": "libsvtav1", "preset": "ultrafast", "container": "webm"}), "/a", "/b.webm"
    )
    assert argv[argv.index("-preset") + 1] == "12"


def test_custom_mode_places_options_before_the_output():
    spec = parse_spec({"mode": "custom", "custom_args": "-c:v libx264 -crf 18 -vf 'scale=1280:-2'", "container": "mp4"})
    argv = build_argv(spec, "/in.mkv", "/out.mp4", Threads(encoder=4))
    tail = argv[argv.index("/in.mkv") + 1 :]
    assert tail == ["-c:v", "libx264", "-crf", "18", "-vf", "scale=1280:-2", "-threads", "4", "-f", "mp4", "/out.mp4"]
    assert spec.required_encoder() == "libx264"


@pytest.mark.parametrize(
    "args,token",
    [
        ("-i /etc/passwd", "-i"),
        ("out.mkv", "out.mkv"),
        ("-c:v libx264 /tmp/x.mkv", "/tmp/x.mkv"),
        ("-vf movie=/etc/passwd", "movie"),
        ("-f mp4", "-f"),
        ("-filter_complex_script x", "-filter_complex_script"),
        ("-c:v libx264 -report", "-report"),
        ("-vf subtitles=a.srt", "subtitles"),
        ("-metadata title=file:///etc", "file:///etc"),
        ("-c:v 'unterminated", "check your quotes"),
        ("-progress http://evil", "-progress"),
        ("-passlogfile ../x", "-passlogfile"),
    ],
)
def test_custom_args_cannot_escape(args, token):
    with pytest.raises(SpecError) as caught:
        parse_spec({"mode": "custom", "custom_args": args})
    assert token in caught.value.message, caught.value.message
    assert caught.value.field == "custom_args"


def test_bit_depth_follows_the_codec_unless_chosen():
    assert parse_spec({"video_codec": "libx264"}).bit_depth == 8
    assert parse_spec({"video_codec": "libx264", "bit_depth": 10}).bit_depth == 10
    assert parse_spec({"video_codec": "libx265"}).bit_depth == 10
    assert parse_spec({}).bit_depth == 10
    argv = build_argv(parse_spec({"video_codec": "libx264"}), "/m/in.mp4", "/m/out.mkv")
    assert argv[argv.index("-pix_fmt") + 1] == "yuv420p"
