"""What the follower sends besides success or failure (real ffmpeg and ffprobe, no worker): the input's codec
and container on success; on failure the full command, ffprobe's facts of the input and FFmpeg's whole stderr."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tasks.convert import run_attempt
from tasks.errors import TranscodeError
from tasks.follower import FollowerSettings

H264 = {"video_codec": "libx264", "preset": "ultrafast", "container": "mp4", "bit_depth": 8}


@pytest.fixture(autouse=True)
def unconfined(monkeypatch):
    monkeypatch.setenv("FFMPEG_SANDBOX", "off")


def clip(path: Path, size: str, codec: str) -> Path:
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size={size}:rate=25:duration=1",
            "-c:v",
            codec,
            str(path),
        ],
        check=True,
    )
    return path


def convert(folder: Path, source: Path) -> dict:
    settings = FollowerSettings(media_roots=[folder])
    payload = {"input": str(source), "output": str(folder / "out.mp4"), "spec": H264}
    return run_attempt(payload, settings, lambda fields: None, lambda: None, "t1")


def test_success_names_the_inputs_codec_and_container(tmp_path):
    result = convert(tmp_path, clip(tmp_path / "in.mkv", "160x120", "mpeg4"))
    assert result["input_video_codec"] == "mpeg4" and result["input_format"] == "matroska,webm"
    assert result["video_codec"] == "h264"


def test_a_failure_carries_the_command_the_inputs_facts_and_the_whole_stderr(tmp_path):
    source = clip(tmp_path / "odd.mkv", "161x121", "ffv1")  # libx264 refuses odd sizes in 4:2:0
    with pytest.raises(TranscodeError) as caught:
        convert(tmp_path, source)
    error = caught.value
    report = error.report
    assert error.exit_code == 1 and report is error.args[4]
    assert report["argv"][0].endswith("ffmpeg") and str(source) in report["argv"] and "libx264" in report["argv"]
    assert report["input"]["video_codec"] == "ffv1" and (report["input"]["width"], report["input"]["height"]) == (
        161,
        121,
    )
    assert report["input_from_log"] == {"format": "matroska,webm", "video_codec": "ffv1", "audio_codec": None}
    stderr = report["stderr"]
    # The whole stderr: from the input's description down to the encoder's complaint, in order.
    assert (
        stderr.index("Input #0, matroska,webm")
        < stderr.index("width not divisible by 2")
        < stderr.index("Conversion failed!")
    )
    assert len(error.log_tail) <= 40
