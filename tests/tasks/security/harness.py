"""The security tests' harness: a world with a media root, secrets outside it, read
detectors (FIFOs), a listening TCP socket, tree snapshots, and one hostile conversion run.

Every hostile run goes through the real conversion path (tasks/convert.py run_attempt), real FFmpeg
and ffprobe, and the real boundary (tasks/sandbox.py); `FFMPEG_SANDBOX=off` runs the same thing
unconfined, which the control runs use to show that a test can fail.
"""

from __future__ import annotations

import errno
import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.convert import run_attempt
from tasks.errors import TranscodeError
from tasks.follower import FollowerSettings

# Fresh for every session, so a marker found anywhere came from this run's secret files.
MARKER = "FSSECRET" + secrets.token_hex(12)
UNSAFE_SWITCH = "FRAME_SHIFT_UNSAFE_NO_ARG_CHECK"
FIFO_NAMES = ("trap", "trap.mkv", "trap.ts", "trap.srt", "trap.ass", "trap.txt", "trap.cube", "trap.so", "trap.ttf")
FIFO_NAMES += ("trap.ffpreset", "trap.mp4")
# What a FIFO reader gets once the detector sees it: the secret, so a read that went on would leak it.
FIFO_PAYLOAD = f"1\n00:00:00,000 --> 00:00:01,000\n{MARKER}\n\n".encode()
BASE_ARGS = "-c:v libx264 -preset ultrafast -crf 35 -c:a aac"


def ffmpeg(*args: str) -> None:
    """Run the real ffmpeg (unconfined: the tests' own fixtures)."""
    subprocess.run(["ffmpeg", "-hide_banner", "-v", "error", "-y", *args], check=True)


def make_clip(path: Path, seconds: float = 1, audio: bool = True) -> Path:
    """A tiny clip (160x120, libx264 ultrafast) from FFmpeg's lavfi sources."""
    args = ["-f", "lavfi", "-i", f"testsrc=size=160x120:rate=25:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-shortest"]
    ffmpeg(*args, str(path))
    return path


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

    def _watch(self) -> None:
        while not self._stop.is_set():
            for path in self.paths:
                if self.reader_present(path):
                    self.opened.append(path.name)
            time.sleep(0.002)

    @contextmanager
    def watching(self) -> Iterator[FifoDetector]:
        """Watch the pipes for the duration of the block (one last look after it)."""
        self.opened = []
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(5)
            for path in self.paths:
                if self.reader_present(path):
                    self.opened.append(path.name)


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


@dataclass
class World:
    """A folder tree: media/ (the only media root), outside/ (secrets, traps, targets), cwd/ (the follower's
    working directory, holding data/secret_key as the project's data folder does)."""

    root: Path
    media: Path
    outside: Path
    written: Path
    cwd: Path
    clip: Path
    fifos: FifoDetector
    listener: Listener
    values: dict[str, str] = field(default_factory=dict)
    slow_clip: Path = Path()  # 2 s, for a run at real-time speed that a test watches while it runs

    def fill(self, template: str) -> str:
        """Fill {outside}, {written}, {media}, {fifo}, {port}, {secret}, ... into a hostile template."""
        return template.format(**self.values)


def build_world(root: Path) -> World:
    media, outside, cwd = root / "media", root / "outside", root / "cwd"
    written = outside / "written"
    for folder in (media, outside, written, cwd / "data"):
        folder.mkdir(parents=True, exist_ok=True)
    clip = make_clip(media / "clip.mp4")
    (cwd / "data" / "secret_key").write_text(MARKER)
    (outside / "secret.txt").write_text(MARKER + "\n")
    (outside / "secret-graph.txt").write_text(MARKER)  # as a filter graph: "No such filter: '<marker>'"
    (outside / "secret.srt").write_text(f"1\n00:00:00,000 --> 00:00:01,000\n{MARKER}\n")
    make_clip(outside / "secret.ts", seconds=1, audio=False)
    fifos = FifoDetector(outside / "fifos")
    (outside / "list.ffconcat").write_text(f"ffconcat version 1.0\nfile '{outside / 'fifos' / 'trap.mkv'}'\n")
    # A real file with an attachment inside the media root, for -dump_attachment.
    (outside / "note.txt").write_text("attachment\n")
    ffmpeg(
        "-i",
        str(clip),
        "-attach",
        str(outside / "note.txt"),
        "-metadata:s:t",
        "mimetype=text/plain",
        "-c",
        "copy",
        str(media / "with-attachment.mkv"),
    )
    listener = Listener()
    world = World(root, media, outside, written, cwd, clip, fifos, listener)
    world.slow_clip = make_clip(media / "slow.mp4", seconds=2)
    world.values = {
        "outside": str(outside),
        "written": str(written),
        "media": str(media),
        "fifo": str(outside / "fifos" / "trap"),
        "port": str(listener.port),
        "secret": str(outside / "secret.txt"),
        "secret_srt": str(outside / "secret.srt"),
        "secret_graph": str(outside / "secret-graph.txt"),
        # From FFmpeg's working directory (media/.<stem>.frameshift-<tag>/) back up to the world.
        "up": "../..",
    }
    return world


