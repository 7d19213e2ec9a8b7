"""Dispatch for split jobs: start the split ones (decided in app/monitor/split_decide.py) and send their pieces just
in time.

Runs before app/monitor/dispatcher.dispatch_ready on every dispatch round: pieces of split jobs that
are already running go first (the fleet finishes a started film before the next file), each to a
trusted follower with a free slot (and the video encoder, for a video piece).
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime
from typing import Any

from celery import Celery
from flask import current_app
from sqlalchemy import exists, select, true

from app.extensions import core, db, redis_store
from app.models import ACTIVE_VALUES, Job, JobStatus
from app.models.piece import KIND_ORDER, Piece, PieceKind
from app.monitor import schedule_gate
from app.monitor.dispatcher import ANY_QUEUED_JOB, payload_ttl, send_batch
from app.monitor.reaper import CLAIM_TTL
from app.monitor.registry import Registry
from app.monitor.slots import free_slots
from app.monitor.split_decide import start_ready
from app.services.live import live_message, publish_many
from app.services.pieces import move
from app.services.settings import QUEUE_PAUSED, get_setting
from app.services.split_jobs import job_tag, pieces_of
from tasks import keys
from tasks.signing import sign

log = logging.getLogger("frameshift.monitor")
S = JobStatus
HELD = " · the rest wait: "  # appended to a running split job's note while a schedule holds its pieces


ANY_QUEUED_PIECE = select(Piece.id).where(Piece.status == S.QUEUED.value).limit(1)


def pieces_queued() -> bool:
    """Return True when at least one piece of a split job waits to be sent."""
    return core(ANY_QUEUED_PIECE).first() is not None


WORK_QUEUED = select(exists(ANY_QUEUED_JOB) | exists(ANY_QUEUED_PIECE))


def work_queued() -> bool:
    """Return True when a job or a piece of a split job waits to be sent: both indexed probes in one statement.
    Most dispatch rounds (the once-a-second one, the one after each job's end) find neither, and the two probes
    were two statements through SQLAlchemy for each of them."""
    return bool(core(WORK_QUEUED).scalar())


def queued_pieces(limit: int, closed: dict[int, str] | None = None) -> list[tuple[Piece, Job]]:
    """Return queued pieces of active split jobs (no cancel asked), in queue order of their jobs; none of a
    library outside its hours (closed)."""
    rows = db.session.execute(
        select(Piece, Job)
        .join(Job, Piece.job_id == Job.id)
        .where(
            Piece.status == S.QUEUED.value,
            Job.status.in_(ACTIVE_VALUES),
            Job.cancel_requested_at.is_(None),
            schedule_gate.not_in(closed) if closed else true(),
        )
        .order_by(Job.priority.desc(), Job.position, Job.id)
        .limit(limit)
    ).all()
    return sorted(rows, key=lambda r: (-r[1].priority, r[1].position, r[1].id, KIND_ORDER[r[0].kind], r[0].index))


def payload_for(piece: Piece, job: Job, task_id: str) -> dict:
    """Return the signed payload of a piece's task (docs/split.md lists the fields)."""
    body = {
        "job_id": job.id,
        "attempt": piece.attempts,
        "task_id": task_id,
        "expires": int(time.time()) + payload_ttl(),
        "job": job_tag(job),
        "input": job.input_path,
        "output": job.output_path,
        "spec": job.spec,
    }
    plan = job.split_plan or {}
    if piece.kind == PieceKind.PLAN.value:
        body["split_seconds"] = current_app.config.get("SPLIT_SECONDS", 60.0)
    elif piece.kind == PieceKind.VIDEO.value:
        body.update(index=piece.index, start=piece.start, end=piece.end, frames=piece.frames)
    elif piece.kind == PieceKind.JOIN.value:
        starts = [p.start for p in pieces_of(job.id) if p.kind == PieceKind.VIDEO.value]
        body.update(starts=starts, **{k: plan.get(k) for k in ("frames", "video_duration", "frame_duration")})
        body.update(**{k: plan.get(k) for k in ("video_start", "start_time", "audio")})
    return sign(body, current_app.config["SHARED_TOKEN"])


def dispatch_split(
    celery_app: Celery,
    registry: Registry,
    sent: dict[str, int],
    now: datetime | None = None,
    left: dict[str, Any] | None = None,
) -> int:
    """Start split jobs that are due and send queued pieces to free slots; return how many pieces were sent.

    Outside the queue's hours nothing starts; outside a library's hours neither its jobs nor the pieces of
    its running split jobs that have not started yet (running pieces go on). The schedules are judged at now.
    The free slots it leaves go into left["slots"], for the round's whole jobs (dispatch_ready): one count of
    them a round, not two (fix 19); whether the queue is paused into left["paused"] (fix 44).
    """
    paused = bool(get_setting(QUEUE_PAUSED, False))
    if left is not None:
        left["paused"] = paused  # for the round's whole jobs: read once a round
    if paused:
        return 0
    slots = free_slots(registry)
    capacity = sum(s.free for s in slots)
    if left is not None:
        left["slots"] = slots  # the same list, less each slot the pieces below take
    if capacity == 0:
        return 0
    gate = schedule_gate.current(now)  # cached: no query in most rounds
    off_hours = gate.queue_reason()
    closed = {} if off_hours else gate.closed()
    if (off_hours or closed) and gate.due("piece notes"):
        note_held(off_hours, closed)
    if off_hours:
        return 0
    if start_ready(registry, capacity, closed):
        slots = free_slots(registry)
        if left is not None:
            left["slots"] = slots
    chosen: list[tuple[Piece, Job, str]] = []
    # One indexed probe first: with no piece waiting (the usual round) the join below is not run.
    for piece, job in queued_pieces(capacity * 4, closed) if pieces_queued() else []:
        need = job.required_encoder if piece.kind == PieceKind.VIDEO.value else None
        slot = next((s for s in slots if not need or need in s.encoders), None)
        if slot is None:
            continue
        chosen.append((piece, job, slot.name))
        slot.free -= 1
        if slot.free == 0:
            slots.remove(slot)
    if not chosen:
        return 0
    prepared = []
    for piece, job, follower in chosen:
        if job.split_note and HELD in job.split_note:
            job.split_note = job.split_note.split(HELD)[0]  # its hours have come
        task_id = str(uuid.uuid4())
        move(piece, S.DISPATCHED.value, task_id=task_id, follower=follower, error=None)
        prepared.append((piece.id, piece.kind_enum.task_name, follower, task_id, payload_for(piece, job, task_id)))
    db.session.commit()
    try:
        send_batch(
            celery_app,
            [
                (name, follower, task_id, payload, f"job {payload['job_id']} {name} {payload.get('index', '')}")
                for _piece_id, name, follower, task_id, payload in prepared
            ],
        )
    except Exception as exc:  # noqa: BLE001
        log.error("could not send %d pieces: %s", len(prepared), exc)
        give_back_pieces([p for p, *_ in chosen], f"could not reach the broker: {exc}")
        raise
    for piece_id, _name, _follower, task_id, _payload in prepared:
        sent[task_id] = piece_id
    return len(prepared)


def give_back_pieces(pieces: list[Piece], reason: str) -> None:
    """Queue again each piece whose message may not have gone, once the leader holds its claim."""
    for piece in pieces:
        try:
            mine = redis_store.client.set(keys.claim(piece.task_id), keys.LEADER_CLAIM, nx=True, ex=CLAIM_TTL)
        except Exception:  # noqa: BLE001  (cannot know: the piece reaper settles it)
            mine = False
        if mine:
            move(piece, S.QUEUED.value, error=reason)
    db.session.commit()


def note_held(off_hours: str | None, closed: dict[int, str]) -> None:
    """Say on each running split job whose queued pieces a schedule holds back why they wait."""
    library = schedule_gate.library_of_job()
    rows = db.session.execute(
        select(Job, library).where(
            Job.status.in_(ACTIVE_VALUES),
            Job.split_state == "split",
            Job.id.in_(select(Piece.job_id).where(Piece.status == S.QUEUED.value)),
        )
    ).all()
    messages = []
    for job, value in rows:
        why = off_hours or closed.get(schedule_gate.library_id(value))
        if why:
            note = (job.split_note or "").split(HELD)[0] + HELD + why.removeprefix("waiting: ")
            if note != job.split_note:
                job.split_note = note
                messages.append(live_message(job))
    if messages:
        db.session.commit()
        publish_many(messages)
