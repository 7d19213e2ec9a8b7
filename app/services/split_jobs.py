"""Split jobs on the leader: decide, start (or resume), turn the plan into pieces, and draw each piece's
consequences for its job (join, success, failure naming the piece, cancel, cleanup). docs/split.md.

The job is `dispatched` then `running` while its pieces run; its attempt has a task id of its own
("split-..."), never sent to Celery, and no follower: the pieces hold the followers and the slots.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import FINISHED, Attempt, Job, JobStatus
from app.models.piece import KIND_ORDER, PIECE_ACTIVE, Piece, PieceKind
from app.services.outcomes import mark_running, mark_succeeded
from app.services.pieces import changed, move
from app.services.transitions import transition
from tasks.paths import PathError, resolve_inside
from tasks.spec import parse_spec
from tasks.split import whole_stream_reason
from tasks.split_argv import audio_name
from tasks.split_run import piece_name, pieces_folder

log = logging.getLogger("frameshift.monitor")
S = JobStatus
PLAN_KEYS = ("frames", "video_duration", "frame_duration", "video_start", "start_time", "keyframes", "audio")


def job_tag(job: Job) -> str:
    """Return the tag naming a job's pieces folder (tasks/split_run.job_tag accepts it)."""
    return f"j{job.id}"


def pieces_of(job_id: int) -> list[Piece]:
    """Return a job's pieces: plan, video pieces in order, audio, join."""
    rows = db.session.execute(select(Piece).where(Piece.job_id == job_id)).scalars().all()
    return sorted(rows, key=lambda p: (KIND_ORDER[p.kind], p.index))


def decide(job: Job, capacity: int, duration: Callable[[], float | None]) -> tuple[bool, str | None]:
    """Return (split?, the note the job shows) for a queued job, from its spec, the fleet and the input's length.

    capacity: follower slots that could work on it now. Only a reason a user would not guess gets a note:
    a short input or split=never runs whole silently.
    """
    early = _without_length(job, capacity)
    if early is not None:
        return early
    seconds = duration()
    least = current_app.config.get("SPLIT_MIN_SECONDS", 300.0)
    if seconds is None or seconds <= least:
        return False, None
    return True, None


def needs_length(job: Job, capacity: int) -> bool:
    """Return True when decide() will read the input's length for this job (split=auto, more than one slot)."""
    return _without_length(job, capacity) is None


def whole_by_spec(spec: Any) -> tuple[bool, str | None]:
    """(True, the note) when the spec alone makes a job run whole (split=never, or a stream that cannot be cut),
    whatever the fleet and the input: create_jobs records it with the job, so no dispatch round decides it again
    (a spec never changes after the job is made)."""
    if spec.split == "never":
        return True, None
    reason = whole_stream_reason(spec)
    return (True, f"runs whole: {reason}") if reason else (False, None)


def _without_length(job: Job, capacity: int) -> tuple[bool, str | None] | None:
    """The decision when the spec or the fleet settle it alone; None when it depends on the input's length."""
    spec = parse_spec(job.spec)
    whole, note = whole_by_spec(spec)
    if whole:
        return False, note
    if spec.split == "always":
        return True, None
    if capacity < 2:
        return False, None  # one slot: nothing to share out (the length is not even read)
    return None


def start_split(job: Job) -> list[Piece]:
    """Make a new attempt of a queued split job and queue what is missing: the plan, or the pieces without a file."""
    job.attempt += 1
    task_id = f"split-{uuid.uuid4()}"
    job.task_id, job.follower, job.split_state = task_id, None, "split"
    job.attempts.append(Attempt(number=job.attempt, task_id=task_id, follower=None))
    transition(job, S.DISPATCHED)
    pieces = pieces_of(job.id)
    plan = next((p for p in pieces if p.kind == PieceKind.PLAN.value), None)
    if plan is None or plan.status != S.SUCCEEDED.value or job.split_plan is None:
        for piece in pieces:
            db.session.delete(piece)
        plan = Piece(job_id=job.id, kind=PieceKind.PLAN.value, index=0, status=S.QUEUED.value)
        add_piece(plan)
        job.split_note = "planning: reading keyframes"
        return [plan]
    for piece in pieces:
        if piece.kind == PieceKind.JOIN.value:
            db.session.delete(piece)  # made again once every piece is there
        elif piece.kind != PieceKind.PLAN.value and (
            piece.status != S.SUCCEEDED.value or not piece_file_ok(job, piece)
        ):
            move(piece, S.QUEUED.value, error=None)
    job.split_note = "resuming: finished pieces are kept"
    return pieces


def piece_file_ok(job: Job, piece: Piece) -> bool:
    """Return True when a succeeded piece's file is still in the job's pieces folder."""
    if piece.kind == PieceKind.AUDIO.value and (piece.result or {}).get("skipped"):
        return True
    folder = folder_of(job)
    if folder is None:
        return False
    name = piece_name(piece.index) if piece.kind == PieceKind.VIDEO.value else audio_name(parse_spec(job.spec))
    return (folder / name).is_file()


def folder_of(job: Job):
    """Return the job's pieces folder (a Path), or None when its output path is no longer allowed."""
    try:
        final = resolve_inside(job.output_path, current_app.config["MEDIA_ROOTS"], must_exist=False)
    except PathError:
        return None
    return pieces_folder(final, job_tag(job))


