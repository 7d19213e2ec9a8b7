"""FFmpeg's working directory is its own empty private folder and its environment holds no secret.

The issue's exploit read data/secret_key relative to the follower's working directory. Here the test
process (standing in for the follower) works in a folder holding data/secret_key and has secrets in
its environment; a slow conversion is watched from its report callback while FFmpeg runs.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.tasks.security.harness import BASE_ARGS, MARKER, convert

SECRET_ENV = {"SHARED_TOKEN": MARKER, "SECRET_KEY": MARKER, "REDIS_URL": f"redis://:{MARKER}@127.0.0.1:6379/0"}


def test_control_a_relative_script_in_the_followers_directory_leaks_the_secret(world):
    """Why the private folder matters: FFmpeg started in the follower's directory prints data/secret_key."""
    argv = ["ffmpeg", "-hide_banner", "-i", str(world.clip), "-filter_complex_script", "data/secret_key"]
    done = subprocess.run([*argv, "-f", "null", "-"], cwd=world.cwd, capture_output=True, timeout=30)
    assert MARKER.encode() in done.stderr


def test_ffmpeg_runs_in_its_empty_private_folder_with_a_clean_environment(world, no_arg_check, monkeypatch):
    """While FFmpeg runs (a 2 s clip at real-time speed): /proc/PID/cwd is the private folder beside the output,
    which held nothing but FFmpeg's own output when it started; /proc/PID/environ has none of the parent's
    secrets and points HOME and TMPDIR into the private folder. Relative paths to the follower's secret name
    nothing. Fails if FFmpeg ran in the follower's directory or inherited its environment (the control above)."""
    monkeypatch.delenv("FFMPEG_SANDBOX", raising=False)
    for key, value in SECRET_ENV.items():
        monkeypatch.setenv(key, value)
    seen: dict[str, object] = {}
    private = world.media / ".out-workdir.frameshift-workdir"

    def look(fields: dict) -> None:
        pid = fields.get("ffmpeg_pid")
        if pid:
            seen["pid"] = pid
            seen["at_start"] = sorted(os.listdir(private))
        if fields.get("stage") == "encoding" and "cwd" not in seen and "pid" in seen:
            proc = Path(f"/proc/{seen['pid']}")
            seen["cwd"] = os.readlink(proc / "cwd")
            seen["environ"] = (proc / "environ").read_bytes()
            seen["at_first_progress"] = sorted(os.listdir(private))

    started = time.monotonic()
    outcome = convert(world, f"{BASE_ARGS} -vf realtime", tag="workdir", source=world.slow_clip, watch=look)
    assert time.monotonic() - started > 1.5, "the conversion was too quick to be watched"
    assert outcome.error is None, outcome.describe()
    assert outcome.escapes == [], outcome.describe()
    assert seen.get("cwd") == str(private), seen
    assert seen["at_start"] == [] and set(seen["at_first_progress"]) <= {"output.mkv"}, seen
    environ = dict(item.split(b"=", 1) for item in seen["environ"].split(b"\0") if b"=" in item)
    assert MARKER.encode() not in seen["environ"], sorted(environ)
    assert not {b"SHARED_TOKEN", b"SECRET_KEY", b"REDIS_URL"} & set(environ), sorted(environ)
    assert environ[b"HOME"] == environ[b"TMPDIR"] == str(private).encode()
    assert not private.exists()  # removed after the job


def test_relative_paths_to_the_followers_secret_name_nothing(world, no_arg_check, monkeypatch):
    """data/secret_key relative to FFmpeg's cwd, as a script and as a movie: with the follower working in the
    folder that holds it, the job neither reads nor prints it (the control above shows it would)."""
    monkeypatch.delenv("FFMPEG_SANDBOX", raising=False)
    assert (Path.cwd() / "data" / "secret_key").read_text() == MARKER
    for hostile in (
        "-filter_script:v data/secret_key",
        "-filter_complex_script data/secret_key",
        "-filter_complex 'movie=data/secret_key[m];[0:v][m]overlay'",
    ):
        outcome = convert(world, f"{BASE_ARGS} {hostile}", tag="relative")
        assert outcome.started and outcome.escapes == [], outcome.describe()
