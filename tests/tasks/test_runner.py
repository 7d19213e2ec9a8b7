"""The FFmpeg runner on its own: parent-death signal and graceful stop (real FFmpeg)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

from tasks.runner import run_ffmpeg
from tests.media import ffmpeg_pids
from tests.support import ROOT, wait_for


def realtime_argv(marker: str, seconds: int = 30) -> list[str]:
    return [
        "ffmpeg",
        "-hide_banner",
        "-nostats",
        "-progress",
        "pipe:1",
        "-stats_period",
        "0.2",
        "-re",
        "-f",
        "lavfi",
        "-i",
        f"testsrc=size=64x48:rate=10:duration={seconds}",
        "-metadata",
        f"title={marker}",
        "-f",
        "null",
        "-",
    ]


def test_ffmpeg_dies_with_the_process_that_started_it():
    marker = f"pdeath-{uuid.uuid4().hex[:8]}"
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        from tasks.runner import run_ffmpeg
        from tasks.sandbox import private_folder
        from tests.tasks.test_runner import realtime_argv
        run_ffmpeg(realtime_argv({marker!r}), 30, lambda p: None, lambda: False, reads=[], workdir=private_folder())
    """)
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        wait_for(lambda: ffmpeg_pids(marker), 15, what="ffmpeg to start")
        os.kill(parent.pid, signal.SIGKILL)  # no finally, no cleanup: only the kernel's signal can help
        parent.wait(5)
        wait_for(lambda: not ffmpeg_pids(marker), 5, what="ffmpeg to die with its parent")
    finally:
        for pid in ffmpeg_pids(marker):
            os.kill(pid, signal.SIGKILL)


def test_cancel_stops_ffmpeg_quickly_and_reports_progress(tmp_path):
    marker = f"cancel-{uuid.uuid4().hex[:8]}"
    reports = []
    started = time.monotonic()

    def should_cancel() -> bool:
        return len(reports) >= 3

    result = run_ffmpeg(realtime_argv(marker), 30, reports.append, should_cancel, reads=[], workdir=tmp_path)
    assert result.cancelled
    assert time.monotonic() - started < 10
    assert 0 < reports[-1].percent < 100 and reports[-1].frame > 0
    assert not ffmpeg_pids(marker)


def test_the_loop_is_handed_whole_progress_blocks_not_lines(monkeypatch):
    """Fix 46: FFmpeg's -progress block is ~12 lines; the reading thread hands the loop one item a block, so the
    loop wakes once a block. Every block still gives its report, with the figures of all its lines."""
    import queue as queue_module

    from tasks import runner
    from tasks.sandbox import private_folder

    handed: list[object] = []

    class Counting(queue_module.Queue):
        def put(self, item, block=True, timeout=None):
            handed.append(item)
            super().put(item, block, timeout)

    monkeypatch.setattr(runner.queue, "Queue", Counting)
    argv = realtime_argv(f"blocks-{uuid.uuid4().hex[:8]}", seconds=2)
    argv[argv.index("-re")] = "-readrate"
    argv.insert(argv.index("-readrate") + 1, "4")
    reports = []
    outcome = run_ffmpeg(argv, 2.0, reports.append, lambda: False, reads=[], workdir=private_folder())
    assert outcome.exit_code == 0
    blocks = [item for item in handed if item is not None]
    assert len(reports) >= 2 and reports[-1].done and reports[-1].percent == 100.0
    assert len(blocks) == len(reports), (len(blocks), len(reports))  # one item a block, not one a line
    assert all(block[-1].startswith("progress=") and len(block) > 5 for block in blocks)
    assert reports[-1].frame == 20  # the frame= line of the last block reached its report