def remove_leftovers(job: Job) -> list[str]:
    """Remove the job's pieces folder and its pieces' private folders (the rule of split.cleanup, on the leader)."""
    folder = folder_of(job)
    if folder is None:
        return []
    prefix = f".{folder.name.split('.frameshift-')[0][1:]}.frameshift-{job_tag(job)}-"
    removed = []
    for path in folder.parent.iterdir() if folder.parent.is_dir() else []:
        if path.name.startswith(prefix) and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


def apply_plan(job: Job, plan: Piece) -> None:
    """Turn split.plan's result into queued pieces, or run the job whole when it cannot be split after all."""
    result = plan.result or {}
    cuts = result.get("pieces") or []
    if result.get("reason") or len(cuts) < 2:
        why = result.get("reason") or "the input has too few keyframes to cut"
        transition(job, S.QUEUED, attempt_outcome="abandoned", error=None)
        job.split_state, job.split_note = "whole", f"runs whole: {why}"
        db.session.delete(plan)
        return
    job.split_plan = {k: result.get(k) for k in PLAN_KEYS}
    job.duration = job.duration or result.get("video_duration")
    for cut in cuts:
        add_piece(
            Piece(
                job_id=job.id,
                kind=PieceKind.VIDEO.value,
                index=int(cut["index"]),
                start=float(cut["start"]),
                end=None if cut.get("end") is None else float(cut["end"]),
                frames=cut.get("frames"),
                status=S.QUEUED.value,
            )
        )
    add_piece(Piece(job_id=job.id, kind=PieceKind.AUDIO.value, index=0, status=S.QUEUED.value))


def add_piece(piece: Piece) -> None:
    """Add a new piece row (published live once committed, like every change of a piece)."""
    db.session.add(piece)
    changed(piece)


def advance(job: Job, pieces: list[Piece]) -> list[Piece]:
    """Draw the pieces' consequences for their job; return the active pieces that must be asked to stop."""
    active = [p for p in pieces if p.status in PIECE_ACTIVE]
    queued = [p for p in pieces if p.status == S.QUEUED.value]
    failed = next((p for p in pieces if p.status == S.FAILED.value), None)
    stopping = job.status in {s.value for s in FINISHED} or job.cancel_requested_at is not None or failed is not None
    if stopping:
        for piece in queued:
            move(piece, S.CANCELLED.value, error="not run: the job ended")
    if job.status in {s.value for s in FINISHED}:
        if not active and job.status != S.FAILED.value and job.split_state == "split":
            remove_leftovers(job)  # a failed job keeps its pieces for a retry (resume)
            job.split_state = "done"
        return active
    if job.cancel_requested_at is not None:
        if not active:
            transition(job, S.CANCELLED, error="cancelled by user")
            remove_leftovers(job)
            job.split_state = "done"
        return active
    if failed is not None:
        transition(job, S.FAILED, error=f"{failed.label} failed: {failed.error}")
        return active
    if any(p.status == S.RUNNING.value for p in pieces):
        mark_running(job)
    by_kind: dict[str, list[Piece]] = {}
    for piece in pieces:
        by_kind.setdefault(piece.kind, []).append(piece)
    plan = (by_kind.get("plan") or [None])[0]
    join = (by_kind.get("join") or [None])[0]
    work = by_kind.get("video", []) + by_kind.get("audio", [])
    if plan is not None and plan.status == S.SUCCEEDED.value and not work:
        apply_plan(job, plan)
        return []
    if join is not None and join.status == S.SUCCEEDED.value:
        mark_succeeded(job, join.result or {})
        job.follower, job.split_state, job.split_note = join.follower, "done", f"joined {len(work) - 1} pieces"
        return []
    if work and join is None and all(p.status == S.SUCCEEDED.value for p in work):
        add_piece(Piece(job_id=job.id, kind=PieceKind.JOIN.value, index=0, status=S.QUEUED.value))
    summarise(job, pieces)
    return []


def summarise(job: Job, pieces: list[Piece]) -> None:
    """Set the job's percent, fps and ETA summed over its video pieces, and say who runs which piece."""
    video = [p for p in pieces if p.kind == PieceKind.VIDEO.value]
    if not video:
        return
    total = float((job.split_plan or {}).get("video_duration") or 0.0)
    start = min(p.start or 0.0 for p in video)

    def length(p: Piece) -> float:
        return p.seconds if p.seconds is not None else max(total + start - (p.start or 0.0), 0.0)

    whole = sum(length(p) for p in video) or 1.0
    done = sum(length(p) * (100.0 if p.status == S.SUCCEEDED.value else p.percent or 0.0) / 100.0 for p in video)
    running = [p for p in pieces if p.status == S.RUNNING.value]
    speed = sum(p.speed or 0.0 for p in running if p.kind == PieceKind.VIDEO.value)
    job.percent = min(99.0, 100.0 * done / whole)
    job.fps = round(sum(p.fps or 0.0 for p in running if p.kind == PieceKind.VIDEO.value), 1) or None
    job.speed = round(speed, 3) or None
    job.eta = round((whole - done) / speed, 1) if speed > 0 else None
    finished = sum(1 for p in video if p.status == S.SUCCEEDED.value)
    where = ", ".join(f"{p.label} on {(p.follower or '?').split('@')[0]}" for p in running)
    job.split_note = f"{finished} of {len(video)} pieces done" + (f"; {where}" if where else "")


def split_details(job: Job) -> dict[str, Any]:
    """Return what the job page and the API show of a split job: its note and its pieces."""
    return {"split_note": job.split_note, "pieces": [p.to_dict() for p in pieces_of(job.id)]}
