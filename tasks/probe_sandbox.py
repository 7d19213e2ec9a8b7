"""The boundary around the probe child (tasks/probe_child.py): read the media roots and the interpreter, write nothing.

Same machinery as FFmpeg's (tasks/sandbox.py, tasks/landlock.py, tasks/seccomp.py): the ruleset is built
in the follower; a thread of its own sets no-new-privs, restricts itself, installs the no-sockets filter and
starts the child, which inherits all three (tasks/spawning.py). Unlike FFmpeg it gets no private folder:
every filesystem right is handled and the only ones granted are reading (and running the interpreter), so
nothing anywhere is writable; no TCP port is allowed and socket() fails, so there is no network.
FFMPEG_SANDBOX=off runs it without the boundary (same clean environment), as it does FFmpeg.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from tasks import landlock, sandbox, spawning

CHILD = Path(__file__).with_name("probe_child.py")
# What the interpreter reads besides its own folders: the loader's cache and the random device.
SYSTEM_READ = ("/etc/ld.so.cache", "/dev/urandom")


def interpreter() -> str:
    """The real path of the Python that runs the child (the follower's own)."""
    return os.path.realpath(sys.executable)


def argv() -> list[str]:
    """The child's command: isolated (no PYTHON* variables, no user site, no script folder on sys.path), no .pyc."""
    return [interpreter(), "-I", "-B", str(CHILD)]


@lru_cache(maxsize=1)
def python_folders() -> tuple[str, ...]:
    """The folders the interpreter imports from: the standard library and the site-packages that hold PyAV."""
    folders = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    spec = importlib.util.find_spec("av")
    if spec is not None and spec.origin:
        folders.add(str(Path(spec.origin).resolve().parent.parent))  # site-packages: av/ and its bundled av.libs/
    config = Path(sys.prefix) / "pyvenv.cfg"
    if config.exists():
        folders.add(str(config))
    return tuple(sorted(os.path.realpath(f) for f in folders))


def build_ruleset(roots: Iterable[Path]) -> landlock.Ruleset:
    """Rules for the probe child: run the interpreter, read its folders and the media roots; nothing else."""
    executables, library_folders = spawning.program_paths(interpreter())
    ruleset = landlock.Ruleset(sandbox.kernel_abi())
    try:
        for exe in executables:
            ruleset.allow(exe, spawning.RUN)
        for folder in (*library_folders, *python_folders(), *SYSTEM_READ):
            ruleset.allow(folder, spawning.READ)
        ruleset.allow(str(CHILD), landlock.READ_FILE)
        for root in roots:
            ruleset.allow(str(root), spawning.READ)
    except Exception:
        ruleset.close()
        raise
    return ruleset


def child_env() -> dict[str, str]:
    """A clean environment: no secret of the follower's reaches the child."""
    env = {key: os.environ[key] for key in sandbox.KEPT_ENV if key in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return env


def start(roots: list[Path], command: list[str] | None = None) -> subprocess.Popen:
    """Start the probe child (or command, for tests) inside the boundary, with pipes on stdin, stdout and stderr."""
    command = command or argv()
    options = {
        "cwd": "/",
        "env": child_env(),
        "stdin": subprocess.PIPE,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "start_new_session": True,
    }
    return sandbox.start(command, lambda: build_ruleset(roots), "the probe's", **options)
