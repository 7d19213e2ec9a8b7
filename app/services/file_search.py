"""Search a folder and every folder below it by name, bounded, never leaving the media roots."""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

from app.services.file_filters import converted_by_jobs, name_matcher, natural_key, shown
from app.services.files import Entry, Listing, breadcrumbs, resolve_folder
from app.services.folder_scan import is_converted_output, is_video_name, original_stem
from tasks.paths import inside, root_of

SEARCH_LIMIT = 500  # matches shown; the page says when there were more
MAX_VISITED = 200_000  # entries looked at, so a search of a huge tree answers in about a second


def search_tree(
    path: str | None,
    roots: list[Path],
    search: str,
    *,
    videos_only: bool = False,
    show_hidden: bool = False,
    hide_converted: bool = False,
    limit: int | None = None,
    max_visited: int | None = None,
) -> Listing:
    """Return the entries under a folder whose names match (`*` and `?` patterns or part of a name), breadth first.

    Symlinked folders are not followed and a symlink leading outside the media roots is left out (the one rule,
    tasks.paths.inside); Frame Shift's private folders are never listed. Stops after `limit` matches or
    `max_visited` entries and says so in `truncated`.
    """
    limit, max_visited = limit or SEARCH_LIMIT, max_visited or MAX_VISITED
    folder = resolve_folder(path, roots)
    root = root_of(folder, roots) or folder
    matches = name_matcher(search)
    found: list[Entry] = []
    truncated = None
    visited = 0
    pending: deque[Path] = deque([folder])
    while pending and truncated is None:
        current = pending.popleft()
        try:
            with os.scandir(current) as it:
                items = sorted(it, key=lambda item: natural_key(item.name))
        except OSError:
            continue  # unreadable or gone while searching
        stems = {original_stem(item.name) for item in items} - {None}
        for item in items:
            visited += 1
            if visited > max_visited:
                truncated = f"stopped after looking at {max_visited:,} names; search a smaller folder"
                break
            name = item.name
            if not shown(name, show_hidden):
                continue
            try:
                link = item.is_symlink()
                if link and not inside(Path(item.path).resolve(), roots):
                    continue
                is_dir = item.is_dir()
            except OSError:
                continue
            if is_dir and not link:
                pending.append(Path(item.path))
            video = not is_dir and is_video_name(name)
            output = video and is_converted_output(name)
            converted = video and os.path.splitext(name)[0] in stems
            if not matches(name) or (videos_only and not is_dir and not video):
                continue
            if hide_converted and (output or converted):
                continue
            try:
                st = item.stat()
                size, mtime_ns = st.st_size, st.st_mtime_ns
            except OSError:
                size, mtime_ns = 0, 0
            label = os.path.relpath(item.path, folder)
            found.append(Entry(label, item.path, is_dir, size, mtime_ns, video, converted, output=output))
            if len(found) >= limit:
                truncated = f"showing the first {limit} matches; type more of the name to narrow the search"
                break
    if hide_converted:
        done = converted_by_jobs(e.path for e in found if e.video)
        found = [e for e in found if e.path not in done]
    found.sort(key=lambda e: (not e.is_dir, natural_key(e.name)))
    videos = sum(1 for e in found if e.video and not e.output)
    return Listing(
        folder=folder,
        root=root,
        crumbs=breadcrumbs(folder, root),
        entries=found,
        total=len(found),
        videos_only=videos_only,
        search=search.strip(),
        roots=list(roots),
        file_count=sum(1 for e in found if not e.is_dir),
        video_count=videos,
        show_hidden=show_hidden,
        hide_converted=hide_converted,
        deep=True,
        truncated=truncated,
    )
