"""Creating, changing, previewing and deleting libraries; asking for a rescan."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from app.extensions import db
from app.models import Preset, utcnow
from app.models.library import Library, LibraryFile, MediaFacts
from app.services import library_rules as rules_mod
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.jobs import checked_output_folder, media_roots, validate_spec
from app.services.library_walk import walk
from app.services.live import wake_dispatcher
from tasks.paths import PathError, resolve_inside

HOURS = 7 * 24
DEFAULTS: dict[str, Any] = {
    "output_policy": "beside",
    "recycle_days": 7,
    "min_saving_percent": 5,
    "scan_minutes": 60,
    "watch": "events",
    "enabled": True,
}
PREVIEW_LIMIT = 2000
# Where a library's output goes is its output policy, not part of its spec.
NOT_IN_SPEC = ("output_dir", "if_exists", "extra")


def get_library(library_id: int) -> Library:
    """Return one library or raise NotFound."""
    library = db.session.get(Library, library_id)
    if library is None:
        raise NotFound(f"library {library_id} does not exist")
    return library


def list_libraries() -> list[Library]:
    """Every library, by name."""
    return list(db.session.execute(select(Library).order_by(Library.name)).scalars())


def library_folder(text: str) -> Path:
    """A library's folder by the one path rule: an existing folder inside the media roots (400 on folder)."""
    try:
        folder = resolve_inside(text, media_roots())
    except PathError as exc:
        raise ServiceError(f"folder: {exc}", field="folder") from None
    if not folder.is_dir():
        raise ServiceError(f"folder: {text} is not a folder", field="folder")
    return folder


def _no_overlap(folder: Path, except_id: int | None) -> None:
    for other in list_libraries():
        if other.id == except_id:
            continue
        theirs = Path(other.folder)
        if folder == theirs or theirs in folder.parents or folder in theirs.parents:
            raise Conflict(
                f"folder: it overlaps library {other.name!r} ({other.folder}); a file belongs to one library",
                field="folder",
            )


