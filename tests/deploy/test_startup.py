"""Every leader process refuses a bad configuration with one line per problem and no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT, base_env, free_port

EXPECTED = [
    "frameshift: configuration problem: FOLLOWER_LOST_AFTER='soon': must be a whole number >= 0",
    "frameshift: configuration problem: AUTH_DISABLED=1 is only allowed when the web process listens on loopback, "
    "but HOST='192.0.2.1': set HOST=127.0.0.1 or turn login back on (AUTH_DISABLED=0)",
]


@pytest.mark.parametrize("argv", [
    [sys.executable, "-m", "flask", "--app", "app", "monitor"],
    [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
], ids=["monitor", "gunicorn"])
def test_leader_processes_refuse_bad_settings(argv, tmp_path, clips):
    env = base_env("redis://127.0.0.1:1/0", clips["root"], tmp_path, "t" * 20, FOLLOWER_LOST_AFTER="soon",
                   AUTH_DISABLED="1", HOST="192.0.2.1", PORT=str(free_port()))
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr[-2000:]
    assert [line for line in done.stderr.splitlines() if "configuration problem" in line] == EXPECTED
    assert "Traceback" not in done.stderr
