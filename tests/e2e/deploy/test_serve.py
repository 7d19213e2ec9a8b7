"""app/serve.py: make run's web process as one process (gunicorn's threaded worker without its master, fix 27).

It serves as gunicorn does, finishes a request in flight on SIGTERM, and stops when its parent (make run's
supervisor) is gone; a bad setting is refused like gunicorn's (tests/e2e/deploy/test_startup.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request

from tests.support import ROOT, base_env, free_port, proc_stat, wait_for


def answers(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except OSError:
        return 0


def alive(pid: int) -> bool:
    fields = proc_stat(pid)
    return bool(fields) and fields[0] != "Z"


def test_one_process_serves_and_stops_with_its_parent(redis_server, clips, tmp_path):
    port = free_port()
    env = base_env(redis_server.url, clips["root"], tmp_path, "t" * 32, PORT=str(port), AUTH_DISABLED="1")
    # A parent that starts the web process, says its pid, then waits: SIGKILLed below, as a crashed supervisor.
    parent_code = textwrap.dedent(
        f"""
        import subprocess, sys, time
        web = subprocess.Popen([sys.executable, "-m", "app.serve", "-c", "gunicorn.conf.py", "app:create_app()"],
                               cwd={str(ROOT)!r}, stdout=open({str(tmp_path / "web.log")!r}, "w"),
                               stderr=subprocess.STDOUT)
        print(web.pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], env=env, stdout=subprocess.PIPE, text=True)
    web = int(parent.stdout.readline())
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/healthz") == 200, 60, 0.2, what="the web process")
        with open(f"/proc/{web}/task/{web}/children") as kids:
            assert kids.read().split() == [], "one process: it forked no worker"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/jobs", timeout=10) as response:
            assert "jobs" in json.load(response)
        parent.kill()
        parent.wait()
        began = time.monotonic()
        wait_for(lambda: not alive(web), 15, 0.1, what="the web process to stop after its parent died")
        assert time.monotonic() - began < 10
    finally:
        parent.kill()
        if alive(web):
            os.kill(web, signal.SIGKILL)
    log = (tmp_path / "web.log").read_text()
    assert "one process, no master" in log and "Parent changed, shutting down" in log, log[-2000:]
