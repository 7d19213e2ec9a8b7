"""The monitor's side of split jobs: piece events, lost followers, missed results, and each job's next step.

Task events of split.* tasks carry a piece's task id: take_events applies them to pieces (a task id ->
piece id map, like EventHandler.jobs_by_task, looked up in the database for ids sent before a restart)
and passes the rest on. tick() advances every split job with work in flight, reaps pieces whose follower
was lost (fenced out first, as for jobs), and settles pieces whose final event was missed (after a
monitor restart too: pieces are rows, their task ids are in them).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import Celery
from sqlalchemy import or_, select

from app.extensions import db
from app.models import ACTIVE_VALUES, FINISHED, Job, JobStatus, utcnow
from app.models.piece import PIECE_ACTIVE, Piece
from app.monitor.reaper import MIN_NOT_TAKEN, NOT_TAKEN_WINDOWS, fence_out, leader_claims
from app.monitor.reconcile import FINAL_STATES, backend_states, readable
from app.monitor.registry import Registry
from app.services.jobs import request_stop
from app.services.live import live_message, publish_many
from app.services.pieces import end_piece, piece_lost, piece_progress, piece_running, requeue_piece
from app.services.split_jobs import advance, pieces_of

log = logging.getLogger("frameshift.monitor")
TERMINAL = {"task-succeeded", "task-failed", "task-revoked", "task-rejected"}
PIECE_EVENTS = TERMINAL | {"task-started", "task-progress"}
SWEEP_EVERY = 3.0
PROGRESS_EVERY = 1.0
# With no split job in flight and no piece out, tick() looks again only this often (or at once when poked: a
# dispatch round, a wake from the web, a piece event), instead of querying jobs and pieces twice a second. Every
# way a split job starts or changes pokes it, so this is a safety net: 15 s, not 5 (the look, three queries with
# cold caches, was ~0.8 ms a second of the monitor at rest: fix 25, docs/benchmarks.md).
QUIET_RECHECK = 15.0


class SplitMonitor:
    """Piece events and the split jobs' next steps, on the monitor's thread."""

    def __init__(self, celery_app: Celery, registry: Registry) -> None:
        self.celery_app = celery_app
        self.registry = registry
        self.pieces_by_task: dict[str, int] = {}  # filled by split_dispatch.dispatch_split
        self.stop_sent: set[str] = set()
        self.written: dict[str, float] = {}
        self.last_sweep = 0.0
        self.ended_any = False
        self.quiet_until = 0.0  # monotonic time before which tick() has nothing to do (see QUIET_RECHECK)

    def poke(self) -> None:
        """Something may have started or changed a split job: the next tick looks."""
        self.quiet_until = 0.0

    def take_events(self, events: list[dict[str, Any]], known_jobs: dict[str, int]) -> list[dict[str, Any]]:
        """Apply the events of piece tasks (one transaction); return the others, untouched and in order."""
        ids = {e.get("uuid") for e in events if e.get("type") in PIECE_EVENTS and e.get("uuid")}
        unknown = [t for t in ids if t not in self.pieces_by_task and t not in known_jobs]
        if unknown:
            rows = db.session.execute(select(Piece.task_id, Piece.id).where(Piece.task_id.in_(unknown))).all()
            self.pieces_by_task.update(dict(rows))
        mine = [e for e in events if e.get("uuid") in self.pieces_by_task and e.get("type") in PIECE_EVENTS]
        if not mine:
            return events
        self.poke()
        rest = [e for e in events if not (e.get("uuid") in self.pieces_by_task and e.get("type") in PIECE_EVENTS)]
        wanted = {self.pieces_by_task[e["uuid"]] for e in mine}
        pieces = {p.task_id: p for p in db.session.execute(select(Piece).where(Piece.id.in_(wanted))).scalars()}
        ended = [e["uuid"] for e in mine if e["type"] in TERMINAL and e["uuid"] in pieces]
        results = backend_states(self.celery_app, ended)
        for event in mine:
            task_id, kind = event["uuid"], event["type"]
            piece = pieces.get(task_id)
            if piece is None:
                continue  # the piece moved on to another attempt
            if kind == "task-started":
                piece_running(piece, event.get("hostname"))
            elif kind == "task-progress":
                if time.monotonic() - self.written.get(task_id, 0.0) >= PROGRESS_EVERY:
                    self.written[task_id] = time.monotonic()
                    piece_progress(piece, event)
            else:
                self.finish(piece, kind, event, results.get(task_id, ("PENDING", None)))
        db.session.commit()
        if self.ended_any:
            self.ended_any = False
            self.tick(sweep=False)
        return rest

    def finish(self, piece: Piece, kind: str, event: dict[str, Any], result: tuple[str, Any]) -> None:
        """Record the end of a piece's attempt from the result backend."""
        self.pieces_by_task.pop(piece.task_id or "", None)
        self.written.pop(piece.task_id or "", None)
        state, value = readable(*result)
        if kind == "task-succeeded" and state == "SUCCESS" and isinstance(value, dict):
            end_piece(piece, "SUCCESS", value)
        elif kind == "task-revoked":
            end_piece(piece, "REVOKED", None, " (terminated)" if event.get("terminated") else "")
        else:
            if state != "FAILURE" or not isinstance(value, BaseException):
                value = RuntimeError(event.get("exception") or "the task failed")
            end_piece(piece, "FAILURE", value, stopped=stopped(piece))
        self.ended_any = True

    def tick(self, sweep: bool = True) -> None:
        """Settle missed results, reap lost pieces, then advance every split job with work in flight."""
        now = time.monotonic()
        if now < self.quiet_until:
            return
        if sweep and now - self.last_sweep >= SWEEP_EVERY:
            self.last_sweep = now
            self.sweep()
        out = self.reap()
        messages = []
        jobs = jobs_in_flight()
        self.quiet_until = now + QUIET_RECHECK if not jobs and not out else 0.0
        for job in jobs:
            before = (job.status, round(job.percent or 0, 1), job.split_note)
            for piece in advance(job, pieces_of(job.id)):
                if piece.task_id and piece.task_id not in self.stop_sent:
                    self.stop_sent.add(piece.task_id)
                    request_stop(piece.task_id, "the job ended" if job.status != "running" else "cancel")
            if (job.status, round(job.percent or 0, 1), job.split_note) != before:
                messages.append(live_message(job))
        db.session.commit()
        publish_many(messages)

    def sweep(self) -> None:
        """Settle active pieces whose final state is in the result backend but whose event never came."""
        pieces = active_pieces()
        states = backend_states(self.celery_app, [p.task_id for p in pieces if p.task_id])
        for piece in pieces:
            state, value = readable(*states.get(piece.task_id or "", ("PENDING", None)))
            if state in FINAL_STATES:
                log.info("%s of job %s settled from the result backend (%s)", piece.label, piece.job_id, state)
                end_piece(piece, state, value, stopped=stopped(piece))
            elif state in ("STARTED", "PROGRESS"):
                piece_running(piece)
        db.session.commit()

    def reap(self) -> int:
        """Give up pieces whose follower was lost, or that their follower never took; only that piece reruns.
        Return how many pieces were out (dispatched or running)."""
        now = time.time()
        not_taken_after = max(MIN_NOT_TAKEN, NOT_TAKEN_WINDOWS * self.registry.lost_after)
        pieces = active_pieces()
        for piece in pieces:
            name = piece.follower or "?"
            if name not in self.registry.followers:
                self.registry.grace({name})  # first time we hear of it: give it one window
                continue
            lost = self.registry.lost(name, now)
            dispatched = piece.status == JobStatus.DISPATCHED.value
            waited = (utcnow() - piece.dispatched_at).total_seconds() if piece.dispatched_at else 0.0
            gone = dispatched and (self.registry.followers[name].offline or waited > not_taken_after)
            if not lost and not gone:
                continue
            state, value = readable(
                *backend_states(self.celery_app, [piece.task_id]).get(piece.task_id, ("PENDING", None))
            )
            if state in FINAL_STATES:
                end_piece(piece, state, value, stopped=stopped(piece))
                continue
            old_task = piece.task_id
            started = not dispatched or not leader_claims(old_task)
            if not lost:
                if started:
                    piece_running(piece)  # it holds the claim: it started, only the event was missed
                else:
                    requeue_piece(piece, f"follower {name} did not take it")
                continue
            if started and not fence_out(old_task, f"follower {name} was lost"):
                continue  # it is publishing its piece: its result is on the way
            log.warning("follower %s was lost; %s of job %s given up", name, piece.label, piece.job_id)
            piece_lost(piece, name, started, self.registry.loss_reason(name, now))
            request_stop(old_task, f"follower {name} was lost")
            self.pieces_by_task.pop(old_task or "", None)
        db.session.commit()
        return len(pieces)


def stopped(piece: Piece) -> bool:
    """Return True when the leader asked the piece's job to stop (cancel, failure, or it ended)."""
    job = piece.job
    return job.cancel_requested_at is not None or job.status in {s.value for s in FINISHED}


def active_pieces() -> list[Piece]:
    """Return the dispatched and running pieces."""
    return list(db.session.execute(select(Piece).where(Piece.status.in_(PIECE_ACTIVE))).scalars())


def jobs_in_flight() -> list[Job]:
    """Return split jobs that may have a next step: active ones, those with unfinished pieces, and ended ones
    not cleaned up yet (a failed one keeps its pieces for a retry)."""
    busy = select(Piece.job_id).where(Piece.status.in_((*PIECE_ACTIVE, JobStatus.QUEUED.value)))
    active = ACTIVE_VALUES
    ended = [JobStatus.SUCCEEDED.value, JobStatus.CANCELLED.value]
    query = select(Job).where(
        Job.split_state == "split",
        or_(Job.status.in_(active), Job.status.in_(ended), Job.id.in_(busy)),
    )
    return list(db.session.execute(query).scalars())
