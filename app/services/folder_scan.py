"""Reading a folder for the browser: names without a stat, stats when sorting needs them, short-lived reuse."""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from app.services.errors import NotFound, ServiceError
from app.services.file_filters import name_matcher, natural_key, shown
from tasks.paths import VIDEO_EXTENSIONS, inside

CONVERTED_SUFFIX = "_converted"
# Sizes and dates of big folders are reused for a few seconds while the folder is unchanged, so paging and
# re-sorting do not stat 10,000 files each time; a file growing in place shows its new size after STAT_TTL.
STAT_TTL = 3.0
STAT_CACHE_FOLDERS = 16
_stat_cache: OrderedDict[str, tuple[int, float, dict[str, tuple[int, int]]]] = OrderedDict()
_order_cache: OrderedDict[tuple, tuple[int, float, FolderOrder]] = OrderedDict()
_cache_lock = threading.Lock()


def is_hidden(name: str) -> bool:
    """Hidden names (FFmpeg's temporary outputs start with a dot) are never shown or selected."""
    return name.startswith(".")


def original_stem(name: str) -> str | None:
    """Return NAME for NAME_converted.EXT or NAME_converted (2).EXT, else None."""
    stem = os.path.splitext(name)[0]
    if stem.endswith(")") and " (" in stem:
        stem = stem[: stem.rindex(" (")]
    return stem[: -len(CONVERTED_SUFFIX)] if stem.endswith(CONVERTED_SUFFIX) else None


def is_converted_output(name: str) -> bool:
    """Return True for Frame Shift's own outputs."""
    return original_stem(name) is not None


def scan_names(folder: Path, roots: list[Path], show_hidden: bool = False) -> list[tuple[str, bool]]:
    """Return (name, is_dir) for every visible entry, without a stat; symlinks leading outside the roots are left out."""
    found: list[tuple[str, bool]] = []
    with os.scandir(folder) as it:
        for item in it:
            name = item.name
            if name[0] == "." and not shown(name, show_hidden):
                continue
            try:
                if item.is_symlink():
                    target = Path(item.path).resolve()
                    if not inside(target, roots):
                        continue
                    found.append((name, item.is_dir()))
                else:
                    found.append((name, item.is_dir(follow_symlinks=False)))
            except OSError:
                continue  # vanished or unreadable while listing
    return found


def stat_names(folder: Path, names: list[str]) -> dict[str, tuple[int, int]]:
    """Return (size, mtime_ns) per name for sorting; a folder's stats are reused for STAT_TTL s while it is unchanged."""
    try:
        dir_mtime = os.stat(folder).st_mtime_ns
    except OSError:
        dir_mtime = -1
    key, now = str(folder), time.monotonic()
    with _cache_lock:
        cached = _stat_cache.get(key)
    fresh = cached is not None and cached[0] == dir_mtime and now - cached[1] < STAT_TTL
    stats = dict(cached[2]) if fresh else {}
    missing = [n for n in names if n not in stats]
    stats.update(stat_fresh(folder, missing))
    if missing:
        with _cache_lock:
            _stat_cache[key] = (dir_mtime, cached[1] if fresh else now, stats)
            _stat_cache.move_to_end(key)
            while len(_stat_cache) > STAT_CACHE_FOLDERS:
                _stat_cache.popitem(last=False)
    return stats


def stat_fresh(folder: Path, names: list[str]) -> dict[str, tuple[int, int]]:
    """Return (size, mtime_ns) per name, read now."""
    stats = {}
    base = str(folder)
    for name in names:
        try:
            st = os.stat(os.path.join(base, name))
            stats[name] = (st.st_size, st.st_mtime_ns)
        except OSError:
            stats[name] = (0, 0)
    return stats


def is_video_name(name: str) -> bool:
    """Return True when the name ends in a video extension."""
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class FolderOrder:
    """A folder's entries as ascending sort keys (value, natural name key, name), folders and files apart."""

    dirs: list[tuple[int, str, str]]
    files: list[tuple[int, str, str]]
    originals: set[str]  # stems NAME that have a NAME_converted.EXT beside them
    videos: list[str]  # names of the videos among `files` that are not Frame Shift outputs, in name order


def sorted_groups(
    folder: Path,
    roots: list[Path],
    sort: str,
    videos_only: bool,
    needle: str,
    *,
    show_hidden: bool = False,
    hide_converted: bool = False,
) -> FolderOrder:
    """Return the folder's entries that the search and the filters keep, in ascending (natural) order.

    hide_converted leaves out Frame Shift's outputs and the sources that have one beside them (the caller also
    leaves out sources a job converted elsewhere: app/services/files.py).

    The result is reused for STAT_TTL seconds while the folder's mtime is unchanged (adding, removing or renaming an
    entry changes it), so paging through 10,000 files does not list and sort them again for every page.
    """
    try:
        dir_mtime = os.stat(folder).st_mtime_ns
    except OSError:
        dir_mtime = -1
    key, now = (str(folder), sort, videos_only, needle, show_hidden, hide_converted), time.monotonic()
    with _cache_lock:
        cached = _order_cache.get(key)
    if cached is not None and cached[0] == dir_mtime and now - cached[1] < STAT_TTL:
        return cached[2]
    try:
        items = scan_names(folder, roots, show_hidden)
    except PermissionError:
        raise ServiceError(f"path: Frame Shift may not read {folder}; check its permissions", field="path") from None
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(
            f"path: {folder} is gone (moved or deleted, or the media folder is not mounted)", field="path"
        ) from None
    originals = {original_stem(n) for n, d in items if not d and CONVERTED_SUFFIX in n} - {None}
    if needle:
        matches = name_matcher(needle)
        items = [(n, d) for n, d in items if matches(n)]
    if hide_converted:
        items = [(n, d) for n, d in items if d or not (is_converted_output(n) or os.path.splitext(n)[0] in originals)]
    if videos_only:
        items = [(n, d) for n, d in items if d or is_video_name(n)]
    if sort == "name":
        dirs = sorted([(0, natural_key(n), n) for n, d in items if d])
        files = sorted([(0, natural_key(n), n) for n, d in items if not d])
    else:
        stats = stat_names(folder, [n for n, _ in items])
        pick = 0 if sort == "size" else 1
        dirs = sorted([(0 if pick == 0 else stats[n][1], natural_key(n), n) for n, d in items if d])
        files = sorted([(stats[n][pick], natural_key(n), n) for n, d in items if not d])
    videos = sorted(
        (n for n, d in items if not d and is_video_name(n) and not is_converted_output(n)),
        key=lambda n: (natural_key(n), n),
    )
    order = FolderOrder(dirs, files, originals, videos)
    with _cache_lock:
        _order_cache[key] = (dir_mtime, now, order)
        _order_cache.move_to_end(key)
        while len(_order_cache) > STAT_CACHE_FOLDERS:
            _order_cache.popitem(last=False)
    return order
