"""The server-side selection of files a browser session is about to configure."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete

from app.extensions import db
from app.models import Selection, utcnow
from app.services.errors import ServiceError
from app.services.files import resolve_folder
from app.services.folder_scan import is_converted_output, is_hidden, sorted_groups
from app.services.jobs import MAX_BATCH
from tasks.paths import VIDEO_EXTENSIONS, PathError, resolve_inside

# Selections of browser sessions that have not changed for this long are deleted when a new one starts.
KEEP_FOR = timedelta(days=30)


def videos_under(path: str, roots: list[Path], limit: int) -> list[str]:
    """Return every video file in a folder and its subfolders (not hidden, not already a converted output)."""
    folder = resolve_folder(path, roots)
    found: list[str] = []
    for current, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not is_hidden(d))
        for name in sorted(files):
            if is_hidden(name) or is_converted_output(name):
                continue
            if os.path.splitext(name)[1].lower() not in VIDEO_EXTENSIONS:
                continue
            candidate = os.path.join(current, name)
            try:
                resolved = resolve_inside(candidate, roots)
            except PathError:
                continue  # a symlink leading outside the media roots
            if resolved.is_file():
                found.append(str(resolved))
            if len(found) > limit:
                raise ServiceError(f"{path} holds more than {limit} videos; select a smaller folder", field="folders")
    return found


def matching_videos(path: str, roots: list[Path], search: str, limit: int) -> list[str]:
    """Return every video of one folder (not its subfolders) whose name contains the search text."""
    folder = resolve_folder(path, roots)
    names = sorted_groups(folder, roots, "name", False, search.strip().casefold()).videos
    if len(names) > limit:
        raise ServiceError(f"{len(names)} videos match; at most {limit} can be selected at once", field="matching")
    return [str(folder / name) for name in names]


def get_selection(selection_id: str | None) -> list[str]:
    """Return the selected paths in the order they were picked (empty for an unknown id)."""
    row = db.session.get(Selection, selection_id) if selection_id else None
    return list(row.paths) if row else []


def _file(raw: object, roots: list[Path]) -> str:
    if not isinstance(raw, str):
        raise ServiceError("add: give file paths as strings", field="add")
    try:
        path = resolve_inside(raw, roots)
    except PathError as exc:
        raise ServiceError(f"add: {exc}", field="add") from None
    if not path.is_file():
        raise ServiceError(f"add: {raw} is not a file; use 'folders' to select a folder's videos", field="add")
    return str(path)


def change_selection(
    selection_id: str | None,
    roots: list[Path],
    *,
    add: list | None = None,
    remove: list | None = None,
    folders: list | None = None,
    matching: dict | None = None,
    clear: bool = False,
) -> tuple[str, list[str]]:
    """Apply additions, removals and recursive folder picks; return the (possibly new) id and the paths."""
    for name, value in (("add", add), ("remove", remove), ("folders", folders)):
        if value is not None and not isinstance(value, list):
            raise ServiceError(f"{name}: give a list of paths", field=name)
    row = db.session.get(Selection, selection_id) if selection_id else None
    if row is None:
        db.session.execute(delete(Selection).where(Selection.updated_at < utcnow() - KEEP_FOR))
        row = Selection(id=str(uuid.uuid4()), paths=[])
        db.session.add(row)
    current: dict[str, None] = {} if clear else dict.fromkeys(row.paths or [])
    for raw in add or []:
        current[_file(raw, roots)] = None
    for raw in folders or []:
        if not isinstance(raw, str):
            raise ServiceError("folders: give folder paths as strings", field="folders")
        current.update(dict.fromkeys(videos_under(raw, roots, MAX_BATCH)))
    if matching is not None:
        if not isinstance(matching, dict) or not isinstance(matching.get("path"), str):
            raise ServiceError('matching: give {"path": folder, "q": search text}', field="matching")
        found = matching_videos(matching["path"], roots, str(matching.get("q") or ""), MAX_BATCH)
        current.update(dict.fromkeys(found))
    for raw in remove or []:
        current.pop(str(raw), None)
        try:
            current.pop(str(resolve_inside(str(raw), roots, must_exist=False)), None)
        except PathError:
            pass
    if len(current) > MAX_BATCH:
        raise ServiceError(f"at most {MAX_BATCH} files can be selected at once; pick fewer", field="add")
    row.paths = list(current)
    db.session.commit()
    return row.id, row.paths


def clear_selection(selection_id: str | None) -> None:
    """Forget a selection (after its jobs were created)."""
    row = db.session.get(Selection, selection_id) if selection_id else None
    if row is not None:
        row.paths = []
        db.session.commit()


def drop_missing(selection_id: str | None) -> list[str]:
    """Take files that were deleted or moved since they were picked out of the selection; return them."""
    row = db.session.get(Selection, selection_id) if selection_id else None
    if row is None:
        return []
    gone = [p for p in row.paths or [] if not os.path.isfile(p)]
    if gone:
        row.paths = [p for p in row.paths if p not in set(gone)]
        db.session.commit()
    return gone
