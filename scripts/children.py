"""`make run`'s supervised processes: restarted with a back-off, and the Python ones forked from one parent
that imported their libraries once.

Each of web (gunicorn), monitor, worker and Flower used to start its own interpreter and import Flask,
SQLAlchemy, Celery, kombu, pydantic and our own packages again: about 60 MiB of each process's memory, the
same bytes five times. `preload()` imports them in the supervisor (which never runs any of them), freezes
the garbage collector's view of them, and `ForkedChild` forks a child that runs `python -m MODULE ARGS`
in-process, as the interpreter would, so the children share those pages copy-on-write
(docs/benchmarks.md, "Lean", fix 11). What each child does is unchanged: the same module, arguments,
environment and working folder as the command line it replaces, and its title (`ps`, /proc/PID/cmdline)
is that command line.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import runpy
import signal
import subprocess
import sys
import threading
import time
import traceback
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Listening sockets the supervisor holds for a child started on demand (Flower): every other child closes them.
HELD: dict[int, str] = {}
LISTEN_FD_VARIABLE = "FRAME_SHIFT_LISTEN_FD"  # names the socket in its environment (tasks/flower_socket.py)

# What the Python children import, found by listing each one's sys.modules after it started (fix 11):
# third-party libraries here, then every module of our own packages (OWN).
PRELOAD = (
    "flask",
    "sqlalchemy",
    "flask_sqlalchemy",
    "pydantic",
    "redis",
    "kombu",
    "celery",
    "celery.bin.celery",  # the command line: click, click-repl and prompt_toolkit come with it
    "celery.apps.worker",
    "celery.worker.consumer",
    "celery.concurrency.prefork",
    "gunicorn.app.wsgiapp",
    "gunicorn.workers.gthread",
    "flower.command",
    "apprise",
    "prometheus_client",
    "jinja2",
    # Imported by the children at their first connection, not at start: each imported its own copy.
    "sqlalchemy.dialects.sqlite",
    "kombu.transport.redis",
    "celery.backends.redis",
)
OWN = ("app", "tasks")


def preload(env: dict[str, str], root: str) -> list[str]:
    """Import PRELOAD with the children's environment; return what could not be imported (they import it).

    Called before any child starts. Imports only: nothing may open a connection or start a thread here,
    because every child is a fork of this process (checked: a thread started by an import means no
    preloading, and the children start as if none had been done)."""
    # setproctitle finds the command line's memory from the environment's: set up while both are as the
    # kernel laid them out (before the environment below is replaced), the children can retitle themselves.
    with open("/proc/self/cmdline", "rb") as own:
        title([part.decode(errors="replace") for part in own.read().split(b"\0") if part])
    os.environ.clear()
    os.environ.update(env)
    if root not in sys.path:
        sys.path.insert(0, root)
    missing = []
    without_repl()
    for name in (*PRELOAD, *own_modules(root)):
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a child that needs it reports it properly
            missing.append(f"{name} ({exc.__class__.__name__}: {exc})")
    try:  # the models' mappers, configured once here rather than at each process's first query
        from sqlalchemy.orm import configure_mappers

        configure_mappers()
    except Exception as exc:  # noqa: BLE001 - each process configures them itself then, and says what failed
        missing.append(f"the models' mappers ({exc.__class__.__name__}: {exc})")
    if threading.active_count() > 1:
        raise RuntimeError(f"an import started a thread: {[t.name for t in threading.enumerate()]}")
    # A collection in a child writes to the header of every object it walks, which would copy each shared
    # page into that child; frozen objects are never walked.
    gc.collect()
    gc.freeze()
    return missing


def without_repl() -> None:
    """Leave out `celery amqp repl`, an interactive shell that none of make run's processes runs.

    Celery's command line registers it at import (celery.bin.amqp calls click_repl.register_repl), and
    click_repl brings prompt_toolkit and wcwidth: ~6 MiB of every make run's memory for a command nobody
    types there (fix 15, docs/benchmarks.md). Here click_repl is a module whose register_repl adds nothing;
    `celery amqp repl` run by hand, outside make run, is untouched."""
    if "click_repl" in sys.modules:
        return
    stand_in = types.ModuleType("click_repl", "make run leaves out `celery amqp repl` (scripts/children.py)")
    stand_in.register_repl = lambda group, name="repl": None  # type: ignore[attr-defined]
    sys.modules["click_repl"] = stand_in


def own_modules(root: str) -> list[str]:
    """Every module of our packages (app, tasks), found from their files; `__main__` modules left out."""
    names = []
    for package in OWN:
        base = Path(root, package)
        for path in sorted(base.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__main__":
                continue
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def title(argv: list[str]) -> None:
    """Show argv as this process's command line, where setproctitle is installed (it is locked)."""
    try:
        from setproctitle import setproctitle
    except ImportError:
        return
    setproctitle(" ".join(argv))


class ForkedChild:
    """The child side of subprocess.Popen that `scripts/run.py`'s supervisor uses: pid, poll, wait, signals."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str, keep: tuple[int, ...] = ()) -> None:
        if len(argv) < 3 or argv[1] != "-m":
            raise ValueError(f"not a `python -m MODULE` command: {argv}")
        self.args = argv
        self.returncode: int | None = None
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, which never returns from here
            for fd in set(HELD) - set(keep):
                os.close(fd)
            os._exit(run_module(argv, env, cwd))
        self.pid = pid

    def _status(self, flags: int) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, flags)
            except ChildProcessError:
                self.returncode = -signal.SIGKILL  # reaped by someone else: gone
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        return self._status(os.WNOHANG)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def run_module(argv: list[str], env: dict[str, str], cwd: str) -> int:
    """In the forked child: become `argv` (python -m MODULE ARGS) and return its exit code."""
    code = 1
    try:
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        title(argv)  # before the environment is replaced (see preload)
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        # As `python -m` sets it up: the working folder first, and not the supervisor's scripts/ folder.
        here = os.path.dirname(os.path.abspath(__file__))
        sys.path[:] = [cwd, *(entry for entry in sys.path if entry not in (cwd, here, ""))]
        module = argv[2]
        sys.argv = [module, *argv[3:]]
        # The supervisor's stdout may be a pipe or a file (block-buffered); the children's lines go out whole.
        for stream in (sys.stdout, sys.stderr):
            stream.reconfigure(line_buffering=True)
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stop:
        if stop.code is None:
            code = 0
        elif isinstance(stop.code, int):
            code = stop.code
        else:
            print(stop.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        code = 130
    except BaseException:  # noqa: BLE001 - the child's last words, then its exit code
        traceback.print_exc()
        code = 1
    finally:
        # What the interpreter does at exit: wait for non-daemon threads, run the atexit functions
        # (logging's flush, Sentry's), flush the streams; os._exit follows in the caller.
        for last in (threading._shutdown, atexit._run_exitfuncs, sys.stdout.flush, sys.stderr.flush):
            try:
                last()
            except BaseException:  # noqa: BLE001, S110 - nothing more can be said on the way out
                pass
    return code
