"""Output policy `replace` in the monitor: the output takes the original's place, the original waits in the recycle folder.

`on_success(row)` runs when the monitor records a library job's success (library_files.record_outcomes);
`housekeep()` runs every scanner round: it finishes a replacement or an undo that a crash interrupted
and deletes originals whose recycle period is over. Order of commits and renames:

1. commit a Replacement row in state `replacing` naming P (original), R (recycle name), T (target);
2. move the files (app/services/recycle.py: link P to R, rename the output onto T, unlink P);
3. commit state `replaced` with the library file's new path, size, mtime and fingerprint.

A crash between 1 and 3 leaves the row in `replacing`; the next round runs step 2 again (each move
looks first) and then step 3. docs/libraries.md ("Replace the original") has the decisions.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from sqlalchemy import delete, select, update

from app.extensions import db
from app.models import Job, utcnow
from app.models.library import Library, LibraryFile, Replacement
from app.services import live, recycle
from app.services.library_walk import fingerprint

log = logging.getLogger("frameshift.libraries")
NOT_SMALLER = "output not smaller"
UNDO_STALE = 60  # seconds


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.2f} MB"


def note_on_job(job: Job, outcome: str, text: str, **more: object) -> None:
    """Say on the job (its result, shown on the job page and in GET /api/jobs/ID) what the library did."""
    job.result = {**(job.result or {}), "library": {"outcome": outcome, "note": text, **more}}


def _announce(job: Job) -> None:
    """Tell open job pages to read the job again (after the commit)."""
    live.publish(live.live_message(job))


def smaller_enough(original_size: int, output_size: int, percent: float) -> bool:
    """The library's "keep only if smaller by at least X %" rule (0: any output not bigger)."""
    return output_size <= original_size * (1 - max(0.0, percent) / 100)


def on_success(row: LibraryFile) -> None:
    """Replace the original of a library file whose job succeeded, when its library's policy is replace."""
    try:
        _replace(row)
    except OSError as exc:  # a file that cannot be read or stat'ed: leave both files where they are
        row.state, row.reason = "converted", f"not replaced: {exc.strerror or exc} ({exc.filename})"
        log.warning("library: %s: %s", row.path, row.reason)


def _replace(row: LibraryFile) -> None:
    library = db.session.get(Library, row.library_id)
    job = db.session.get(Job, row.job_id) if row.job_id else None
    if library is None or job is None or library.output_policy != "replace":
        return
    if db.session.execute(select(Replacement.id).where(Replacement.job_id == job.id)).first():
        return  # already under way or done (housekeep finishes an interrupted one)
    original, output = job.input_path, job.output_path
    refused = _refusal(row, job, original, output)
    if refused is not None:
        row.state, row.reason = refused
        note_on_job(job, "not replaced", refused[1])
        log.warning("library %s: %s: %s", library.name, original, refused[1])
        return
    original_size, output_size = os.stat(original).st_size, os.stat(output).st_size
    if not smaller_enough(original_size, output_size, library.min_saving_percent):
        _discard(library, row, job, original_size, output_size)
        return
    target = recycle.target_path(original, output)
    if not recycle.is_same_name(original, target) and recycle.exists(target):
        reason = (
            f"not replaced: {os.path.basename(target)} already exists beside the original (another file; "
            f"it is never overwritten); the output stays at {output}"
        )
        row.reason = reason
        note_on_job(job, "not replaced", reason)
        return
    days = max(0, library.recycle_days)
    rep = Replacement(
        library_id=library.id,
        job_id=job.id,
        original_path=original,
        output_path=target,
        original_size=original_size,
        output_size=output_size,
        state="replacing",
        expires_at=utcnow() + timedelta(days=days),
    )
    db.session.add(rep)
    db.session.flush()
    rep.recycled_path = recycle.recycle_path(library.folder, rep.id, original)
    db.session.commit()  # 1. the plan is recorded before any file moves
    finish(rep)


def _refusal(row: LibraryFile, job: Job, original: str, output: str) -> tuple[str, str] | None:
    """Why this output must not replace its original (state, reason), or None."""
    try:
        out = os.stat(output)
    except OSError:
        return "failed", f"not replaced: the output {output} is gone"
    if job.output_size is not None and out.st_size != job.output_size:
        return "failed", (
            f"not replaced: the output changed after it was verified ({out.st_size} bytes, verified {job.output_size})"
        )
    if os.path.dirname(output) != os.path.dirname(original):
        return "converted", "not replaced: the output was written to another folder (queued under another policy)"
    try:
        now = os.stat(original)
    except OSError:
        return "converted", f"not replaced: the original is gone; the output stays at {output}"
    if (now.st_size, now.st_mtime_ns) != (row.size, row.mtime_ns):
        return "converted", f"not replaced: the original changed while it was converted; the output stays at {output}"
    return None


