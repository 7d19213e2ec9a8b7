"""How every FFmpeg and ffprobe (and the probe child) is started: what a program needs to run, and the start
itself, from a thread of its own that carries the boundary, through setpriv for the death signal.

tasks/sandbox.py decides the boundary (tasks/landlock.py builds it); this module starts the program inside it
without restricting the caller and without running Python between fork and exec (docs/architecture.md, "The
FFmpeg boundary"; docs/benchmarks.md, fix 39).
"""

from __future__ import annotations

import glob
import os
import select
import shutil
import subprocess
import threading
from collections.abc import Sequence
from functools import lru_cache

from tasks import landlock

# Running a program: execute and read it; its libraries and data: read files and list folders.
RUN = landlock.EXECUTE | landlock.READ_FILE
READ = landlock.READ_FILE | landlock.READ_DIR
LOADERS = ("/lib64/ld-linux*.so*", "/lib/ld-linux*.so*", "/lib/*/ld-linux*.so*", "/lib/ld-musl-*.so*")
FALLBACK_LIBRARY_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib")
# FFmpeg must die with the process that started it (a follower killed mid-job leaves no FFmpeg behind). That
# death signal can only be set in the child; setpriv (util-linux, on every Debian) sets it and then execs the
# program, which keeps Python out of the child and the start a vfork.
SETPRIV = "setpriv"
DEATH_SIGNAL = ("--pdeathsig", "KILL", "--")


@lru_cache(maxsize=16)
def program_paths(binary: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return (executables, library folders) that running binary needs; cached per binary."""
    found = shutil.which(binary) or binary
    executables = {os.path.realpath(found)}
    with open(found, "rb") as handle:
        head = handle.read(256)
    if head.startswith(b"#!"):
        # A wrapper script (tests, benchmarks): its interpreter and the real programs it may exec.
        executables.add(os.path.realpath(head[2:].split(b"\n")[0].split()[0].decode()))
        for name in ("ffmpeg", "ffprobe"):
            real = shutil.which(name)
            if real:
                executables.add(os.path.realpath(real))
    for pattern in LOADERS:
        executables.update(os.path.realpath(p) for p in glob.glob(pattern))
    folders = _library_folders(sorted(executables))
    return tuple(sorted(executables)), folders


def _library_folders(executables: list[str]) -> tuple[str, ...]:
    """The folders of the shared libraries the executables load (ldd, run unconfined on our own binaries)."""
    folders: set[str] = set()
    for exe in executables:
        try:
            out = subprocess.run(["ldd", exe], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        for line in out.splitlines():
            parts = line.split("=>")
            target = (parts[1] if len(parts) > 1 else parts[0]).strip().split(" (")[0].strip()
            if target.startswith("/"):
                folders.add(os.path.dirname(os.path.realpath(target)))
    return tuple(sorted(folders)) or FALLBACK_LIBRARY_DIRS


def spawn(argv: Sequence[str], ruleset: landlock.Ruleset | None, **kwargs) -> subprocess.Popen:
    """Start argv through setpriv (its death signal), inside ruleset's boundary unless None; Popen's options.

    A thread of its own restricts itself and starts the child, which inherits the boundary; the calling thread
    stays unrestricted. That thread then lives as long as the child: the kernel sends the death signal when the
    thread that started a process ends, not the whole follower. A program that is not installed raises
    FileNotFoundError, as Popen does."""
    program = shutil.which(argv[0])
    if program is None:
        raise FileNotFoundError(2, f"No such file or directory: {argv[0]!r}", argv[0])
    setpriv = shutil.which(SETPRIV) or SETPRIV
    if ruleset is not None:
        executables, folders = program_paths(setpriv)
        for exe in executables:
            ruleset.allow(exe, RUN)
        for folder in folders:
            ruleset.allow(folder, READ)
    devnull = None
    for stream in ("stdin", "stdout", "stderr"):
        if kwargs.get(stream) == subprocess.DEVNULL:  # the restricted thread may not open /dev/null itself
            devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC) if devnull is None else devnull
            kwargs[stream] = devnull
    started: dict[str, object] = {}
    ready = threading.Event()

    def parent() -> None:
        try:
            if ruleset is not None:
                ruleset.restrict_thread()
            proc = subprocess.Popen([setpriv, *DEATH_SIGNAL, *argv], **kwargs)
        except BaseException as exc:  # noqa: BLE001  (handed to the caller)
            started["error"] = exc
            ready.set()
            return
        started["proc"] = proc
        ready.set()
        outlive(proc.pid)

    try:
        threading.Thread(target=parent, name=f"parent-of-{os.path.basename(program)}", daemon=True).start()
        ready.wait()
    finally:
        if devnull is not None:
            os.close(devnull)
    if "error" in started:
        raise started["error"]  # type: ignore[misc]
    return started["proc"]  # type: ignore[return-value]


def outlive(pid: int) -> None:
    """Return once process pid has ended, without reaping it (its Popen does that): a pidfd turns readable, or,
    on a kernel without pidfds (FFMPEG_SANDBOX=off on Linux before 5.3), waitid with WNOWAIT returns."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # already ended and reaped
    except OSError:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            pass  # reaped meanwhile by its Popen
        return
    try:
        waiter = select.poll()  # not select(): a busy process may have descriptors above FD_SETSIZE
        waiter.register(fd, select.POLLIN)
        waiter.poll()
    finally:
        os.close(fd)
