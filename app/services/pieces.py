"""What the monitor records when a piece of a split job starts, progresses, ends or is lost.

The pieces' counterpart of app/services/outcomes.py: end_piece is the one place deciding how a piece's
attempt ended. These functions change pieces only; app/services/split_jobs.advance draws the job's
consequences (the join, success, failure naming the piece, cancel) on the monitor's next tick.

Every change of a piece is noted (`changed`) and published as one small live message per piece
(app/services/live.piece_message) once its transaction commits: never before, so a browser never shows
a state the database does not hold, and never after a rollback.
"""

from __future__ import annotations

import logging
import shutil
from typing import Any

from flask import current_app
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import JobStatus, utcnow
from app.models.piece import PIECE_ACTIVE, PIECE_FINAL, Piece
from app.services.live import piece_message, publish_many
from app.services.preferences import auto_retry
from tasks.errors import TranscodeCancelled, TranscodeError, TranscodeInterrupted
from tasks.paths import PathError, resolve_inside, temp_folder
from tasks.signing import PayloadRefused

log = logging.getLogger("frameshift.monitor")
S = JobStatus
# A piece stopped by follower shutdowns or refused payloads goes back to the queue this many times, then fails.
MAX_REQUEUES = 5
PENDING, READY = "frameshift_changed_pieces", "frameshift_piece_messages"


class PieceTransitionError(ValueError):
    """A status change that the piece lifecycle does not allow."""


ALLOWED = {
    S.QUEUED.value: {S.DISPATCHED.value, S.CANCELLED.value, S.FAILED.value},
    S.DISPATCHED.value: {S.RUNNING.value, S.SUCCEEDED.value, S.FAILED.value, S.CANCELLED.value, S.QUEUED.value},
    S.RUNNING.value: {S.SUCCEEDED.value, S.FAILED.value, S.CANCELLED.value, S.QUEUED.value},
    S.SUCCEEDED.value: {S.QUEUED.value},  # resume: its file went missing
    S.FAILED.value: {S.QUEUED.value},
    S.CANCELLED.value: {S.QUEUED.value},
}


def changed(piece: Piece) -> None:
    """Note that a piece changed: its live message goes out when the transaction commits."""
    pending = db.session.info.setdefault(PENDING, [])
    if not any(p is piece for p in pending):
        pending.append(piece)


def _build_messages(session: Session) -> None:
    """Before the commit: turn the changed pieces into messages (new rows get their ids first)."""
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    if any(p.id is None for p in pending):
        session.flush()
    alive = [p for p in pending if p.id is not None and not (inspect(p).deleted or inspect(p).was_deleted)]
    session.info.setdefault(READY, []).extend(piece_message(p) for p in alive)


def _publish_messages(session: Session) -> None:
    """After the commit: publish what changed, in one round trip."""
    publish_many(session.info.pop(READY, None) or [])


def _drop_messages(session: Session, _transaction: Any = None) -> None:
    """After a rollback: nothing of it happened."""
    session.info.pop(PENDING, None)
    session.info.pop(READY, None)


def init_app(_flask_app: Any = None) -> None:
    """Publish the changed pieces after each commit of the database session (create_app calls this; importing
    the module registers nothing). db.session is scoped per app context, so a commit is the app in context's."""
    for name, hook in (
        ("before_commit", _build_messages),
        ("after_commit", _publish_messages),
        ("after_soft_rollback", _drop_messages),
    ):
        if not event.contains(db.session, name, hook):
            event.listen(db.session, name, hook)


def move(piece: Piece, target: str, **fields: Any) -> Piece:
    """Move a piece to target, stamping times; raise PieceTransitionError if illegal."""
    if target not in ALLOWED[piece.status]:
        raise PieceTransitionError(f"{piece.label} of job {piece.job_id} cannot go from {piece.status} to {target}")
    now = utcnow()
    piece.status = target
    if target == S.QUEUED.value:
        piece.follower = piece.task_id = None
        piece.dispatched_at = piece.started_at = piece.finished_at = None
        piece.percent, piece.fps, piece.speed = 0.0, None, None
    elif target == S.DISPATCHED.value:
        piece.dispatched_at, piece.attempts = now, piece.attempts + 1
    elif target == S.RUNNING.value:
        piece.started_at = piece.started_at or now
    if target in PIECE_FINAL:
        piece.finished_at = now
        if target == S.SUCCEEDED.value:
            piece.percent, piece.error = 100.0, None
    for key, value in fields.items():
        setattr(piece, key, value)
    changed(piece)
    return piece


