"""Find work that nobody is doing any more: lost followers, cancels nobody answered."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from celery import Celery
from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import ACTIVE, Job, utcnow
from app.monitor.registry import Registry
from app.services.jobs import request_stop
from app.services.live import job_message, publish
from app.services.outcomes import mark_lost
from app.services.transitions import transition
from app.models import JobStatus

log = logging.getLogger("frameshift.monitor")


def reap_lost(registry: Registry) -> int:
    """Fail (or re-queue) each active job whose follower went silent; return how many."""
    now = time.time()
    jobs = db.session.execute(select(Job).where(Job.status.in_([s.value for s in ACTIVE]))).scalars().all()
    count = 0
    for job in jobs:
        name = job.follower or "?"
        if registry.online(name, now):
            continue
        if name not in registry.followers:
            registry.grace({name})  # first time we hear of it: give it one window
            continue
        old_task = job.task_id
        log.warning("follower %s was lost; job %s (attempt %s) given up", name, job.id, job.attempt)
        mark_lost(job, name)
        # If the follower comes back (it was paused, not dead), the attempt must stop, not go on.
        request_stop(old_task, f"follower {name} was lost")
        count += 1
        publish(job_message(job.to_dict()))
    if count:
        db.session.commit()
    return count


def enforce_cancels(celery_app: Celery) -> int:
    """Terminate attempts that ignored a cancel; mark them cancelled when they stay silent."""
    grace = current_app.config.get("CANCEL_GRACE", 8)
    now = utcnow()
    jobs = db.session.execute(
        select(Job).where(Job.status.in_([s.value for s in ACTIVE]), Job.cancel_requested_at.is_not(None))
    ).scalars().all()
    changed = 0
    for job in jobs:
        waited = now - job.cancel_requested_at
        if waited > timedelta(seconds=grace * 3):
            transition(job, JobStatus.CANCELLED, error="cancelled by user (the follower did not confirm)")
            publish(job_message(job.to_dict()))
            changed += 1
        elif waited > timedelta(seconds=grace) and job.task_id:
            try:
                celery_app.control.revoke(job.task_id, terminate=True, signal="SIGTERM")
            except Exception as exc:  # noqa: BLE001
                log.warning("revoke of %s failed: %s", job.task_id, exc)
    if changed:
        db.session.commit()
    return changed
