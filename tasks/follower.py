"""A follower's own settings, read from its environment when the worker starts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tasks.command import Threads
from tasks.paths import parse_path_map, parse_roots


@dataclass(frozen=True)
class FollowerSettings:
    """Everything a follower needs: media roots, token, FFmpeg binaries and limits."""

    media_roots: list[Path] = field(default_factory=list)
    shared_token: str = ""
    ffmpeg_bin: str = "ffmpeg"
    ffprobe_bin: str = "ffprobe"
    threads: Threads = Threads()
    path_map: list[tuple[str, str]] = field(default_factory=list)
    progress_interval: float = 0.5
    lease_seconds: int = 30

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> FollowerSettings:
        """Build settings from environment variables."""
        env = dict(os.environ if env is None else env)
        roots = env.get("MEDIA_ROOTS") or env.get("FRAME_SHIFT_HOME") or ""
        return cls(
            media_roots=parse_roots(roots),
            shared_token=env.get("SHARED_TOKEN", ""),
            ffmpeg_bin=env.get("FFMPEG_BIN", "ffmpeg"),
            ffprobe_bin=env.get("FFPROBE_BIN", "ffprobe"),
            threads=Threads.from_env(env),
            path_map=parse_path_map(env.get("FOLLOWER_PATH_MAP")),
            progress_interval=float(env.get("PROGRESS_INTERVAL") or 0.5),
            lease_seconds=int(env.get("JOB_LEASE_SECONDS") or 30),
        )