@dataclass
class Outcome:
    """What one conversion attempt did, and every place the secret could have turned up."""

    result: dict[str, Any] | None
    error: TranscodeError | None
    reports: list[dict[str, Any]]
    output: bytes
    changed: list[str]
    fifo_opened: list[str]
    connections: list[tuple[str, int]]
    seconds: float

    @property
    def texts(self) -> dict[str, str]:
        """Every text the job produced: result, error message, log tail, reports."""
        found = {"reports": repr(self.reports)}
        if self.result is not None:
            found["result"] = repr(self.result)
        if self.error is not None:
            found["error"] = self.error.message
            found["log_tail"] = "\n".join(self.error.log_tail)
        return found

    @property
    def leaks(self) -> list[str]:
        """Where the secret marker appeared."""
        where = [name for name, text in self.texts.items() if MARKER in text]
        if MARKER.encode() in self.output:
            where.append("output file")
        return where

    @property
    def started(self) -> bool:
        """Whether FFmpeg was started (no check refused the arguments before it)."""
        return any(r.get("stage") == "started" for r in self.reports)

    @property
    def escapes(self) -> list[str]:
        """Every sign that the run reached beyond its input and private folder."""
        signs = list(self.changed)
        signs += [f"opened FIFO {name}" for name in self.fifo_opened]
        signs += [f"TCP connection from {peer}" for peer in self.connections]
        signs += [f"secret in {where}" for where in self.leaks]
        return signs

    def describe(self) -> str:
        message = self.error.message if self.error else "succeeded"
        tail = "\n".join((self.error.log_tail if self.error else (self.result or {}).get("log_tail", []))[-12:])
        return f"{message}\nescapes: {self.escapes}\nlog tail:\n{tail}"


def convert(
    world: World,
    custom_args: str,
    *,
    tag: str = "sec",
    source: Path | None = None,
    watch: Callable[[dict[str, Any]], None] | None = None,
    **spec: Any,
) -> Outcome:
    """Run one custom-argument conversion through run_attempt in the world, watching everything
    (`watch` also gets every report, while FFmpeg runs)."""
    target = world.media / f"out-{tag}.mkv"
    settings = FollowerSettings(media_roots=[world.media])
    payload = {
        "input": str(source or world.clip),
        "output": str(target),
        "spec": {"mode": "custom", "custom_args": custom_args, "container": "mkv", "if_exists": "overwrite", **spec},
    }
    reports: list[dict[str, Any]] = []

    def report(fields: dict[str, Any]) -> None:
        reports.append(fields)
        if watch is not None:
            watch(fields)

    deadline = time.monotonic() + 30
    skip = (target, world.media / f".out-{tag}.frameshift-{tag}")
    before = snapshot(world.root, skip)
    result: dict[str, Any] | None = None
    error: TranscodeError | None = None
    started = time.monotonic()
    with world.fifos.watching() as fifos:
        connections_before = len(world.listener.connections)
        try:
            result = run_attempt(
                payload, settings, report, lambda: "cancel" if time.monotonic() > deadline else None, tag
            )
        except TranscodeError as exc:
            error = exc
        time.sleep(0.05)  # a connection still in the listen queue
    output = b""
    for produced in world.media.glob(f"out-{tag}*"):
        output += produced.read_bytes()
        produced.unlink()
    after = snapshot(world.root, skip)
    # Directory mtimes of the media root follow the private folder and the output: that is the job itself.
    found = [c for c in changes(before, after) if c != f"changed {world.media}"]
    outcome = Outcome(
        result,
        error,
        reports,
        output,
        found,
        list(fifos.opened),
        world.listener.connections[connections_before:],
        time.monotonic() - started,
    )
    for leftover in world.written.iterdir():  # what an unconfined control wrote
        leftover.unlink()
    return outcome