def piece_running(piece: Piece, follower: str | None = None) -> bool:
    """Record that the piece's attempt started; return True if its status changed."""
    if follower and follower != piece.follower:
        piece.follower = follower
        changed(piece)
    if piece.status == S.DISPATCHED.value:
        move(piece, S.RUNNING.value)
        return True
    return False


def piece_progress(piece: Piece, fields: dict[str, Any]) -> None:
    """Copy progress figures onto a piece."""
    if piece.status == S.DISPATCHED.value:
        move(piece, S.RUNNING.value)
    for key in ("percent", "fps", "speed"):
        if fields.get(key) is not None:
            setattr(piece, key, fields[key])
    piece.progress_at = utcnow()
    changed(piece)


def end_piece(piece: Piece, state: str, value: Any, detail: str = "", stopped: bool = False) -> bool:
    """Decide how a piece's attempt ended from its final state and value; False when the state is not final.

    stopped: the leader asked it to stop (its job was cancelled, failed or ended): any end is a cancel.
    """
    if piece.status not in PIECE_ACTIVE:
        return state in ("SUCCESS", "FAILURE", "REVOKED")
    if state == "SUCCESS" and isinstance(value, dict):
        move(piece, S.SUCCEEDED.value, result=value)
    elif state == "REVOKED":
        move(piece, S.CANCELLED.value, error="stopped" + detail)
    elif state == "FAILURE":
        exc = value if isinstance(value, BaseException) else RuntimeError(str(value or "") or "the task failed")
        piece_exception(piece, exc, stopped)
    else:
        return False
    return True


def piece_exception(piece: Piece, exc: BaseException, stopped: bool = False) -> None:
    """Record the end of a piece's attempt from the exception its task raised."""
    if isinstance(exc, TranscodeCancelled) or stopped:
        move(piece, S.CANCELLED.value, error=getattr(exc, "message", None) or str(exc) or "stopped")
    elif isinstance(exc, (TranscodeInterrupted, PayloadRefused)):
        requeue_piece(piece, exc.message)
    elif isinstance(exc, TranscodeError):
        fail_or_retry_piece(piece, exc.message, retryable=getattr(exc, "retryable", False))
    else:
        name = type(exc).__name__
        discard_piece_partial(piece)
        message = str(exc) or name
        if name == "WorkerLostError":
            message = f"the worker process on {piece.follower} died while encoding {piece.label} ({message})"
        fail_or_retry_piece(piece, message, retryable=name == "WorkerLostError")


def fail_or_retry_piece(piece: Piece, reason: str, retryable: bool = True) -> None:
    """Queue the piece again when automatic retries remain and the cause may pass; else fail it (and so its job)."""
    piece.failures += 1
    if retryable and piece.failures <= auto_retry():
        log.warning("%s of job %s failed (%s); queued again", piece.label, piece.job_id, reason)
        move(piece, S.QUEUED.value, error=f"attempt {piece.attempts} failed: {reason}; retrying")
    else:
        move(piece, S.FAILED.value, error=reason)


def requeue_piece(piece: Piece, reason: str) -> None:
    """Put a piece back in the queue when it was not its fault (a follower stopped, refused, never took it)."""
    if piece.attempts - piece.failures > MAX_REQUEUES:
        move(piece, S.FAILED.value, error=f"{reason} ({piece.attempts} attempts; giving up)")
        return
    move(piece, S.QUEUED.value, error=f"attempt {piece.attempts}: {reason}; queued again")


def piece_lost(piece: Piece, follower: str, started: bool, how: str | None = None) -> None:
    """The follower holding this piece crashed or stopped answering; started=False when it provably never ran."""
    if piece.status not in PIECE_ACTIVE:
        return
    discard_piece_partial(piece)
    if not started:
        requeue_piece(piece, f"follower {follower} was lost before it started")
        return
    fail_or_retry_piece(
        piece, f"follower {follower} was lost while encoding {piece.label}" + (f": {how}" if how else "")
    )


def discard_piece_partial(piece: Piece) -> None:
    """Delete the private folder of the piece's current attempt (left behind by a follower that died)."""
    job = piece.job
    if not piece.task_id or job is None:
        return
    kinds = {"video": f"p{piece.index}", "audio": "a", "join": "j"}
    if piece.kind not in kinds:
        return
    try:
        final = resolve_inside(job.output_path, current_app.config["MEDIA_ROOTS"], must_exist=False)
        folder = temp_folder(final, f"j{job.id}-{kinds[piece.kind]}-{piece.task_id[:8]}")
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder)
    except (PathError, OSError) as exc:
        log.warning("could not remove the partial output of %s of job %s: %s", piece.label, piece.job_id, exc)
