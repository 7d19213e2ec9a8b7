"""Schemas of the libraries API: a watched folder, its spec, rules, output policy and schedule."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from app.schemas.inputs import Strict
from app.schemas.jobs import OptionalPath, Spec
from app.schemas.schedules import Week
from app.schemas.types import PathText, choice, text, whole

POLICIES = ("beside", "folder", "replace")
WATCH_MODES = ("events", "polling", "none")
REQUEUE = ("changed", "failed", "skipped", "all")
Patterns = Annotated[list[text(200, 1)], Field(max_length=32)]


class Rules(Strict):
    """What decides whether a file needs work; absent rules take their defaults."""

    extensions: Annotated[list[text(16, 1)], Field(max_length=64)] | None = Field(
        None, description="File extensions to consider, without the dot; default: the common video ones."
    )
    skip_matching: bool | None = Field(
        None, description="Skip files whose video codec, bit depth and container already match the spec (default on)."
    )
    min_size_mb: whole(0, 10_000_000) | None = Field(None, description="Skip files smaller than this; 0: no limit.")
    min_bitrate_kbps: whole(0, 1_000_000) | None = Field(None, description="Skip files below this bitrate; 0: off.")
    max_height: whole(0, 8640) | None = Field(None, description="Skip files taller than this many lines; 0: off.")
    include: Patterns | None = Field(None, description="Glob patterns; when given, only matching names are taken.")
    exclude: Patterns | None = Field(None, description="Glob patterns of names never taken.")


class LibraryFields(Strict):
    """A library's settings; on create, name and folder are required, the rest have defaults."""

    inner_names: ClassVar[tuple[str, ...]] = ("spec", "rules")
    name: text(120, 1) | None = None
    folder: PathText | None = Field(None, description="A folder inside the media folders.")
    spec: Spec | None = Field(None, description="The conversion settings; or give preset.")
    preset: text(120, 1) | None = Field(None, description="The name of a saved preset (instead of spec).")
    rules: Rules | None = None
    output_policy: choice(POLICIES) | None = Field(
        None, description="beside: NAME_converted.EXT; folder: into output_dir; replace: the original is recycled."
    )
    output_dir: OptionalPath = Field(None, description="With output_policy=folder: a folder inside the media folders.")
    recycle_days: whole(0, 365) | None = Field(None, description="With replace: days originals are kept; 0: delete.")
    min_saving_percent: whole(0, 99) | None = Field(
        None, description="With replace: keep the output only if it is this much smaller (default 5; 0: any smaller)."
    )
    scan_minutes: whole(1, 10_080) | None = Field(None, description="Minutes between full scans (default 60).")
    watch: choice(WATCH_MODES) | None = Field(None, description="events (inotify), polling (network shares) or none.")
    enabled: bool | None = None
    schedule: Week | None = Field(
        None, description="168 flags, Monday 00:00 first: hours when this library's jobs may start; null: any."
    )


class Rescan(Strict):
    """POST /api/libraries/{id}/rescan: scan now, and optionally queue remembered files again."""

    requeue: choice(REQUEUE) | None = Field(
        None, description="changed (default): only new or changed files; failed, skipped or all: forget those first."
    )
