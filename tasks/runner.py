"""Run one FFmpeg process: own process group, parent-death signal, graceful stop."""

from __future__ import annotations

import collections
import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tasks import sandbox
from tasks.progress import Progress, ProgressParser
from tasks.stderr_log import BoundedLog, InputFacts

LOG_LINES = 200
# FFmpeg's log describes the input before encoding starts: "  Duration: 00:00:12.00, start: ...".
DURATION_LINE = re.compile(r"^\s*Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
HEADER_END = ("Output #", "Stream mapping:", "Press [q]")
HEADER_WAIT = 5.0


class Header:
    """The input's duration as FFmpeg's own log gives it, so no second process has to open the file."""

    def __init__(self) -> None:
        self.duration: float | None = None
        self.done = threading.Event()

    def feed(self, line: str) -> None:
        """Read one log line; the header ends where FFmpeg starts describing its output."""
        if self.done.is_set():
            return
        match = DURATION_LINE.match(line)
        if match and self.duration is None:
            hours, minutes, seconds = match.groups()
            self.duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        elif line.startswith(HEADER_END):
            self.done.set()


@dataclass
class RunResult:
    """How an FFmpeg run ended."""

    exit_code: int
    cancelled: bool
    log_tail: list[str]
    last: Progress | None
    stderr: str = ""  # the whole stderr, bounded (tasks/stderr_log.py): kept with a failure
    input_facts: dict[str, str | None] = field(default_factory=dict)  # container and codecs from the header


def stop_process(proc: subprocess.Popen, grace: float = 2.0) -> None:
    """Ask FFmpeg to quit ('q'), then SIGTERM its group, then SIGKILL: done within ~4 s."""
    if proc.poll() is not None:
        return
    try:
        if proc.stdin:
            proc.stdin.write(b"q")
            proc.stdin.flush()
    except (BrokenPipeError, OSError, ValueError):
        pass
    for sig, wait in ((None, grace), (signal.SIGTERM, 1.0), (signal.SIGKILL, 1.0)):
        if sig is not None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def kill_now(proc: subprocess.Popen) -> None:
    """SIGKILL FFmpeg's whole process group at once and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def run_ffmpeg(
    argv: list[str],
    duration: float | None | Callable[[float | None], float | None],
    on_progress: Callable[[Progress], None],
    should_cancel: Callable[[], bool],
    on_start: Callable[[int], None] | None = None,
    poll: float = 0.5,
    *,
    reads: list[str],
    workdir: Path,
) -> RunResult:
    """Run argv, report each progress block, stop when should_cancel() turns true.

    duration may be a callable: at the first progress line it gets the duration FFmpeg's log gave for
    the input (None when the log had none) and returns the one to use; an exception it raises stops
    FFmpeg and propagates. FFmpeg runs inside its boundary (tasks/sandbox.py): it may read `reads`
    and read/write only `workdir`, its working directory; it dies with us (parent-death signal, tasks/spawning.py).
    """
    proc = sandbox.popen(
        argv,
        reads=reads,
        workdir=workdir,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    if on_start:
        on_start(proc.pid)
    tail: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
    lines: queue.Queue[list[str] | None] = queue.Queue()
    header = Header()
    whole, facts = BoundedLog(), InputFacts()

    def read_stderr() -> None:
        for raw in proc.stderr:  # type: ignore[union-attr]
            text = raw.decode("utf-8", "replace").rstrip()
            if not header.done.is_set():
                facts.feed(text)
            header.feed(text)
            tail.append(text)
            whole.add(text)
        header.done.set()

    def read_stdout() -> None:
        # A -progress block is ~12 lines ending in "progress=...": handed over whole, the loop below wakes once a
        # block instead of once a line (docs/benchmarks.md, fix 46: no CPU change measurable at 0.5 ms a job).
        block: list[str] = []
        for raw in proc.stdout:  # type: ignore[union-attr]
            block.append(raw.decode("utf-8", "replace"))
            if raw.startswith(b"progress="):
                lines.put(block)
                block = []
        if block:
            lines.put(block)
        lines.put(None)

    readers = [threading.Thread(target=f, daemon=True) for f in (read_stderr, read_stdout)]
    for reader in readers:
        reader.start()
    pending = duration if callable(duration) else None
    parser = ProgressParser(None if callable(duration) else duration)
    last: Progress | None = None
    cancelled = False
    next_check = 0.0
    try:
        while True:
            try:
                block = lines.get(timeout=poll)
            except queue.Empty:
                block = []
            if block is None:
                # Output closed: FFmpeg is finishing its file; let it exit by itself.
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    pass
                break
            if block:
                if pending is not None:
                    header.done.wait(HEADER_WAIT)
                    parser.duration, pending = pending(header.duration), None
                for line in block:
                    report = parser.feed(line)
                    if report is not None:
                        last = report
                        on_progress(report)
            now = time.monotonic()
            if now >= next_check:
                next_check = now + poll
                if should_cancel():
                    # Whatever the reason (a cancel, a shutdown, an attempt the leader gave up), its output is
                    # discarded: no graceful 'q' that would let a stale FFmpeg encode on for seconds.
                    cancelled = True
                    kill_now(proc)
                    break
    finally:
        # Whatever happened to us (SystemExit from a revoke, an exception), FFmpeg goes too.
        stop_process(proc, grace=0.5)
    code = proc.wait()
    for reader in readers:
        reader.join(timeout=2)
    return RunResult(
        exit_code=code,
        cancelled=cancelled,
        log_tail=list(tail),
        last=last,
        stderr=whole.text(),
        input_facts=facts.to_dict(),
    )
