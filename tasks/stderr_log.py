"""FFmpeg's whole stderr, bounded, and the input facts its header gives (no second process opens the file)."""

from __future__ import annotations

import collections
import re

STDERR_LIMIT = 1_000_000  # bytes kept of one run's stderr: the start (the input's description) and the end
HEAD_SHARE = 0.25
INPUT_LINE = re.compile(r"^Input #0, (.+?), from ")
STREAM_LINE = re.compile(r"^\s*Stream #0:\d+\S*: (Video|Audio): ([A-Za-z0-9_]+)")


class BoundedLog:
    """Every stderr line up to `limit` bytes; past it, the first quarter and the last lines, with a note between."""

    def __init__(self, limit: int = STDERR_LIMIT) -> None:
        self.head_limit = int(limit * HEAD_SHARE)
        self.tail_limit = limit - self.head_limit
        self.head: list[str] = []
        self.head_size = 0
        self.tail: collections.deque[str] = collections.deque()
        self.tail_size = 0
        self.dropped_lines = 0
        self.dropped_bytes = 0

    def add(self, line: str) -> None:
        """Keep one line (without its newline); a single line longer than the bound is cut."""
        line = line[: self.tail_limit]
        size = len(line.encode("utf-8", "replace")) + 1
        if self.head_size + size <= self.head_limit and not self.tail:
            self.head.append(line)
            self.head_size += size
            return
        self.tail.append(line)
        self.tail_size += size
        while self.tail_size > self.tail_limit and self.tail:
            gone = self.tail.popleft()
            self.tail_size -= len(gone.encode("utf-8", "replace")) + 1
            self.dropped_lines += 1
            self.dropped_bytes += len(gone.encode("utf-8", "replace")) + 1

    def text(self) -> str:
        """Return what was kept, saying where and how much was left out."""
        parts = list(self.head)
        if self.dropped_lines:
            parts.append(f"[... {self.dropped_lines} lines ({self.dropped_bytes:,} bytes) left out ...]")
        parts.extend(self.tail)
        return "\n".join(parts) + ("\n" if parts else "")


class InputFacts:
    """The container and first video and audio codecs of input #0, read from FFmpeg's header lines."""

    def __init__(self) -> None:
        self.format: str | None = None
        self.video_codec: str | None = None
        self.audio_codec: str | None = None
        self.in_input = False

    def feed(self, line: str) -> None:
        """Read one header line (lines after the input's description are ignored)."""
        match = INPUT_LINE.match(line)
        if match:
            self.format, self.in_input = match.group(1), True
            return
        if line.startswith(("Input #", "Output #", "Stream mapping:")):
            self.in_input = False
            return
        if self.in_input:
            stream = STREAM_LINE.match(line)
            if stream and stream.group(1) == "Video" and self.video_codec is None:
                self.video_codec = stream.group(2)
            elif stream and stream.group(1) == "Audio" and self.audio_codec is None:
                self.audio_codec = stream.group(2)

    def to_dict(self) -> dict[str, str | None]:
        """Return the facts as JSON values (None where the log did not say)."""
        return {"format": self.format, "video_codec": self.video_codec, "audio_codec": self.audio_codec}
