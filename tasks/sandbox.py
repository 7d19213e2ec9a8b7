"""The boundary around every FFmpeg and ffprobe Frame Shift starts (leader and follower alike).

Each process may read its input files and what the program needs to run, read and write only a
private folder made for it (also its working directory, empty at start), and reach no network.
The rules are Landlock's (tasks/landlock.py), applied by a short-lived thread that then starts the
process (tasks/spawning.py), so the follower or web process that starts FFmpeg is not restricted and no Python
runs between fork and exec. FFMPEG_SANDBOX=off runs the same process without the boundary (same
private folder, same clean environment) and says so loudly.

docs/security.md explains the threat model; docs/architecture.md why Landlock.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from tasks import landlock
from tasks.spawning import READ, RUN, SETPRIV, program_paths, spawn

log = logging.getLogger("frameshift.sandbox")
MODES = ("landlock", "off")
PRIVATE_PREFIX = ".frameshift-"
# Reading a media file never needs more than READ (tasks/spawning.py); the one place it may write is its own
# folder.
PRIVATE = (
    landlock.READ_FILE
    | landlock.READ_DIR
    | landlock.WRITE_FILE
    | landlock.TRUNCATE
    | landlock.MAKE_REG
    | landlock.REMOVE_FILE
)
# What the program itself needs (verified in shared/notes/ffmpeg-landlock.md): the loader's cache, the
# devices it reads, x265's NUMA topology, and GPU render nodes (VAAPI) where a machine has them.
SYSTEM_READ = ("/etc/ld.so.cache", "/dev/null", "/dev/urandom", "/sys/devices/system/node")
DEVICES = ("/dev/dri", "/dev/nvidia*")
# FFmpeg reads nothing from its environment that it needs; a secret in ours must not reach it.
KEPT_ENV = ("PATH", "LANG", "LC_ALL", "TZ")


class SandboxError(RuntimeError):
    """The boundary could not be set up: nothing was started."""


def mode(env: dict[str, str] | None = None) -> str:
    """Return the configured mode: 'landlock' (default) or 'off'."""
    value = ((env if env is not None else os.environ).get("FFMPEG_SANDBOX") or "landlock").strip().lower()
    return "off" if value in ("off", "0", "false", "no") else "landlock" if value in ("landlock", "on", "1") else value


@lru_cache(maxsize=1)
def kernel_abi() -> int:
    """Return the kernel's Landlock ABI version (0 without Landlock)."""
    try:
        return landlock.abi_version()
    except (AttributeError, OSError):
        return 0


def startup_problem(env: dict[str, str] | None = None) -> str | None:
    """One line saying why FFmpeg cannot be contained here and how to opt out, or None."""
    chosen = mode(env)
    if chosen not in MODES:
        return f"FFMPEG_SANDBOX={chosen!r}: use landlock (the default) or off"
    if shutil.which(SETPRIV) is None:
        return (
            f"{SETPRIV} was not found on PATH: FFmpeg is started through it so that it dies with the follower; "
            "install util-linux (apt-get install util-linux)"
        )
    abi = kernel_abi()
    if chosen == "landlock" and abi < landlock.MIN_ABI:
        have = (
            "has no Landlock"
            if abi == 0
            else f"has Landlock ABI {abi}, below the {landlock.MIN_ABI} needed for TCP rules"
        )
        return (
            f"this kernel {have}, so FFmpeg cannot run inside its boundary: use Linux 6.7 or later with Landlock "
            "enabled (lsm=...,landlock), or set FFMPEG_SANDBOX=off to run FFmpeg unconfined (not recommended)"
        )
    return None


def startup_warning(env: dict[str, str] | None = None) -> str | None:
    """The warning logged at every start while the boundary is switched off."""
    if mode(env) == "off":
        return (
            "FFMPEG_SANDBOX=off: FFmpeg and ffprobe run WITHOUT their kernel boundary; crafted media or custom "
            "arguments can read and write any file this process can"
        )
    return None


