"""Distributed mode without SHARED_TOKEN: leader and follower both refuse to start, saying why."""

from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT, base_env, worker_argv


def run(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_leader_and_follower_refuse_distributed_mode_without_a_token(tmp_path, clips):
    leader_env = base_env("redis://127.0.0.1:1/0", clips["root"], tmp_path, "", INSTANCE_TYPE="leader")
    follower_env = base_env("redis://127.0.0.1:1/0", clips["root"], tmp_path, "", INSTANCE_TYPE="follower")
    leader = run([sys.executable, "-m", "flask", "--app", "app", "monitor"], leader_env)
    follower = run(worker_argv("nokey"), follower_env)
    for proc, process in ((leader, "leader"), (follower, "follower")):
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode not in (0, None), f"the {process} started without SHARED_TOKEN"
        problems = [line for line in stderr.splitlines() if "configuration problem" in line]
        assert any("SHARED_TOKEN is missing" in line for line in problems), (process, stderr[-2000:])
        assert "Traceback" not in stderr, (process, stderr[-2000:])
