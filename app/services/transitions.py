"""The one function that changes a job's status, refusing illegal moves."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, object_session

from app.models import FINISHED, Job, JobStatus, utcnow

S = JobStatus
# Jobs that succeeded or failed in a session's open transaction: notify sends them after its commit.
ENDED_JOBS = "frameshift_ended_jobs"
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    S.QUEUED: frozenset({S.DISPATCHED, S.CANCELLED, S.FAILED}),
    S.DISPATCHED: frozenset({S.RUNNING, S.SUCCEEDED, S.FAILED, S.CANCELLED, S.QUEUED}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.QUEUED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset({S.QUEUED}),
    S.CANCELLED: frozenset({S.QUEUED}),
}


class TransitionError(ValueError):
    """A status change that the job lifecycle does not allow."""


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    """Return True when current -> target is a legal move."""
    return target in ALLOWED[current]


def transition(job: Job, target: JobStatus, **fields: Any) -> Job:
    """Move job to target, stamping times and copying fields; raise TransitionError if illegal."""
    current = JobStatus(job.status)
    if not can_transition(current, target):
        raise TransitionError(f"job {job.id} cannot go from {current.value} to {target.value}")
    outcome = fields.pop("attempt_outcome", None)
    now = utcnow()
    job.status = target.value
    if target is S.QUEUED:
        job.follower = None
        job.task_id = None
        job.dispatched_at = job.started_at = job.finished_at = None
        job.cancel_requested_at = None
        job.percent, job.fps, job.speed, job.eta, job.out_size = 0.0, None, None, None, None
        job.exit_code = None
    elif target is S.DISPATCHED:
        job.dispatched_at = now
        job.waiting_reason = None
    elif target is S.RUNNING:
        job.started_at = job.started_at or now
    if target in FINISHED:
        job.finished_at = now
        job.eta = 0.0 if target is S.SUCCEEDED else None
        if target is S.SUCCEEDED:
            job.percent = 100.0
    for key, value in fields.items():
        setattr(job, key, value)
    _sync_attempt(job, target, outcome)
    if target in (S.SUCCEEDED, S.FAILED):
        _record_ended(job)
    return job


def _record_ended(job: Job) -> None:
    """Remember in the job's session that it ended, for whoever acts on the commit (notifications)."""
    session = object_session(job)
    if session is not None and job.id is not None:
        session.info.setdefault(ENDED_JOBS, set()).add(job.id)


def take_ended(session: Session) -> list[int]:
    """Return the ids of jobs that succeeded or failed in the session's last transaction, and forget them."""
    return sorted(session.info.pop(ENDED_JOBS, ()))


def _sync_attempt(job: Job, target: JobStatus, outcome: str | None) -> None:
    """Mirror the outcome onto the current attempt row."""
    if not job.attempts or target is S.QUEUED and not outcome:
        return
    attempt = job.attempts[-1]
    if attempt.finished_at is not None:
        return
    now = utcnow()
    if target is S.RUNNING:
        attempt.started_at = attempt.started_at or now
        attempt.status = target.value
    elif target in FINISHED or target is S.QUEUED:
        attempt.status = outcome or target.value
        attempt.error = job.error
        attempt.exit_code = job.exit_code
        attempt.finished_at = now