def sandbox_state(env: dict[str, str] | None = None) -> dict[str, object]:
    """What a follower advertises and the Followers page shows."""
    chosen, abi = mode(env), kernel_abi()
    enabled = chosen == "landlock" and abi >= landlock.MIN_ABI
    state: dict[str, object] = {"enabled": enabled, "mode": chosen, "abi": abi or None}
    if not enabled:
        state["reason"] = startup_warning(env) or startup_problem(env) or "unknown"
    return state


def private_folder(path: str | Path | None = None) -> Path:
    """Make an empty folder only we can use (at path, or a new one in the temporary folder): FFmpeg's
    working directory and the only place it may write. An existing path is refused, never reused."""
    if path is None:
        return Path(tempfile.mkdtemp(prefix=PRIVATE_PREFIX))
    folder = Path(path)
    folder.mkdir(mode=0o700)
    return folder


def clean_env(workdir: Path) -> dict[str, str]:
    """The environment FFmpeg gets: nothing secret, home and temporary files in its private folder."""
    env = {key: os.environ[key] for key in KEPT_ENV if key in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update({"HOME": str(workdir), "TMPDIR": str(workdir)})
    return env


def build_ruleset(argv0: str, reads: Iterable[str], workdir: Path) -> landlock.Ruleset:
    """Rules for one process: run argv0, read `reads` and the system files, read/write workdir."""
    executables, library_folders = program_paths(argv0)
    ruleset = landlock.Ruleset(kernel_abi())
    try:
        for exe in executables:
            ruleset.allow(exe, RUN)
        for folder in library_folders:
            ruleset.allow(folder, READ)
        for path in SYSTEM_READ:
            ruleset.allow(path, READ)
        for pattern in DEVICES:
            for path in glob.glob(pattern):
                ruleset.allow(path, READ | landlock.WRITE_FILE | landlock.IOCTL_DEV)
        for path in reads:
            ruleset.allow(str(path), landlock.READ_FILE)
        ruleset.allow(str(workdir), PRIVATE)
    except Exception:
        ruleset.close()
        raise
    return ruleset


def popen(argv: Sequence[str], *, reads: Iterable[str], workdir: Path, **kwargs) -> subprocess.Popen:
    """Start argv inside the boundary (or, with FFMPEG_SANDBOX=off, only in its private folder)."""
    kwargs.setdefault("env", clean_env(workdir))
    return start(argv, lambda: build_ruleset(argv[0], reads, workdir), "FFmpeg's", cwd=workdir, **kwargs)


def start(argv: Sequence[str], rules: Callable[[], landlock.Ruleset], whose: str, **kwargs) -> subprocess.Popen:
    """Start argv inside the ruleset rules() builds (unless FFMPEG_SANDBOX=off); Popen's options. Nothing starts
    when the boundary cannot be set up: SandboxError says why (whose: "FFmpeg's", "the probe's")."""
    problem = startup_problem()
    if problem:
        raise SandboxError(problem)
    if mode() == "off":
        return spawn(argv, None, **kwargs)
    try:
        ruleset = rules()
    except (OSError, landlock.LandlockError) as exc:
        raise SandboxError(f"could not set up {whose} boundary: {exc}") from None
    try:
        return spawn(argv, ruleset, **kwargs)
    finally:
        ruleset.close()


def run(
    argv: Sequence[str], *, reads: Iterable[str] = (), timeout: float | None = None, workdir: Path | None = None
) -> subprocess.CompletedProcess:
    """Run argv to completion inside the boundary and capture its output; a private folder is made and removed."""
    own = workdir is None
    folder = private_folder() if workdir is None else workdir
    try:
        proc = popen(
            argv, reads=reads, workdir=folder, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
    finally:
        if own:
            shutil.rmtree(folder, ignore_errors=True)