def _spec(values: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The spec to store: a preset's (by name) or the given settings, checked by tasks/spec.py."""
    if values.get("preset"):
        preset = db.session.execute(select(Preset).where(Preset.name == values["preset"])).scalar()
        if preset is None:
            from app.services.presets import ensure_builtin_presets

            ensure_builtin_presets()
            preset = db.session.execute(select(Preset).where(Preset.name == values["preset"])).scalar()
        if preset is None:
            raise ServiceError(f"preset: there is no preset called {values['preset']!r}", field="preset")
        data, name = dict(preset.spec), preset.name
    else:
        data, name = dict(values.get("spec") or {}), None
    for key in NOT_IN_SPEC:
        data.pop(key, None)
    spec = validate_spec(data).to_dict()
    for key in NOT_IN_SPEC:
        spec.pop(key, None)
    return spec, name


def _apply(library: Library, values: dict[str, Any]) -> None:
    if "name" in values:
        name = " ".join(str(values["name"]).split())
        if not name:
            raise ServiceError("name: give the library a name", field="name")
        other = db.session.execute(select(Library).where(Library.name == name)).scalar()
        if other is not None and other.id != library.id:
            raise Conflict(f"name: a library called {name!r} already exists", field="name")
        library.name = name
    if "folder" in values:
        folder = library_folder(values["folder"])
        _no_overlap(folder, library.id)
        library.folder = str(folder)
    if "spec" in values or "preset" in values or library.spec is None:
        library.spec, library.preset = _spec(values)
    if "rules" in values or library.rules is None:
        given = {k: v for k, v in (values.get("rules") or {}).items() if v is not None}
        library.rules = rules_mod.full_rules({**(library.rules or {}), **given})
    for key in ("output_policy", "recycle_days", "min_saving_percent", "scan_minutes", "watch", "enabled"):
        if values.get(key) is not None:
            setattr(library, key, values[key])
        elif getattr(library, key) is None:
            setattr(library, key, DEFAULTS[key])
    if "schedule" in values:
        hours = values["schedule"]
        library.schedule = None if hours is None or all(hours) else [1 if h else 0 for h in hours]
    if "output_dir" in values:
        library.output_dir = (
            str(checked_output_folder(values["output_dir"], media_roots())) if values["output_dir"] else None
        )
    if library.output_policy == "folder" and not library.output_dir:
        raise ServiceError("output_dir: the folder policy needs an output folder", field="output_dir")


def create_library(values: dict[str, Any]) -> Library:
    """Save a new library; the monitor scans it at once."""
    for required in ("name", "folder"):
        if not values.get(required):
            raise ServiceError(f"{required}: is required", field=required)
    library = Library(spec=None, rules=None, scan_requested_at=utcnow())
    _apply(library, values)
    db.session.add(library)
    db.session.commit()
    wake_dispatcher()  # the monitor looks at its libraries at once (with none, it looks only every few seconds)
    return library


def update_library(library_id: int, values: dict[str, Any]) -> Library:
    """Change some of a library's settings; a changed folder or rule makes the monitor scan it again."""
    library = get_library(library_id)
    _apply(library, values)
    library.scan_requested_at = utcnow()
    db.session.commit()
    wake_dispatcher()
    return library


def delete_library(library_id: int) -> None:
    """Forget a library and what it remembered of its files; its jobs and files stay."""
    library = get_library(library_id)
    db.session.execute(delete(LibraryFile).where(LibraryFile.library_id == library.id))
    db.session.delete(library)
    db.session.commit()


def request_rescan(library_id: int, requeue: str | None) -> dict[str, Any]:
    """Ask the monitor to scan now; requeue failed/skipped/all forgets those outcomes first."""
    library = get_library(library_id)
    forgotten = 0
    states = {"failed": ["failed"], "skipped": ["skipped"], "all": ["failed", "skipped", "converted"]}.get(
        requeue or "changed", []
    )
    if states:
        forgotten = db.session.execute(
            delete(LibraryFile).where(LibraryFile.library_id == library.id, LibraryFile.state.in_(states))
        ).rowcount
    library.scan_requested_at = utcnow()
    db.session.commit()
    wake_dispatcher()
    return {"library": library.to_dict(), "forgotten": forgotten}


def facts_for(paths: list[str]) -> dict[str, MediaFacts]:
    """Cached media facts by path (the caller checks size and mtime)."""
    found: dict[str, MediaFacts] = {}
    for i in range(0, len(paths), 500):
        chunk = paths[i : i + 500]
        found.update(
            {f.path: f for f in db.session.execute(select(MediaFacts).where(MediaFacts.path.in_(chunk))).scalars()}
        )
    return found


def as_facts(row: MediaFacts | None, size: int, mtime_ns: int) -> rules_mod.Facts | None:
    """The facts of a row while the file is unchanged, else None."""
    if row is None or row.size != size or row.mtime_ns != mtime_ns:
        return None
    return rules_mod.Facts(
        row.container, row.video_codec, row.bit_depth, row.width, row.height, row.duration, row.bitrate, row.error
    )


def preview(values: dict[str, Any], library_id: int | None = None) -> dict[str, Any]:
    """Which files these settings would queue, skip (and why) or hold for facts; nothing is saved."""
    draft = Library(spec=None, rules=None)
    if library_id is not None:
        saved = get_library(library_id)
        for key in ("name", "folder", "spec", "preset", "rules", "output_policy", "output_dir"):
            setattr(draft, key, getattr(saved, key))
        values = {k: v for k, v in values.items() if k not in ("name",)}
    else:
        values = {**values, "name": values.get("name") or "preview"}
        if not values.get("folder"):
            raise ServiceError("folder: is required", field="folder")
    with db.session.no_autoflush:
        _apply_preview(draft, values)
    remembered = {}
    if library_id is not None:
        remembered = {
            f.path: f
            for f in db.session.execute(select(LibraryFile).where(LibraryFile.library_id == library_id)).scalars()
        }
    listed = []
    try:
        for seen in walk(draft.folder):
            listed.append(seen)
            if len(listed) >= PREVIEW_LIMIT:
                break
    except OSError as exc:
        raise ServiceError(f"folder: cannot be read ({exc.strerror or exc})", field="folder") from None
    facts = facts_for([s.path for s in listed])
    groups: dict[str, list[dict[str, Any]]] = {"queue": [], "skip": [], "wait": [], "done": []}
    for seen in listed:
        known = remembered.get(seen.path)
        if (
            known is not None
            and known.size == seen.size
            and known.mtime_ns == seen.mtime_ns
            and known.state != "pending"
        ):
            groups["done"].append(
                {"path": seen.relative, "reason": f"{known.state}" + (f": {known.reason}" if known.reason else "")}
            )
            continue
        decision = rules_mod.decide(
            seen.relative, seen.size, as_facts(facts.get(seen.path), seen.size, seen.mtime_ns), draft.rules, draft.spec
        )
        groups[decision.action].append({"path": seen.relative, "reason": decision.reason})
    return {
        "folder": draft.folder,
        "listed": len(listed),
        "truncated": len(listed) >= PREVIEW_LIMIT,
        "counts": {k: len(v) for k, v in groups.items()},
        **{k: v[:500] for k, v in groups.items()},
    }


def _apply_preview(draft: Library, values: dict[str, Any]) -> None:
    """Check values on a library that is never added to the session."""
    if "folder" in values:
        draft.folder = str(library_folder(values["folder"]))
    if "spec" in values or "preset" in values or draft.spec is None:
        draft.spec, draft.preset = _spec(values)
    if "rules" in values or draft.rules is None:
        given = {k: v for k, v in (values.get("rules") or {}).items() if v is not None}
        draft.rules = rules_mod.full_rules({**(draft.rules or {}), **given})
    if not os.path.isdir(draft.folder):
        raise ServiceError(f"folder: {draft.folder} is not a folder (any more)", field="folder")
