"""Settle unfinished jobs from the result backend: after a monitor start, and as a periodic sweep."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from sqlalchemy import select

from app.extensions import db
from app.models import ACTIVE, Job
from app.monitor.registry import Registry
from app.services.live import job_message, publish
from app.services.outcomes import apply_progress, mark_exception, mark_running, mark_succeeded

log = logging.getLogger("frameshift.monitor")
FINAL_STATES = ("SUCCESS", "FAILURE", "REVOKED")


def backend_state(celery_app: Celery, task_id: str | None) -> tuple[str, Any]:
    """Return (state, value) the result backend holds for an attempt."""
    if not task_id:
        return "PENDING", None
    result = celery_app.AsyncResult(task_id)
    try:
        return result.state, result.result
    except Exception as exc:  # noqa: BLE001  (an exception class we cannot rebuild)
        return "FAILURE", RuntimeError(str(exc))


def settle(job: Job, state: str, value: Any) -> bool:
    """Apply a final backend state to job; return True when the job's attempt ended."""
    if state == "SUCCESS" and isinstance(value, dict):
        mark_succeeded(job, value)
    elif state == "REVOKED":
        mark_exception(job, RuntimeError("the task was revoked"))
    elif state == "FAILURE":
        mark_exception(job, value if isinstance(value, BaseException) else RuntimeError(str(value)))
    else:
        return False
    return True


def reconcile(celery_app: Celery, registry: Registry) -> dict[str, int]:
    """Apply final results that events did not deliver; give live attempts a heartbeat window."""
    counts = {"succeeded": 0, "failed": 0, "running": 0, "waiting": 0}
    jobs = db.session.execute(select(Job).where(Job.status.in_([s.value for s in ACTIVE]))).scalars().all()
    for job in jobs:
        state, value = backend_state(celery_app, job.task_id)
        if settle(job, state, value):
            counts["succeeded" if state == "SUCCESS" else "failed"] += 1
        elif state in ("STARTED", "PROGRESS"):
            mark_running(job)
            if isinstance(value, dict):
                apply_progress(job, value)
            counts["running"] += 1
        else:
            counts["waiting"] += 1
        publish(job_message(job.to_dict()))
    db.session.commit()
    registry.grace({job.follower for job in jobs if job.follower and job.status in {s.value for s in ACTIVE}})
    log.info("reconciled unfinished jobs: %s", counts)
    return counts


def sweep(celery_app: Celery) -> int:
    """Settle active jobs whose final event never arrived (lost in a broker outage); return how many."""
    jobs = db.session.execute(select(Job).where(Job.status.in_([s.value for s in ACTIVE]))).scalars().all()
    settled = 0
    for job in jobs:
        state, value = backend_state(celery_app, job.task_id)
        if state in FINAL_STATES and settle(job, state, value):
            log.info("job %s settled from the result backend (%s); its final event was missed", job.id, state)
            publish(job_message(job.to_dict()))
            settled += 1
    if settled:
        db.session.commit()
    return settled
