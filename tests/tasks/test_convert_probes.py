"""The follower reads the input's duration from FFmpeg's own log: ffprobe runs once per job (to verify
the output), or again only when the log gives no duration or FFmpeg fails (real ffmpeg and ffprobe)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tasks.convert import run_attempt
from tasks.errors import TranscodeError
from tasks.follower import FollowerSettings
from tasks.runner import Header

SPEC = {"video_codec": "libx264", "preset": "ultrafast", "crf": 30, "audio_codec": "aac", "container": "mp4"}


@pytest.fixture(autouse=True)
def unconfined(monkeypatch):
    """The counting wrapper writes its log outside the private folder, which the boundary (rightly) forbids;
    these tests count probes, they do not test containment (tests/tasks/security/ does)."""
    monkeypatch.setenv("FFMPEG_SANDBOX", "off")


def counting_ffprobe(folder: Path) -> tuple[str, Path]:
    """An ffprobe wrapper that logs each file it is asked about, then runs the real one."""
    log = folder / "ffprobe-calls.log"
    wrapper = folder / "ffprobe-counting"
    wrapper.write_text(f'#!/bin/sh\nfor last; do :; done\necho "$last" >> {log}\nexec ffprobe "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper), log


def convert(folder: Path, source: Path, ffprobe_bin: str) -> dict:
    settings = FollowerSettings(media_roots=[folder], ffprobe_bin=ffprobe_bin)
    payload = {"input": str(source), "output": str(folder / "out.mp4"), "spec": SPEC}
    return run_attempt(payload, settings, lambda fields: None, lambda: None, "t1")


def test_duration_comes_from_ffmpegs_log_and_ffprobe_only_verifies(tmp_path):
    source = tmp_path / "clip.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=25:duration=3",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(source),
        ],
        check=True,
    )
    ffprobe_bin, log = counting_ffprobe(tmp_path)
    result = convert(tmp_path, source, ffprobe_bin)
    assert result["duration"] == pytest.approx(3.0, abs=0.1)
    assert result["input_size"] == source.stat().st_size
    calls = log.read_text().splitlines()
    assert len(calls) == 1 and ".frameshift-" in calls[0], calls  # the temporary output, never the input


def test_failed_ffmpeg_on_unreadable_input_is_explained_by_ffprobe(tmp_path):
    source = tmp_path / "broken.mp4"
    source.write_bytes(os.urandom(4096))
    ffprobe_bin, log = counting_ffprobe(tmp_path)
    with pytest.raises(TranscodeError, match="cannot read the input as video"):
        convert(tmp_path, source, ffprobe_bin)
    assert log.read_text().splitlines() == [str(source)]
    assert not (tmp_path / "out.mp4").exists()
    assert not list(tmp_path.glob(".*frameshift-*"))


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["Input #0, mov,mp4 from 'a.mp4':", "  Duration: 00:01:02.50, start: 0.000000, bitrate: 9 kb/s"], 62.5),
        (["  Duration: 01:00:00.00, start: 0.0", "Input #1", "  Duration: 00:00:05.00, start: 0.0"], 3600.0),
        (["Input #0, h264, from 'raw.h264':", "  Duration: N/A, bitrate: N/A"], None),
        (["Stream mapping:", "  Duration: 00:00:09.00, start: 0.0"], None),  # after the header: not the input's
    ],
)
def test_header_reads_the_first_inputs_duration(lines, expected):
    header = Header()
    for line in lines:
        header.feed(line)
    assert header.duration == expected
