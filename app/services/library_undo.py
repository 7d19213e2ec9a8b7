"""Undo a library's replacement from the job page: the original comes back, the output is kept aside.

Runs in the web process (POST /api/jobs/ID/undo-replace). Order: every check first (nothing moves
when one fails: a 409 says what is wrong and what to do), then the row is claimed (`replaced` ->
`undoing`, committed; a purge at the same moment either wins or loses cleanly), then the files move
(recycle.undo_forward: the output gets the name NAME_converted.EXT, the original its own name back
with one rename), then `undone` is committed with the library file back at the original's path as
`skipped`, so the library does not convert it again until the person asks (Rescan, requeue=skipped).
A crash while moving leaves `undoing`; the monitor's housekeeping finishes it a minute later.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from app.extensions import db
from app.models import Job, utcnow
from app.models.library import Library, LibraryFile, Replacement
from app.services import live, recycle
from app.services.errors import Conflict
from app.services.library_replace import note_on_job
from app.services.library_walk import fingerprint

log = logging.getLogger("frameshift.libraries")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "an unknown time"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() + "Z" if moment else None


def latest(job_id: int) -> Replacement | None:
    """The job's last replacement, if its library replaced (or tried to replace) the original."""
    query = select(Replacement).where(Replacement.job_id == job_id).order_by(Replacement.id.desc())
    return db.session.execute(query).scalars().first()


def describe(job: Job) -> dict[str, Any] | None:
    """What the library did with the job's output, for the job page and GET /api/jobs/ID (None: nothing)."""
    note = (job.result or {}).get("library") if isinstance(job.result, dict) else None
    rep = latest(job.id)
    if rep is None and not note:
        return None
    data: dict[str, Any] = {"outcome": None, "note": None, "state": None, "can_undo": False}
    if isinstance(note, dict):
        data.update(outcome=note.get("outcome"), note=note.get("note"))
    if rep is not None:
        data.update(
            state=rep.state,
            original=rep.original_path,
            recycled=rep.recycled_path,
            output=rep.output_path,
            kept=rep.kept_path,
            expires_at=_iso(rep.expires_at),
            undone_at=_iso(rep.undone_at),
            can_undo=rep.state == "replaced" and rep.expires_at is not None and rep.expires_at > utcnow(),
        )
    return data


def _refuse_state(rep: Replacement) -> None:
    """A 409 naming why this replacement cannot be undone now, or nothing."""
    if rep.state == "undone":
        kept = f"; the output was kept as {rep.kept_path}" if rep.kept_path else ""
        raise Conflict(f"already undone at {_when(rep.undone_at)}: the original is back at {rep.original_path}{kept}")
    if rep.state == "purged" or (rep.state == "replaced" and (rep.expires_at is None or rep.expires_at <= utcnow())):
        raise Conflict(
            f"the recycle period ended at {_when(rep.expires_at)}: the original was deleted from the recycle folder "
            f"(or is being deleted), so it cannot be brought back; the converted file stays at {rep.output_path}"
        )
    if rep.state in ("replacing", "undoing"):
        raise Conflict(f"this replacement is being changed right now ({rep.state}); reload the page in a few seconds")
    if rep.state == "failed":
        raise Conflict(rep.note or "the replacement failed, so there is nothing to undo")


def _size(path: str | None) -> int | None:
    try:
        return os.stat(path).st_size if path else None
    except OSError:
        return None


def _check_files(rep: Replacement) -> None:
    """Refuse (409) when someone changed the files since the replacement: undoing could lose their work."""
    recycled, target = rep.recycled_path, rep.output_path
    by_hand = f"bring the original back by hand from {recycled} if you still want it"
    size = _size(recycled)
    if size is None:
        raise Conflict(
            f"the original is no longer in the recycle folder ({recycled}): someone moved or deleted it, "
            "so there is nothing to bring back"
        )
    if size != rep.original_size:
        raise Conflict(
            f"the original in the recycle folder was changed since the replacement ({size} bytes, it had "
            f"{rep.original_size}); {by_hand}"
        )
    size = _size(target)
    if size is None:
        raise Conflict(f"the converted file {target} is gone (someone moved or deleted it); {by_hand}")
    if size != rep.output_size:
        raise Conflict(
            f"the file at {target} was changed since the replacement ({size} bytes, the output had "
            f"{rep.output_size}); undoing would throw those changes away: {by_hand}"
        )
    if not recycle.is_same_name(rep.original_path, target) and recycle.exists(rep.original_path):
        raise Conflict(f"a file now has the original's name ({rep.original_path}); move it away and undo again")


