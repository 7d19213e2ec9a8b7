"""Schemas of the jobs API and of the conversion settings (the spec) every job, preset and form carries."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, WithJsonSchema

from app.schemas.inputs import Strict
from app.schemas.types import MAX_ID, Extra, Id, PathText, blank_or, choice, text, whole
from app.services.jobs import MAX_BATCH
from tasks import spec as rules

FINISHED = ("succeeded", "failed", "cancelled")


BITRATE = re.compile(r"\s*[0-9]{1,9}[kKmM]?\s*")


def _bitrate(value: str) -> str:
    if not BITRATE.fullmatch(value):
        raise ValueError(f"must look like 4M, 2500k or 800000 (got {value[:20]!r})")
    return value


Bitrate = Annotated[
    str,
    Field(max_length=16),
    AfterValidator(_bitrate),
    WithJsonSchema({"type": "string", "maxLength": 16, "pattern": BITRATE.pattern}),
]
OptionalPath = blank_or(PathText)
Priority = whole(-1_000_000, 1_000_000)


class BasicFields(Strict):
    """The basic conversion form's settings (Configure page, Settings page defaults)."""

    video_codec: choice(rules.VIDEO_CODECS) | None = None
    rate_mode: choice(rules.RATE_MODES) | None = None
    crf: whole(0, 63) | None = None
    video_bitrate: Bitrate | None = None
    preset: choice(rules.PRESETS) | None = None
    bit_depth: whole(8, 10) | None = None
    max_height: blank_or(whole(0, 8640)) = Field(
        None, description="Shrink taller videos to this many lines; 0 or empty keeps the size, else 64-8640."
    )
    audio_codec: choice(rules.AUDIO_CODECS) | None = None
    audio_quality: choice(rules.AUDIO_QUALITIES) | None = None
    container: choice(rules.CONTAINERS) | None = None
    subtitles: choice(rules.SUBTITLE_MODES) | None = None
    threads: whole(0, 64) | None = None


class OutputFields(Strict):
    """Where outputs go and what happens when the name is taken."""

    output_dir: OptionalPath = Field(None, description="A folder inside the media folders; absent: beside the source.")
    if_exists: choice(rules.IF_EXISTS) | None = None


class SpecFields(BasicFields, OutputFields):
    """The conversion settings; absent ones take the defaults. tasks/spec.py checks how they combine."""

    mode: choice(rules.MODES) | None = None
    custom_args: text(4096) | None = Field(None, description="FFmpeg output options, with mode=custom.")
    split: choice(rules.SPLIT_MODES) | None = Field(
        None, description="Encode a long input in pieces on several followers: auto (default), always or never."
    )


class Spec(SpecFields):
    """The conversion settings of a job or preset, as JSON."""

    extra: Extra | None = None

    def values(self) -> dict[str, Any]:
        """Return the settings that were given (tasks.spec.parse_spec fills in the rest)."""
        return self.model_dump(exclude_unset=True)


class CreateJobs(Strict):
    """POST /api/jobs: one job per input file, all with one spec."""

    inner_names: ClassVar[tuple[str, ...]] = ("spec",)
    inputs: Annotated[list[PathText], Field(min_length=1, max_length=MAX_BATCH)] | None = None
    input: PathText | None = Field(None, description="One input file (instead of inputs).")
    spec: Spec | None = None
    priority: Priority | None = Field(None, description="Higher runs first; default 0.")

    def paths(self) -> list[str] | None:
        """Return the inputs as a list (input alone counts as one)."""
        if self.inputs is not None:
            return self.inputs
        return [self.input] if self.input is not None else None


class JobsQuery(Strict):
    """GET /api/jobs: filter, search and page."""

    status: text(200) | None = Field(None, description="One status, or several separated by commas.")
    q: text(200) | None = Field(None, description="Part of a file name.")
    page: whole(1, 1_000_000) = 1
    per_page: whole(1, 500) = 50


class MoveJob(Strict):
    """POST /api/jobs/{id}/move."""

    where: choice(("top", "bottom", "up", "down", "before"))
    before: whole(1, MAX_ID) | None = Field(None, description="With where=before: the id of another waiting job.")


class ClearJobs(Strict):
    """POST /api/jobs/clear: delete finished jobs (all three final states when statuses is absent)."""

    statuses: Annotated[list[choice(FINISHED)], Field(max_length=len(FINISHED))] | None = None


class SpecPreview(Strict):
    """POST /api/spec/preview: check a spec and show the FFmpeg command for one input."""

    inner_names: ClassVar[tuple[str, ...]] = ("spec",)
    spec: Spec | None = None
    input: PathText | None = None
    output: PathText | None = None


__all__ = ["ClearJobs", "CreateJobs", "Id", "JobsQuery", "MoveJob", "Spec", "SpecFields", "SpecPreview"]
