"""After a monitor start: settle every unfinished job from the result backend."""

from __future__ import annotations

import logging

from celery import Celery
from sqlalchemy import select

from app.extensions import db
from app.models import ACTIVE, Job
from app.monitor.registry import Registry
from app.services.live import job_message, publish
from app.services.outcomes import apply_progress, mark_exception, mark_running, mark_succeeded

log = logging.getLogger("frameshift.monitor")


def reconcile(celery_app: Celery, registry: Registry) -> dict[str, int]:
    """Apply final results that events did not deliver; give live attempts a heartbeat window."""
    counts = {"succeeded": 0, "failed": 0, "running": 0, "waiting": 0}
    jobs = db.session.execute(select(Job).where(Job.status.in_([s.value for s in ACTIVE]))).scalars().all()
    for job in jobs:
        result = celery_app.AsyncResult(job.task_id)
        try:
            state, value = result.state, result.result
        except Exception as exc:  # noqa: BLE001
            state, value = "FAILURE", RuntimeError(str(exc))
        if state == "SUCCESS" and isinstance(value, dict):
            mark_succeeded(job, value)
            counts["succeeded"] += 1
        elif state == "REVOKED":
            mark_exception(job, RuntimeError("the task was revoked"))
            counts["failed"] += 1
        elif state == "FAILURE":
            mark_exception(job, value if isinstance(value, BaseException) else RuntimeError(str(value)))
            counts["failed"] += 1
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
