"""Settle unfinished jobs from the result backend: after a monitor start, and as a periodic sweep."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import core, db
from app.models import ACTIVE_VALUES, Follower, Job
from app.monitor.registry import Registry
from app.services.live import live_message, publish
from app.services.outcomes import apply_progress, end_attempt, mark_running

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


def backend_states(celery_app: Celery, task_ids: list[str]) -> dict[str, tuple[str, Any]]:
    """Return (state, value) of each task from the result backend, in one MGET.

    The same meta AsyncResult(task_id).state/.result give, read for many tasks in one round trip;
    a result that cannot be decoded (an exception class we cannot rebuild) comes back as
    ("UNREADABLE", the error). Redis errors propagate: the caller's step fails and is retried later.
    """
    if not task_ids:
        return {}
    backend = celery_app.backend
    raws = backend.mget([backend.get_key_for_task(t) for t in task_ids])
    states: dict[str, tuple[str, Any]] = {}
    for task_id, raw in zip(task_ids, raws):
        if raw is None:
            states[task_id] = ("PENDING", None)
            continue
        try:
            meta = backend.decode_result(raw)
            states[task_id] = (meta["status"], meta.get("result"))
        except Exception as exc:  # noqa: BLE001
            states[task_id] = ("UNREADABLE", exc)
    return states


def active_jobs() -> list[Job]:
    """Return the dispatched and running jobs, their attempts loaded in one more query (settling touches them)."""
    query = select(Job).where(Job.status.in_(ACTIVE_VALUES)).options(selectinload(Job.attempts))
    return list(db.session.execute(query).scalars())


def readable(state: str, value: Any) -> tuple[str, Any]:
    """Turn an unreadable result into the failure it stands for."""
    return ("FAILURE", RuntimeError(str(value))) if state == "UNREADABLE" else (state, value)


def settle(job: Job, state: str, value: Any) -> bool:
    """Apply a final backend state to job (outcomes.end_attempt decides); return True when its attempt ended."""
    return end_attempt(job, state, value)


def reconcile(celery_app: Celery, registry: Registry) -> dict[str, int]:
    """Apply final results that events did not deliver; give live attempts a heartbeat window."""
    counts = {"succeeded": 0, "failed": 0, "running": 0, "waiting": 0}
    jobs = active_jobs()
    states = backend_states(celery_app, [job.task_id for job in jobs if job.task_id])
    _followers = db.session.execute(select(Follower)).scalars().all()  # held: settling counts on them
    for job in jobs:
        state, value = readable(*states.get(job.task_id or "", ("PENDING", None)))
        if settle(job, state, value):
            counts["succeeded" if state == "SUCCESS" else "failed"] += 1
        elif state in ("STARTED", "PROGRESS"):
            mark_running(job)
            if isinstance(value, dict):
                apply_progress(job, value)
            counts["running"] += 1
        else:
            counts["waiting"] += 1
        publish(live_message(job))
    live = {job.follower for job in jobs if job.follower and job.status in ACTIVE_VALUES}
    db.session.commit()
    registry.grace(live)
    log.info("reconciled unfinished jobs: %s", counts)
    return counts


def sweep(celery_app: Celery) -> int:
    """Settle active jobs whose final event never arrived (lost in a broker outage); return how many.

    Every SWEEP_EVERY seconds, so it reads two columns of the active jobs and builds only the jobs whose
    attempt has ended (building every active job with its attempts was 17 % of the monitor's main thread at
    800 running jobs: py-spy, docs/benchmarks.md fix 13)."""
    active = ACTIVE_VALUES
    rows = core(select(Job.id, Job.task_id).where(Job.status.in_(active), Job.task_id.is_not(None)))
    by_task = {task_id: job_id for job_id, task_id in rows}
    states = backend_states(celery_app, list(by_task))
    ended_ids = [by_task[t] for t, (state, _) in states.items() if state in (*FINAL_STATES, "UNREADABLE")]
    if not ended_ids:
        return 0
    query = select(Job).where(Job.id.in_(ended_ids), Job.status.in_(active)).options(selectinload(Job.attempts))
    jobs = [job for job in db.session.execute(query).scalars() if by_task.get(job.task_id or "") == job.id]
    _followers = db.session.execute(select(Follower)).scalars().all()
    settled = 0
    for job in jobs:
        state, value = readable(*states[job.task_id])
        if settle(job, state, value):
            log.info("job %s settled from the result backend (%s); its final event was missed", job.id, state)
            publish(live_message(job))
            settled += 1
    if settled:
        db.session.commit()
    return settled
