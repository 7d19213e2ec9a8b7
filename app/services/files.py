"""The file browser: list a folder inside the media roots, sorted, filtered and paged by cursor."""

from __future__ import annotations

import base64
import bisect
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.services.errors import NotFound, ServiceError
from app.services.file_filters import converted_names_in, natural_key
from app.services.folder_scan import is_converted_output, is_video_name, sorted_groups, stat_fresh
from tasks.paths import PathError, resolve_inside, root_of

SORTS = ("name", "size", "date")
ORDERS = ("asc", "desc")
PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000


@dataclass
class Entry:
    """One file or folder in a listing."""

    name: str
    path: str
    is_dir: bool
    size: int
    mtime_ns: int
    video: bool = False
    converted: bool = False
    duration: float | None = None
    selected: bool = False
    output: bool = False  # Frame Shift's own NAME_converted.EXT
    # From media_facts (a follower's probe for a library), while the file's size and mtime are unchanged.
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    bitrate: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as JSON values."""
        return {
            "name": self.name,
            "path": self.path,
            "is_dir": self.is_dir,
            "size": None if self.is_dir else self.size,
            "mtime": self.mtime_ns / 1e9,
            "video": self.video,
            "converted": self.converted,
            "duration": self.duration,
            "selected": self.selected,
            "output": self.output,
            "video_codec": self.video_codec,
            "width": self.width,
            "height": self.height,
            "bitrate": self.bitrate,
        }


@dataclass
class Listing:
    """One page of one folder."""

    folder: Path
    root: Path
    crumbs: list[tuple[str, str]]
    entries: list[Entry]
    total: int
    sort: str = "name"
    order: str = "asc"
    videos_only: bool = False
    search: str = ""
    next_cursor: str | None = None
    cursor: str | None = None
    roots: list[Path] = field(default_factory=list)
    file_count: int = 0
    video_count: int = 0
    show_hidden: bool = False
    hide_converted: bool = False
    deep: bool = False  # a search of every subfolder (app/services/file_search.py): entries name their folder
    truncated: str | None = None  # why a deep search stopped early, in words

    def to_dict(self) -> dict[str, Any]:
        """Return the listing as JSON values."""
        return {
            "folder": str(self.folder),
            "root": str(self.root),
            "crumbs": [{"name": n, "path": p} for n, p in self.crumbs],
            "entries": [e.to_dict() for e in self.entries],
            "total": self.total,
            "sort": self.sort,
            "order": self.order,
            "videos_only": self.videos_only,
            "search": self.search,
            "file_count": self.file_count,
            "video_count": self.video_count,
            "cursor": self.cursor,
            "next_cursor": self.next_cursor,
            "show_hidden": self.show_hidden,
            "hide_converted": self.hide_converted,
            "deep": self.deep,
            "truncated": self.truncated,
        }


def resolve_folder(path: str | None, roots: list[Path]) -> Path:
    """Return the folder to list (the first root when none is given), refusing paths outside the roots."""
    if not path:
        return roots[0]
    try:
        folder = resolve_inside(path, roots)
    except PathError as exc:
        raise (NotFound if "does not exist" in str(exc) else ServiceError)(f"path: {exc}", field="path") from None
    if not folder.is_dir():
        raise ServiceError(f"path: {path} is not a folder", field="path")
    return folder


def breadcrumbs(folder: Path, root: Path) -> list[tuple[str, str]]:
    """Return (label, path) pairs from the root down to folder."""
    crumbs = [(root.name or str(root), str(root))]
    current = root
    for part in folder.relative_to(root).parts:
        current = current / part
        crumbs.append((part, str(current)))
    return crumbs


def encode_cursor(is_dir: bool, name: str, value: int, sort: str) -> str:
    """Return an opaque cursor naming the last entry of a page."""
    raw = json.dumps([is_dir, name, value, sort])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[bool, tuple[int, str, str]]:
    """Turn a cursor back into (is_dir, sort key), or raise a clear error."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        is_dir, name, value, cursor_sort = json.loads(raw)
        # The value is a size or an mtime in ns: a whole number that fits 64 bits (never 1e400 or a list).
        if cursor_sort != sort or not isinstance(name, str) or len(name) > 1024:
            raise ValueError
        if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
            raise ValueError
        return bool(is_dir), (value, natural_key(name), name)
    except (ValueError, TypeError, RecursionError):
        raise ServiceError(
            "cursor: this page link is not valid (it belongs to another sort); go back to the first page",
            field="cursor",
        ) from None


