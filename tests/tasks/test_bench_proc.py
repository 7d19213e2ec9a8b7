"""The benchmarks find the pool's FFmpeg from /proc although it starts from a thread of its own (tasks/spawning.py):
bench/makerun.py read the children of the pool's main thread alone, found none, and bench/footprint.py printed 0 for
FFmpeg's wall and CPU inside the system (4-5 Dec). Real processes: a Python process starts a real FFmpeg from a
second thread, as a pool process does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from bench.makerun import MakeRun
from bench.pool_children import children
from tests.support import wait_for


def test_an_ffmpeg_started_from_a_thread_is_found_as_the_pools_child():
    script = textwrap.dedent("""
        import subprocess, threading, time
        def start():
            subprocess.Popen(["ffmpeg", "-nostdin", "-loglevel", "quiet", "-re", "-f", "lavfi", "-i",
                              "testsrc=size=32x32:rate=5", "-f", "null", "-"]).wait()
        threading.Thread(target=start, daemon=True).start()
        time.sleep(60)
    """)
    pool = subprocess.Popen([sys.executable, "-c", script])
    try:
        wait_for(lambda: children(pool.pid), 10, what="ffmpeg to start")
        main_thread_only = Path(f"/proc/{pool.pid}/task/{pool.pid}/children").read_text().split()
        assert main_thread_only == [], "the child was not started from another thread: the test proves nothing"
        system = MakeRun.__new__(MakeRun)  # only its process table is used
        system.roles = {pool.pid: "pool"}
        found = system.ffmpeg_children()
        assert found == children(pool.pid) and len(found) == 1
        assert Path(f"/proc/{found[0]}/comm").read_text().strip() == "ffmpeg"
    finally:
        for child in children(pool.pid):
            os.kill(child, signal.SIGKILL)
        pool.kill()
        pool.wait()