def undo(job: Job) -> dict[str, Any]:
    """Put the original back and keep the output as NAME_converted.EXT; 409 with the reason when it cannot."""
    rep = latest(job.id)
    if rep is None:
        raise Conflict(
            f"job {job.id} replaced no original (its output was kept beside it, thrown away, or it is not a "
            "library job with output policy replace): there is nothing to undo"
        )
    _refuse_state(rep)
    _check_files(rep)
    now = utcnow()
    kept = recycle.kept_path(rep.original_path, rep.output_path)
    claimed = db.session.execute(
        update(Replacement)
        .where(Replacement.id == rep.id, Replacement.state == "replaced", Replacement.expires_at > now)
        .values(state="undoing", undone_at=now, kept_path=kept)
    ).rowcount
    db.session.commit()
    db.session.refresh(rep)
    if not claimed:
        _refuse_state(rep)
        raise Conflict("this replacement changed while it was being undone; reload the page and try again")
    finish_undo(rep)
    if rep.state != "undone":
        raise Conflict(rep.note or "the files could not be moved back; nothing was changed")
    return describe(job) or {}


def finish_undo(rep: Replacement) -> None:
    """Move the files of an `undoing` row and record the outcome; on a move that fails, put them back as replaced."""
    try:
        recycle.undo_forward(rep.original_path, rep.recycled_path, rep.output_path, rep.kept_path)
    except OSError as exc:
        why = f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc)
        try:
            recycle.replace_forward(rep.original_path, rep.recycled_path, rep.kept_path, rep.output_path)
            rep.state, rep.undone_at, rep.kept_path = "replaced", None, None
            rep.note = f"the files could not be moved back ({why}); nothing was changed, try again later"
        except OSError as again:
            rep.state = "failed"
            rep.note = (
                f"undo stopped halfway ({why}; then {again.strerror or again}): the original is at "
                f"{rep.original_path if recycle.exists(rep.original_path) else rep.recycled_path}, the output at "
                f"{rep.kept_path if recycle.exists(rep.kept_path) else rep.output_path}"
            )
        log.warning("library: undo of %s: %s", rep.original_path, rep.note)
        db.session.commit()
        return
    rep.state, rep.note = "undone", None
    _forget_replacement(rep)
    job = db.session.get(Job, rep.job_id)
    if job is not None:
        note_on_job(
            job,
            "undone",
            f"undone: the original is back at {rep.original_path}; the output was kept as {rep.kept_path}",
        )
    db.session.commit()
    log.info("library: undid the replacement of %s (output kept as %s)", rep.original_path, rep.kept_path)
    if job is not None:
        live.publish(live.live_message(job))


def _forget_replacement(rep: Replacement) -> None:
    """The library file is the original again, at its own path, `skipped` so it is not converted again."""
    if rep.library_id is None or db.session.get(Library, rep.library_id) is None:
        return  # the library was deleted: nothing remembers the file
    st = os.stat(rep.original_path)
    row = db.session.execute(
        select(LibraryFile).where(LibraryFile.library_id == rep.library_id, LibraryFile.job_id == rep.job_id)
    ).scalar()
    db.session.execute(
        delete(LibraryFile).where(
            LibraryFile.library_id == rep.library_id,
            LibraryFile.path == rep.original_path,
            LibraryFile.id != (row.id if row is not None else -1),
        )
    )
    if row is None:
        row = LibraryFile(library_id=rep.library_id, path=rep.original_path, size=0, mtime_ns=0, job_id=rep.job_id)
        db.session.add(row)
        db.session.flush()
    row.path, row.size, row.mtime_ns = rep.original_path, st.st_size, st.st_mtime_ns
    row.fingerprint, row.state = fingerprint(rep.original_path, st.st_size), "skipped"
    row.reason = (
        f"replacement undone at {_when(rep.undone_at)}; not converted again unless you ask "
        "(Rescan with requeue=skipped)"
    )
