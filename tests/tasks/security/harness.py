"""The security tests' harness: a world with a media root, secrets outside it, the detectors of
detectors.py (FIFOs, a listening TCP socket, tree snapshots), and one hostile conversion run.

Every hostile run goes through the real conversion path (tasks/convert.py run_attempt), real FFmpeg
and ffprobe, and the real boundary (tasks/sandbox.py); `FFMPEG_SANDBOX=off` runs the same thing
unconfined, which the control runs use to show that a test can fail.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.convert import run_attempt
from tasks.errors import TranscodeError
from tasks.follower import FollowerSettings
from tests.tasks.security.detectors import MARKER, FifoDetector, Listener, changes, snapshot

UNSAFE_SWITCH = "FRAME_SHIFT_UNSAFE_NO_ARG_CHECK"
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
