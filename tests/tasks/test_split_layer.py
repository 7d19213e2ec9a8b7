"""The split-encoding layer on real FFmpeg, inside the boundary: plan, pieces, audio, join, verify.

The bodies of the split.* Celery tasks run as plain functions (tasks/split_run.py); each joined output is
compared with a whole-file encode of the same spec (tasks/convert.run_attempt): frame count, duration,
timestamps, audio (decoded PCM) and SSIM against the source. Measurements run here, outside the boundary.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tasks.convert import run_attempt
from tasks.errors import TranscodeError
from tasks.follower import FollowerSettings
from tasks.spec import ConversionSpec, parse_spec
from tasks.split import whole_stream_reason
from tasks.split_join import run_cleanup, run_join
from tasks.split_run import piece_name, pieces_folder, run_audio, run_piece, run_plan

SECONDS = 12
SPLIT_SECONDS = 3
X265 = {"video_codec": "libx265", "preset": "ultrafast", "crf": 30, "bit_depth": 8}
SUBTITLES = "1\n00:00:01,000 --> 00:00:02,000\nHello\n\n2\n00:00:05,000 --> 00:00:06,500\nWorld\n"
# A 1 kHz beep for 0.1 s every 2 s: a shift of even one audio packet shows in the decoded samples.
BEEPS = f"sine=f=1000:sample_rate=48000:d={SECONDS},volume='if(lt(mod(t,2),0.1),1,0)':eval=frame"
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-pix_fmt", "yuv420p", "-c:a", "aac"]


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def make(folder: Path, name: str, video: str, *options: str) -> Path:
    """testsrc2 through the filter chain `video`, beeps (AAC, 48 kHz) and subtitles, x264 with B-frames."""
    srt = folder / "subs.srt"
    srt.write_text(SUBTITLES)
    out = folder / name
    sub = "mov_text" if name.endswith(".mp4") else "srt"
    inputs = ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", BEEPS, "-i", str(srt)]
    ffmpeg(*inputs, "-map", "0", "-map", "1", "-map", "2", *X264, "-c:s", sub, *options, str(out))
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("split")
    rate = f"size=320x240:rate=25:duration={SECONDS}"
    return {
        "folder": folder,
        # Keyframes every second, AAC with an edit list, mov_text subtitles.
        "main": make(folder, "main.mp4", f"testsrc2={rate}", "-g", "25"),
        # One keyframe every 6 s: longer than a piece.
        "sparse": make(folder, "sparse.mp4", f"testsrc2={rate}", "-g", "150", "-x264-params", "scenecut=0"),
        # Variable frame rate (20 and 40 ms frames); AAC in Matroska puts the video's start at 0.021 s.
        "vfr": make(
            folder,
            "vfr.mkv",
            f"testsrc2=size=320x240:rate=50:duration={SECONDS},select='mod(n\\,3)-2'",
            "-g",
            "25",
            "-fps_mode",
            "passthrough",
        ),
    }


# ---------------------------------------------------------------- measuring (outside the boundary)


def probe_lines(path: Path, *args: str) -> list[str]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", *args, "-of", "csv=p=0", str(path)], capture_output=True, text=True
    )
    return [line.strip().rstrip(",") for line in done.stdout.splitlines() if line.strip()]


def decoded_frames(path: Path) -> int:
    """Count video frames by decoding them (packets can outnumber frames)."""
    return int(
        probe_lines(path, "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames")[0]
    )


def video_pts(path: Path) -> list[float]:
    return sorted(float(x) for x in probe_lines(path, "-select_streams", "v:0", "-show_entries", "packet=pts_time"))


def start_times(path: Path) -> dict[str, float]:
    lines = probe_lines(path, "-show_entries", "stream=codec_type,start_time")
    found: dict[str, float] = {}
    for line in lines:
        kind, start = line.split(",")[:2]
        found.setdefault(kind, float(start))
    return found


def video_duration(path: Path) -> float:
    pts = video_pts(path)
    return pts[-1] - pts[0] + (pts[-1] - pts[-2])


def pcm(path: Path) -> np.ndarray:
    """The first audio stream decoded to mono 48 kHz floats, as a player would hear it from the file's start."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", "48000", "-f", "f32le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, dtype=np.float32)


def lag_samples(a: np.ndarray, b: np.ndarray, window: int = 4800) -> int:
    """The shift of b against a (in samples) that lines their beeps up best, searched within +-window."""
    n = min(len(a), len(b)) - 2 * window
    ref = a[window : window + n]
    scores = [float(np.dot(ref, b[window + lag : window + lag + n])) for lag in range(-window, window + 1)]
    return int(np.argmax(scores)) - window