def list_folder(
    path: str | None,
    roots: list[Path],
    *,
    sort: str = "name",
    order: str = "asc",
    videos_only: bool = False,
    search: str = "",
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    show_hidden: bool = False,
    hide_converted: bool = False,
) -> Listing:
    """Return one page of a folder: folders first, then files, in the chosen order; `cursor` continues a listing."""
    if sort not in SORTS:
        raise ServiceError(f"sort: use one of {', '.join(SORTS)}", field="sort")
    if order not in ORDERS:
        raise ServiceError("order: use asc or desc", field="order")
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    folder = resolve_folder(path, roots)
    root = root_of(folder, roots)
    found = sorted_groups(
        folder,
        roots,
        sort,
        videos_only,
        search.strip().casefold(),
        show_hidden=show_hidden,
        hide_converted=hide_converted,
    )
    dirs, files, originals, videos = found.dirs, found.files, found.originals, found.videos
    if hide_converted:
        done = converted_names_in(folder, videos)
        if done:
            files = [key for key in files if key[2] not in done]
            videos = [name for name in videos if name not in done]
    total = len(dirs) + len(files)
    start = 0
    if cursor:
        cursor_dir, cursor_key = decode_cursor(cursor, sort)
        group = dirs if cursor_dir else files
        pos = (
            bisect.bisect_right(group, cursor_key)
            if order == "asc"
            else len(group) - bisect.bisect_left(group, cursor_key)
        )
        start = pos + (0 if cursor_dir else len(dirs))

    def at(position: int) -> tuple[tuple[int, str, str], bool]:
        group, index, is_dir = (dirs, position, True) if position < len(dirs) else (files, position - len(dirs), False)
        return group[index if order == "asc" else len(group) - 1 - index], is_dir

    window = [at(p) for p in range(start, min(start + limit, total))]
    page_stats = stat_fresh(folder, [k[2] for k, _ in window])  # what a page shows is never stale
    base = str(folder)
    entries = []
    for (_, _, name), is_dir in window:
        size, mtime_ns = page_stats.get(name, (0, 0))
        video = not is_dir and is_video_name(name)
        converted = video and name.rpartition(".")[0] in originals
        output = video and is_converted_output(name)
        entries.append(Entry(name, os.path.join(base, name), is_dir, size, mtime_ns, video, converted, output=output))
    more = start + limit < total
    last = window[-1] if window else None
    return Listing(
        folder=folder,
        root=root,
        crumbs=breadcrumbs(folder, root),
        entries=entries,
        total=total,
        sort=sort,
        order=order,
        videos_only=videos_only,
        search=search.strip(),
        cursor=cursor,
        next_cursor=encode_cursor(last[1], last[0][2], last[0][0], sort) if more and last else None,
        roots=list(roots),
        file_count=len(files),
        video_count=len(videos),
        show_hidden=show_hidden,
        hide_converted=hide_converted,
    )


def add_media_facts(entries: list[Entry]) -> None:
    """Fill codec, resolution, bitrate (and a missing duration) from media_facts; nothing is probed here."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models.library import MediaFacts

    videos = {e.path: e for e in entries if e.video}
    paths = list(videos)
    for i in range(0, len(paths), 500):
        rows = db.session.execute(select(MediaFacts).where(MediaFacts.path.in_(paths[i : i + 500]))).scalars()
        for row in rows:
            entry = videos[row.path]
            if row.error or (row.size, row.mtime_ns) != (entry.size, entry.mtime_ns):
                continue  # unreadable, or the file changed since: show nothing rather than something stale
            entry.video_codec, entry.width, entry.height, entry.bitrate = (
                row.video_codec,
                row.width,
                row.height,
                row.bitrate,
            )
            if entry.duration is None:
                entry.duration = row.duration
