"""Failures say what happened in words a user acts on (real FFmpeg, real filesystems).

The full disk is a real tmpfs and the read-only folder a real read-only bind mount, both made in
a private user and mount namespace (`unshare -rm`), so the test needs no root and touches nothing
outside it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tasks.convert import run_attempt
from tasks.errors import TranscodeError
from tasks.failures import explain
from tasks.follower import FollowerSettings
from tests.media import make_clip
from tests.support import ROOT

SPEC = {
    "video_codec": "libx264",
    "preset": "ultrafast",
    "crf": 30,
    "bit_depth": 8,
    "audio_codec": "aac",
    "container": "mkv",
}
needs_unshare = pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) is not installed")


def attempt_in_namespace(tmp_path: Path, setup: str, clip: Path, out: Path) -> dict:
    """Run one attempt in a new user+mount namespace after `setup` (shell) ran there; return its error."""
    script = tmp_path / "attempt.py"
    script.write_text(
        textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from tasks.convert import run_attempt
        from tasks.errors import TranscodeError
        from tasks.follower import FollowerSettings
        settings = FollowerSettings(media_roots=[Path({str(tmp_path)!r})])
        payload = {{"input": {str(clip)!r}, "output": {str(out)!r}, "spec": {{**{SPEC!r}, "crf": 0}}}}
        try:
            run_attempt(payload, settings, lambda f: None, lambda: None, "full1")
            print(json.dumps({{"error": None}}))
        except TranscodeError as exc:
            print(json.dumps({{"error": exc.message, "leftovers": sorted(p.name for p in Path({str(out.parent)!r}).iterdir())}}))
        """)
    )
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"{setup} && exec {sys.executable} {script}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@needs_unshare
def test_a_full_output_disk_says_so_with_the_free_space(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", seconds=4, size="640x360")
    out_dir = tmp_path / "small"
    out_dir.mkdir()
    result = attempt_in_namespace(tmp_path, f"mount -t tmpfs -o size=96k tmpfs {out_dir}", clip, out_dir / "out.mkv")
    assert result["error"] is not None, "a lossless encode (CRF 0) should not fit in 96 kB"
    assert result["error"].startswith("the output folder is full: "), result
    assert f"MB free on {out_dir}" in result["error"]
    assert result["leftovers"] == [], "a partial output or private folder was left behind"


@needs_unshare
def test_a_read_only_output_folder_says_permission_denied(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", seconds=1)
    out_dir = tmp_path / "ro"
    out_dir.mkdir()
    setup = f"mount --bind {out_dir} {out_dir} && mount -o remount,bind,ro {out_dir}"
    result = attempt_in_namespace(tmp_path, setup, clip, out_dir / "out.mkv")
    assert result["error"].startswith("permission denied: this follower cannot write in "), result
    assert str(out_dir) in result["error"] and "owner and mode" in result["error"]


def test_a_missing_encoder_names_it(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", seconds=1)
    settings = FollowerSettings(media_roots=[tmp_path])
    spec = {"mode": "custom", "custom_args": "-c:v nosuchencoder -c:a aac", "container": "mkv"}
    payload = {"input": str(clip), "output": str(tmp_path / "out.mkv"), "spec": spec}
    with pytest.raises(TranscodeError) as caught:
        run_attempt(payload, settings, lambda f: None, lambda: None, "enc1")
    assert caught.value.message.startswith("this follower's FFmpeg has no encoder nosuchencoder"), caught.value.message
    assert not list(tmp_path.glob(".*frameshift-*"))


@pytest.mark.parametrize(
    ("code", "tail", "expected"),
    [
        (-9, ["frame=  10"], "FFmpeg was killed by signal 9 (SIGKILL); most often the kernel's out-of-memory killer"),
        (-15, [], "FFmpeg was killed by signal 15 (SIGTERM)"),
        (1, ["[out] Cannot allocate memory", "Conversion failed!"], "FFmpeg ran out of memory"),
        (1, ["/etc/passwd: Permission denied"], "FFmpeg was refused access to /etc/passwd"),
        (1, ["Something odd", "Conversion failed!"], "FFmpeg exited with code 1: Conversion failed!"),
    ],
)
def test_explain_reads_the_exit_status_and_log(tmp_path, code, tail, expected):
    source = tmp_path / "in.mp4"
    source.write_bytes(b"x")
    assert explain(code, tail, source, tmp_path, tmp_path / ".p").startswith(expected)


def test_explain_says_the_input_vanished(tmp_path):
    message = explain(1, ["Conversion failed!"], tmp_path / "gone.mp4", tmp_path, tmp_path / ".p")
    assert message.startswith(f"the input file disappeared while converting: {tmp_path / 'gone.mp4'}")
