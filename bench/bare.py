"""The bare baseline: exactly the argv the follower ran, the way it ran it, minus the system around it.

The argv is read back from the job row (the follower reports the argv it ran with its first
progress report, and again in its result). Its output goes to a fresh private folder beside the
job's output (the follower's own layout: `.NAME.frameshift-TAG/output.EXT`), FFmpeg's working
directory is that folder, its environment is the follower's clean one (tasks/sandbox.py
`clean_env`), stdin/stdout/stderr are pipes that are read to the end, and the parent-death signal
is set. `sandboxed=True` runs it inside the same Landlock + seccomp boundary (`sandbox.run`);
`sandboxed=False` runs it plainly (what `FFMPEG_SANDBOX=off` does).
"""

from __future__ import annotations

import os
import resource
import shutil
import time
from pathlib import Path

from tasks import sandbox


def children_cpu() -> float:
    """CPU seconds of this process's reaped children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def input_of(argv: list[str]) -> str:
    """Return the input path of an argv (the value after -i)."""
    return argv[argv.index("-i") + 1]


def run_bare(argv: list[str], beside: Path, tag: str, sandboxed: bool) -> tuple[float, float]:
    """Run argv with its output in `beside`'s private folder; return (wall seconds, FFmpeg CPU seconds)."""
    folder = sandbox.private_folder(beside.with_name(f".{beside.stem}.frameshift-{tag}"))
    run_argv = [*argv[:-1], str(folder / Path(argv[-1]).name)]
    before_mode = os.environ.get("FFMPEG_SANDBOX")
    os.environ["FFMPEG_SANDBOX"] = "landlock" if sandboxed else "off"
    try:
        cpu, started = children_cpu(), time.perf_counter()
        done = sandbox.run(run_argv, reads=[input_of(argv)], workdir=folder)
        wall = time.perf_counter() - started
        cpu = children_cpu() - cpu
    finally:
        if before_mode is None:
            os.environ.pop("FFMPEG_SANDBOX", None)
        else:
            os.environ["FFMPEG_SANDBOX"] = before_mode
        shutil.rmtree(folder, ignore_errors=True)
    if done.returncode != 0:
        raise RuntimeError(f"bare FFmpeg failed ({done.returncode}): {done.stderr[-800:]!r}")
    return wall, cpu
