"""Schemas of the file browser: listing, durations, the selection, and the listing's cursor."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from app.schemas.inputs import Strict
from app.schemas.jobs import OptionalPath
from app.schemas.types import PathText, blank_or, choice, text, whole
from app.services.files import MAX_PAGE_SIZE, ORDERS, SORTS
from app.services.jobs import MAX_BATCH
from app.services.media_info import MAX_PROBES_PER_REQUEST

Paths = Annotated[list[PathText], Field(max_length=MAX_BATCH)]
Flag = choice(("", "0", "1", "on", "off", "true", "false")) | None
ON = ("1", "on", "true")


class FilesQuery(Strict):
    """GET /api/files: one page of a folder (pass next_cursor back as cursor)."""

    path: OptionalPath = Field(None, description="The folder; the first media folder when absent.")
    sort: blank_or(choice(SORTS)) = None
    order: blank_or(choice(ORDERS)) = None
    videos: Flag = Field(None, description="1: videos only.")
    q: text(200) | None = Field(None, description="Part of a name, or a pattern with * and ?.")
    deep: Flag = Field(None, description="1: search this folder and every folder below it (needs q).")
    hidden: Flag = Field(None, description="1: show hidden (dot) files; never Frame Shift's private folders.")
    hide_converted: Flag = Field(None, description="1: hide Frame Shift's outputs and the sources that have one.")
    cursor: text(2048) | None = None
    limit: blank_or(whole(1, MAX_PAGE_SIZE)) = None

    def listing_args(self) -> dict:
        """Return the keyword arguments of app.services.files.list_folder."""
        from app.services.files import PAGE_SIZE

        return {
            "sort": self.sort or "name",
            "order": self.order or "asc",
            "videos_only": self.videos in ON,
            "search": self.q or "",
            "cursor": self.cursor or None,
            "limit": self.limit or PAGE_SIZE,
            "show_hidden": self.hidden in ON,
            "hide_converted": self.hide_converted in ON,
        }

    @property
    def deep_search(self) -> bool:
        """Return True when the search covers every folder below (and there is something to search for)."""
        return self.deep in ON and bool((self.q or "").strip())


class FilesPageQuery(FilesQuery):
    """GET /files: the browser page takes the same arguments (others are ignored: links may carry more)."""

    model_config = ConfigDict(extra="ignore")


class Durations(Strict):
    """POST /api/files/durations."""

    paths: Annotated[list[PathText], Field(max_length=MAX_PROBES_PER_REQUEST)]


class Matching(Strict):
    """Every video of one folder whose name contains q."""

    path: PathText
    q: text(200) | None = None


class SelectionChange(Strict):
    """POST /api/files/selection: change this browser's selection."""

    add: Paths | None = None
    remove: Paths | None = None
    folders: Annotated[list[PathText], Field(max_length=100)] | None = None
    matching: Matching | None = None
    clear: bool | None = None