def _discard(library: Library, row: LibraryFile, job: Job, original_size: int, output_size: int) -> None:
    """Throw an output away that is not smaller enough; the original is not touched.

    Recorded first, deleted after: a crash between leaves a NAME_converted file (never scanned), not a
    queued file whose output is gone."""
    needed = f"at least {library.min_saving_percent:g}% smaller" if library.min_saving_percent else "not bigger"
    reason = f"{NOT_SMALLER}: {_mb(output_size)} against the original's {_mb(original_size)} ({needed} was asked)"
    row.state, row.reason = "skipped", reason
    note_on_job(job, "kept original", reason + "; the output was deleted and the original kept")
    log.info("library %s: %s: %s", library.name, job.input_path, reason)
    db.session.commit()
    try:
        os.unlink(job.output_path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("library %s: could not delete the output %s: %s", library.name, job.output_path, exc)
    _announce(job)


def finish(rep: Replacement) -> None:
    """Move the files of a `replacing` row and record the outcome (2. and 3.); safe to run again."""
    job = db.session.get(Job, rep.job_id)
    output = job.output_path if job is not None else ""
    try:
        recycle.replace_forward(rep.original_path, rep.recycled_path, output, rep.output_path)
    except OSError as exc:
        _fail(rep, job, exc)
        return
    row = _library_row(rep)
    if row is not None:
        _record_output(rep, row)
    rep.state = "replaced"
    if job is not None:
        note_on_job(job, "replaced", f"the output took the original's place at {rep.output_path}")
    db.session.commit()  # 3.
    log.info("library: %s replaced by %s; original kept at %s", rep.original_path, rep.output_path, rep.recycled_path)
    if rep.expires_at is not None and rep.expires_at <= utcnow():
        purge(rep)  # recycle_days = 0: the original goes at once
    if job is not None:
        _announce(job)


def _library_row(rep: Replacement) -> LibraryFile | None:
    """The library's row of the replaced file (by its job; made again if a rescan forgot it); None: no library."""
    if rep.library_id is None or db.session.get(Library, rep.library_id) is None:
        return None
    row = db.session.execute(
        select(LibraryFile).where(LibraryFile.library_id == rep.library_id, LibraryFile.job_id == rep.job_id)
    ).scalar()
    if row is None:
        row = LibraryFile(library_id=rep.library_id, path=rep.output_path, size=0, mtime_ns=0, job_id=rep.job_id)
        db.session.add(row)
        db.session.flush()
    return row


def _record_output(rep: Replacement, row: LibraryFile) -> None:
    """The library file is now the output, at the original's place: converted, so it is never queued again."""
    st = os.stat(rep.output_path)
    if rep.output_path != rep.original_path:
        db.session.execute(
            delete(LibraryFile).where(
                LibraryFile.library_id == rep.library_id,
                LibraryFile.path == rep.output_path,
                LibraryFile.id != (row.id or -1),
            )
        )
    until = rep.expires_at.strftime("%Y-%m-%d %H:%M UTC") if rep.expires_at else ""
    row.path, row.size, row.mtime_ns = rep.output_path, st.st_size, st.st_mtime_ns
    row.fingerprint, row.state = fingerprint(rep.output_path, st.st_size), "converted"
    kept = f"kept in the recycle folder until {until}" if rep.expires_at and rep.expires_at > utcnow() else "deleted"
    row.reason = f"replaced the original ({kept})"


def _fail(rep: Replacement, job: Job | None, exc: OSError) -> None:
    """Put every file back where it was and record why the replacement did not happen."""
    output = job.output_path if job is not None else ""
    why = f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc)
    try:
        recycle.replace_backward(rep.original_path, rep.recycled_path, output, rep.output_path)
        if not recycle.exists(rep.recycled_path):  # never delete an original that is still only there
            recycle.remove_recycled(recycle.library_folder_of(rep.recycled_path, rep.id), rep.id, None)
        note = f"not replaced: {why}; the original stays at {rep.original_path}, the output at {output}"
    except OSError as again:
        note = (
            f"not replaced: {why}; putting the files back failed too ({again.strerror or again}): the original is at "
            f"{rep.recycled_path if recycle.exists(rep.recycled_path) else rep.original_path}, the output at "
            f"{output if recycle.exists(output) else rep.output_path}"
        )
    log.warning("library: %s", note)
    rep.state, rep.note = "failed", note
    row = _library_row(rep)
    if row is not None:
        row.state, row.reason = "converted", note
    if job is not None:
        note_on_job(job, "not replaced", note)
    db.session.commit()


def purge(rep: Replacement) -> None:
    """Delete an original whose recycle period is over (claimed first, so an undo at the same moment loses)."""
    claimed = db.session.execute(
        update(Replacement).where(Replacement.id == rep.id, Replacement.state == "replaced").values(state="purged")
    ).rowcount
    db.session.commit()
    if not claimed:
        return
    folder = recycle.library_folder_of(rep.recycled_path or "", rep.id)
    try:
        recycle.remove_recycled(folder, rep.id, rep.recycled_path)
    except OSError as exc:
        log.warning("library: could not delete %s from the recycle folder: %s", rep.recycled_path, exc)
        return
    log.info("library: recycle period over; deleted %s", rep.recycled_path)


def housekeep(limit: int = 100) -> None:
    """Finish replacements and undos a crash interrupted; delete originals whose recycle period is over."""
    from app.services.library_undo import finish_undo

    # An undo is the web's while it runs; one still `undoing` after UNDO_STALE was cut off by a crash.
    stale = utcnow() - timedelta(seconds=UNDO_STALE)
    interrupted = select(Replacement).where(
        (Replacement.state == "replacing") | ((Replacement.state == "undoing") & (Replacement.undone_at < stale))
    )
    interrupted = interrupted.limit(limit)
    for rep in db.session.execute(interrupted).scalars().all():
        log.warning("library: finishing an interrupted %s of %s", rep.state, rep.original_path)
        if rep.state == "replacing":
            finish(rep)
        else:
            finish_undo(rep)
    expired = select(Replacement).where(Replacement.state == "replaced", Replacement.expires_at <= utcnow())
    for rep in db.session.execute(expired.limit(limit)).scalars().all():
        purge(rep)
