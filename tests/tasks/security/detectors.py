"""What the security tests watch with: named pipes that tell whether anything opened them for reading, a
listening TCP socket that records connections, and snapshots of a folder tree to compare (moved out of
harness.py, which builds the world and runs the hostile conversions with them)."""

from __future__ import annotations

import errno
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Fresh for every session, so a marker found anywhere came from this run's secret files.
MARKER = "FSSECRET" + secrets.token_hex(12)
FIFO_NAMES = ("trap", "trap.mkv", "trap.ts", "trap.srt", "trap.ass", "trap.txt", "trap.cube", "trap.so", "trap.ttf")
FIFO_NAMES += ("trap.ffpreset", "trap.mp4")
# What a FIFO reader gets once the detector sees it: the secret, so a read that went on would leak it.
FIFO_PAYLOAD = f"1\n00:00:00,000 --> 00:00:01,000\n{MARKER}\n\n".encode()


class FifoDetector:
    """Named pipes outside the media root that tell whether anything opened them for reading.

    Opening a FIFO for writing with O_NONBLOCK fails with ENXIO unless some process has it open for
    reading (a reader blocked in open() counts). A thread tries that every few milliseconds; a
    reader blocks in open() until a writer comes, so none can slip through between two tries. When
    it finds one it writes the secret and closes, so the reader gets data and EOF and does not hang.
    """

    def __init__(self, folder: Path, names: tuple[str, ...] = FIFO_NAMES) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.paths = [folder / name for name in names]
        for path in self.paths:
            if not path.exists():
                os.mkfifo(path, 0o600)
        self.opened: list[str] = []
        self._held: set[Path] = set()  # pipes a reader had open at the last look
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def reader_present(self, path: Path) -> bool:
        """Return True (and feed and close the pipe) when some process has path open for reading."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                return False
            raise
        try:
            os.write(fd, FIFO_PAYLOAD)
        except OSError:
            pass
        finally:
            os.close(fd)
        return True

    def _look(self) -> None:
        """One look at every pipe. A reader is recorded once for as long as it keeps the pipe open: fed and
        closed, it may still hold its end for a moment (a loaded machine), and would be counted again."""
        for path in self.paths:
            if self.reader_present(path):
                if path not in self._held:
                    self.opened.append(path.name)
                self._held.add(path)
            else:
                self._held.discard(path)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._look()
            time.sleep(0.002)

    @contextmanager
    def watching(self) -> Iterator[FifoDetector]:
        """Watch the pipes for the duration of the block (one last look after it)."""
        self.opened, self._held = [], set()
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(5)
            self._look()


class Listener:
    """A listening TCP socket on 127.0.0.1 that records every connection that arrives (and closes it)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.connections: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(peer)
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def snapshot(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple]:
    """Every file and folder under root with its type, size, mtime and inode (not following links)."""
    found: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            if any(path == s or s in path.parents for s in skip):
                continue
            st = path.lstat()
            found[str(path)] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
    return found


def changes(before: dict[str, tuple], after: dict[str, tuple]) -> list[str]:
    """What was created, removed or modified between two snapshots."""
    out = [f"created {p}" for p in sorted(set(after) - set(before))]
    out += [f"removed {p}" for p in sorted(set(before) - set(after))]
    out += [f"changed {p}" for p in sorted(set(before) & set(after)) if before[p] != after[p]]
    return out
