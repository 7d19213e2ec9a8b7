"""Actions on many jobs at once: cancel every unfinished job, retry every failed one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import ACTIVE_VALUES, Job, JobStatus, utcnow
from app.services.jobs import media_roots, request_stop
from app.services.live import live_message, publish_many, wake_dispatcher
from app.services.transitions import transition
from tasks.paths import PathError, resolve_inside

SHOWN_SKIPS = 20  # jobs named in a reply when some could not be retried


def _jobs(statuses: list[str]) -> list[Job]:
    query = select(Job).where(Job.status.in_(statuses)).options(selectinload(Job.attempts)).order_by(Job.id)
    return list(db.session.execute(query).scalars())


def cancel_all(waiting: bool = True, running: bool = True) -> dict[str, int]:
    """Cancel every waiting job now and ask the followers to stop every running one; return how many of each."""
    statuses = ([JobStatus.QUEUED.value] if waiting else []) + (list(ACTIVE_VALUES) if running else [])
    cancelled, stopping, stops = 0, 0, []
    changed: list[Job] = []
    for job in _jobs(statuses):
        if job.status_enum is JobStatus.QUEUED:
            transition(job, JobStatus.CANCELLED, error="cancelled before it started (cancel all)")
            cancelled += 1
        elif job.cancel_requested_at is None:
            job.cancel_requested_at = utcnow()
            stops.append(job.task_id)
            stopping += 1
        else:
            continue
        changed.append(job)
    db.session.commit()
    for task_id in stops:
        request_stop(task_id, "cancel")
    publish_many([live_message(job) for job in changed])
    return {"cancelled": cancelled, "stopping": stopping}


def retry_failed(include_cancelled: bool = False) -> dict[str, Any]:
    """Queue every failed job (and cancelled ones if asked) again, in their order; skip those whose input is gone."""
    statuses = [JobStatus.FAILED.value] + ([JobStatus.CANCELLED.value] if include_cancelled else [])
    roots = media_roots()
    position = (db.session.execute(select(func.max(Job.position))).scalar() or 0.0) + 1
    retried: list[Job] = []
    skipped: list[dict[str, Any]] = []
    for job in _jobs(statuses):
        try:
            source = resolve_inside(job.input_path, roots)
            if not source.is_file():
                raise PathError(f"{job.input_path} is no longer there")
        except PathError as exc:
            skipped.append({"id": job.id, "name": job.name, "reason": str(exc)})
            continue
        transition(job, JobStatus.QUEUED, error=None, waiting_reason=None, log_tail=None)
        job.position = position
        position += 1
        retried.append(job)
    db.session.commit()
    if retried:
        wake_dispatcher()
    publish_many([live_message(job) for job in retried])
    return {"retried": len(retried), "skipped": len(skipped), "skipped_jobs": skipped[:SHOWN_SKIPS]}