def ssim(path: Path, source: Path) -> float:
    done = subprocess.run(
        ["ffmpeg", "-i", str(path), "-i", str(source), "-lavfi", "[0:v][1:v]ssim", "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    return float(re.findall(r"All:([0-9.]+)", done.stderr)[-1])


# ---------------------------------------------------------------- running the layer


def settings(folder: Path) -> FollowerSettings:
    return FollowerSettings(media_roots=[folder])


def noop(_fields: dict) -> None:
    pass


def split_encode(source: Path, output: Path, spec: dict, job: str = "t1") -> tuple[dict, dict]:
    """Plan, encode every piece and the audio, join: what the leader will dispatch, run in order here."""
    conf = settings(source.parent)
    base = {"input": str(source), "output": str(output), "spec": spec, "job": job}
    plan = run_plan({**base, "split_seconds": SPLIT_SECONDS}, conf)
    assert plan["reason"] is None
    for piece in plan["pieces"]:
        result = run_piece({**base, **piece}, conf, noop, lambda: None, f"p{piece['index']}", None)
        assert result["frames"] == piece["frames"]
    audio = run_audio(base, conf, noop, lambda: None, "a", None)
    assert audio["skipped"] is False
    join = {k: plan[k] for k in ("frames", "video_duration", "frame_duration", "video_start", "start_time", "audio")}
    starts = [piece["start"] for piece in plan["pieces"]]
    result = run_join({**base, **join, "starts": starts}, conf, noop, lambda: None, "j", None)
    return plan, result


def whole_encode(source: Path, output: Path, spec: dict) -> Path:
    run_attempt(
        {"input": str(source), "output": str(output), "spec": spec}, settings(source.parent), noop, lambda: None, "w"
    )
    return output


def assert_same_as_whole(split: Path, whole: Path, source: Path) -> None:
    """Frame count, duration, timestamps and audio of the split output equal the whole-file encode's."""
    frames = decoded_frames(source)
    assert decoded_frames(split) == frames == decoded_frames(whole)
    step = video_pts(source)[1] - video_pts(source)[0]
    assert abs(video_duration(split) - video_duration(source)) <= step + 0.0015
    assert video_pts(split) == pytest.approx(video_pts(whole), abs=0.0011)
    starts_split, starts_whole = start_times(split), start_times(whole)
    assert starts_split["video"] == pytest.approx(starts_whole["video"], abs=0.0011)
    assert starts_split["audio"] == pytest.approx(starts_whole["audio"], abs=0.0011)
    heard_split, heard_whole = pcm(split), pcm(whole)
    assert abs(len(heard_split) - len(heard_whole)) <= 48  # within 1 ms
    assert lag_samples(heard_whole, heard_split) == 0
    n = min(len(heard_split), len(heard_whole))
    assert np.corrcoef(heard_split[:n], heard_whole[:n])[0, 1] > 0.999


# ---------------------------------------------------------------- the tests


def test_split_output_matches_a_whole_file_encode(clips):
    source, folder = clips["main"], clips["folder"]
    # -preset fast as in shared/notes/split-encoding.md (ultrafast has no B-frames, so every extra IDR of
    # 3 s pieces weighs more: +0.0036 SSIM at CRF 30 on this clip; with fast, +0.0001).
    spec = {**X265, "preset": "fast", "container": "mp4", "audio_codec": "aac"}
    plan, result = split_encode(source, folder / "main-split.mp4", spec)
    whole = whole_encode(source, folder / "main-whole.mp4", spec)
    split = Path(result["output"])
    assert len(plan["pieces"]) == 4 and plan["pieces"][0]["start"] == 0.0
    assert [p["start"] for p in plan["pieces"][1:]] == [3.0, 6.0, 9.0]
    assert_same_as_whole(split, whole, source)
    assert probe_lines(split, "-show_entries", "stream=codec_name") == ["hevc", "aac", "mov_text"]
    split_ssim, whole_ssim = ssim(split, source), ssim(whole, source)
    print(f"SSIM vs source: split {split_ssim:.5f}, whole {whole_ssim:.5f}")
    assert abs(split_ssim - whole_ssim) < 0.002
    assert not pieces_folder(split, "t1").exists()
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []


def test_opus_in_matroska_keeps_sync(clips):
    """Opus stores its pre-skip in Matroska itself; AAC's priming needs -avoid_negative_ts disabled: both in sync."""
    source, folder = clips["main"], clips["folder"]
    for audio in ("libopus", "aac"):
        spec = {**X265, "container": "mkv", "audio_codec": audio, "subtitles": "none"}
        _plan, result = split_encode(source, folder / f"mkv-{audio}-split.mkv", spec, job=f"mkv{audio[:4]}")
        whole = whole_encode(source, folder / f"mkv-{audio}-whole.mkv", spec)
        assert_same_as_whole(Path(result["output"]), whole, source)


def test_no_keyframe_for_longer_than_a_piece_gives_fewer_longer_pieces(clips):
    source, folder = clips["sparse"], clips["folder"]
    spec = {**X265, "container": "mp4", "audio_codec": "aac"}
    plan, result = split_encode(source, folder / "sparse-split.mp4", spec, job="sparse")
    assert [p["start"] for p in plan["pieces"]] == [0.0, 6.0]
    assert plan["keyframes"] == 2
    whole = whole_encode(source, folder / "sparse-whole.mp4", spec)
    assert_same_as_whole(Path(result["output"]), whole, source)


def test_variable_frame_rate_and_a_late_video_start_keep_timestamps_and_sync(clips):
    source, folder = clips["vfr"], clips["folder"]
    assert start_times(source)["video"] == pytest.approx(0.021)
    spec = {**X265, "container": "mkv", "audio_codec": "aac", "subtitles": "copy"}
    plan, result = split_encode(source, folder / "vfr-split.mkv", spec, job="vfr")
    assert plan["video_start"] == pytest.approx(0.021) and len(plan["pieces"]) >= 3
    split = Path(result["output"])
    whole = whole_encode(source, folder / "vfr-whole.mkv", spec)
    assert_same_as_whole(split, whole, source)
    # Every frame keeps the source's timestamp (20 and 40 ms steps, none duplicated or dropped).
    shift = start_times(whole)["video"] - start_times(source)["video"]
    assert video_pts(split) == pytest.approx([t + shift for t in video_pts(source)], abs=0.0011)
    assert probe_lines(split, "-show_entries", "stream=codec_name") == ["hevc", "aac", "subrip"]


def test_a_piece_with_the_wrong_frame_count_is_refused_and_a_join_without_it_fails(clips):
    source, folder = clips["main"], clips["folder"]
    conf = settings(folder)
    base = {"input": str(source), "output": str(folder / "bad.mp4"), "spec": {**X265, "container": "mp4"}, "job": "bad"}
    with pytest.raises(TranscodeError, match="piece 1 has 75 frames where the input has 76"):
        run_piece({**base, "index": 1, "start": 3.0, "end": 6.0, "frames": 76}, conf, noop, lambda: None, "x", None)
    assert not (pieces_folder(folder / "bad.mp4", "bad") / piece_name(1)).exists()
    join = {"starts": [0.0, 6.0], "frames": 300, "video_duration": 12.0, "video_start": 0.0, "audio": False}
    with pytest.raises(TranscodeError, match=r"piece\(s\) 0, 1 of 2 are missing"):
        run_join({**base, **join}, conf, noop, lambda: None, "j", None)
    assert run_cleanup(base, conf)["removed"] == [".bad.frameshift-bad-pieces"]
    assert not (folder / "bad.mp4").exists()


def test_a_custom_spec_splits_unless_it_depends_on_the_whole_stream(clips):
    refused = {
        "-c:v libx264 -vf fps=30": "fps",
        "-c:v libx264 -vf setpts=0.5*PTS": "setpts",
        "-c:v libx264 -t 5": "-t",
        "-c:v libx264 -vf drawbox=x=t*10:y=0:w=10:h=10": "time or number",
        "-c:v copy": "copies the video",
        "-c:v libx264 -shortest": "shortest",
        "-c:v libx264 -filter_complex [0:v]scale=320:-2[v] -map [v]": "-filter_complex",
    }
    for args, why in refused.items():
        spec = parse_spec({"mode": "custom", "custom_args": args})
        reason = whole_stream_reason(spec)
        assert reason and why in reason, (args, reason)
    # Two-pass options never pass the allowlist (tasks/custom_args.py); refused here too, should they ever.
    for args in ("-c:v libx264 -pass 1", "-c:v libx265 -x265-params pass=1:stats=x"):
        reason = whole_stream_reason(ConversionSpec(mode="custom", custom_args=args))
        assert reason and "pass" in reason, (args, reason)
    assert whole_stream_reason(parse_spec({"video_codec": "copy"})) is not None
    assert whole_stream_reason(parse_spec({})) is None
    assert whole_stream_reason(parse_spec({"mode": "custom", "custom_args": "-c:v libx264 -vf scale=160:-2"})) is None
    # The plan says why, and a splittable custom spec joins exactly like its whole-file encode.
    source, folder = clips["sparse"], clips["folder"]
    base = {"input": str(source), "spec": {"mode": "custom", "custom_args": "-c:v libx264 -vf fps=30"}}
    assert "fps" in run_plan(base, settings(folder))["reason"]
    custom = {
        "mode": "custom",
        "container": "mkv",
        "custom_args": "-map 0 -c:v libx264 -preset ultrafast -crf 30 -c:a libopus -b:a 64k -c:s srt -metadata title=Split",
    }
    _plan, result = split_encode(source, folder / "custom-split.mkv", custom, job="custom")
    whole = whole_encode(source, folder / "custom-whole.mkv", custom)
    split = Path(result["output"])
    assert_same_as_whole(split, whole, source)
    assert probe_lines(split, "-show_entries", "format_tags=title") == ["Split"]
