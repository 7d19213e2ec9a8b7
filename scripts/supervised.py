"""`make run`'s supervision: each process restarted with a growing back-off when it exits unexpectedly, or
started on demand at the first connection to a port held here (Flower, fix 26), and all stopped in order.

A Python child is forked from the supervisor that preloaded its libraries (scripts/children.py, ForkedChild);
any other is an ordinary subprocess.
"""

from __future__ import annotations

import select
import signal
import socket
import subprocess
import sys
import time

from children import HELD, LISTEN_FD_VARIABLE, ROOT, ForkedChild

BACKOFF_FIRST, BACKOFF_MAX = 1.0, 30.0
STABLE_AFTER = 60.0  # a process that ran this long before exiting starts again at the first back-off
CONFIG_EXIT = 2  # our processes exit 2 when they refuse their settings: restarting cannot help


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port for a process started on demand (OSError when the port is taken)."""
    server = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind((host, port))
        server.listen(128)
    except OSError:
        server.close()
        raise
    server.setblocking(False)
    return server


class Child:
    """One supervised process: restarted with a growing back-off when it exits unexpectedly.

    With a listener (a bound, listening socket the supervisor holds), the process starts on demand: when the
    first connection waits on that socket, and again after it exited only when one waits. It gets the socket
    as file descriptor LISTEN_FD_VARIABLE and serves the connections queued meanwhile."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], fork: bool = False, listener: socket.socket | None = None
    ) -> None:
        self.name, self.argv, self.env, self.fork = name, argv, env, fork
        self.listener = listener
        if listener is not None:
            HELD[listener.fileno()] = name
            self.env = {**env, LISTEN_FD_VARIABLE: str(listener.fileno())}
        self.proc: subprocess.Popen | ForkedChild | None = None
        self.started = 0.0
        self.backoff = BACKOFF_FIRST
        self.restart_at: float | None = None
        self.restarts = 0

    def start(self) -> None:
        keep = () if self.listener is None else (self.listener.fileno(),)
        if self.fork:  # python -m MODULE: forked from this process, which imported its libraries once
            self.proc = ForkedChild(self.argv, self.env, str(ROOT), keep)
        else:
            self.proc = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, pass_fds=keep)
        self.started, self.restart_at = time.monotonic(), None

    def wanted(self) -> bool:
        """Started on demand: True when a connection waits on its socket."""
        if self.listener is None:
            return True
        return bool(select.select([self.listener], [], [], 0)[0])

    def waiting_on(self) -> socket.socket | None:
        """The socket to watch for a first connection while this on-demand process is not running."""
        if self.listener is not None and (self.proc is None or self.restart_at is not None):
            return self.listener
        return None

    def check(self, now: float) -> str | None:
        """Restart when due; return 'config' when it refused its settings (nothing to restart)."""
        if self.proc is None:  # on demand, never started: the first connection starts it
            if self.wanted():
                print(f"[run] starting {self.name}: a first visit to its port", flush=True)
                self.start()
            return None
        if self.restart_at is not None:
            if now >= self.restart_at and self.wanted():
                self.restarts += 1
                print(f"[run] restarting {self.name} (restart {self.restarts})", flush=True)
                self.start()
            return None
        if self.proc.poll() is None:
            return None
        code, ran = self.proc.returncode, now - self.started
        if code == CONFIG_EXIT and ran < 30:
            return "config"
        # A process that ran a while gets the first back-off again; one that keeps dying waits longer each time.
        quick_again = self.restarts and ran < STABLE_AFTER
        self.backoff = min(self.backoff * 2, BACKOFF_MAX) if quick_again else BACKOFF_FIRST
        self.restart_at = now + self.backoff
        why = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        when = (
            f"in {self.backoff:.0f} s"
            if self.listener is None
            else f"at the next visit, not before {self.backoff:.0f} s"
        )
        print(
            f"[run] {self.name} {why} after {ran:.0f} s; restarting {when}",
            file=sys.stderr,
            flush=True,
        )
        return None


def stopping_now(children: list[Child]) -> None:
    """SIGTERM to everything but redis first, so followers can report their last state; then redis."""
    for group in ([c for c in children if c.name != "redis"], [c for c in children if c.name == "redis"]):
        procs = [c.proc for c in group if c.proc is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 20
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
