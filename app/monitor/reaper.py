"""Find work that nobody is doing any more: lost followers, messages nobody took, ignored cancels."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from celery import Celery
from flask import current_app
from sqlalchemy import select

from app.extensions import core, db, redis_store
from app.models import ACTIVE, ACTIVE_VALUES, Job, JobStatus, utcnow
from app.monitor.reconcile import FINAL_STATES, backend_state, settle
from app.monitor.registry import Registry
from app.services.jobs import request_stop
from app.services.live import live_message, publish
from app.services.outcomes import mark_lost, mark_not_taken, mark_running, mark_silent
from app.services.transitions import transition
from tasks import keys

log = logging.getLogger("frameshift.monitor")
# A dispatched job that its (live) follower has not taken after this many lost-follower windows
# had its message lost (a broker restart): it goes back to the queue.
NOT_TAKEN_WINDOWS = 3
MIN_NOT_TAKEN = 15.0
CLAIM_TTL = 7 * 24 * 3600  # as long as the follower's own claim
# A running attempt renews its lease (TTL 30 s by default) about twice a second; one that has had
# none for this long on top has stopped living even though its follower still sends heartbeats.
LEASE_GRACE = 10.0
# Leases are read at most this often (a pipeline of EXISTS, one a running attempt); in between the reaper judges no
# attempt by its lease. An attempt silent for LEASE_GRACE is then given up within LEASE_GRACE + this, where the
# once-a-second read cost ~0.3 ms of the monitor's CPU a second per running job set (docs/benchmarks.md, fix 45).
LEASE_CHECK_EVERY = 3.0
# The housekeeping's one read of the jobs that are out, once a second while any is (fix 22): the reaper's columns,
# the cancel flag for the enforcer and the follower for the busy counts. Each of the three read the jobs itself
# before (six statements a second with one job running, four of them built and keyed anew each time).
ACTIVE_ROWS = select(Job.id, Job.status, Job.task_id, Job.follower, Job.dispatched_at, Job.cancel_requested_at).where(
    Job.status.in_(ACTIVE_VALUES)
)
CANCELS_PENDING = select(Job).where(Job.status.in_(ACTIVE_VALUES), Job.cancel_requested_at.is_not(None))


def leader_claims(task_id: str | None) -> bool:
    """Take the attempt's claim for the leader; True means no follower ever started it (and none ever will)."""
    if not task_id:
        return True
    try:
        return bool(redis_store.client.set(keys.claim(task_id), keys.LEADER_CLAIM, nx=True, ex=CLAIM_TTL))
    except Exception as exc:  # noqa: BLE001  (cannot know: assume it ran, never run it twice)
        log.warning("could not check whether %s started: %s", task_id, exc)
        return False


def fence_out(task_id: str | None, reason: str) -> bool:
    """Give a running attempt up, atomically with its follower's publish: False while it is renaming its
    output into place (its result is on the way: keep the job), True when given up (it can never publish)."""
    if not task_id:
        return True
    try:
        return bool(
            redis_store.client.eval(
                keys.GIVE_UP_SCRIPT, 2, keys.cancel(task_id), keys.fence(task_id), reason, CLAIM_TTL
            )
        )
    except Exception as exc:  # noqa: BLE001  (cannot fence: try again next tick rather than risk two outputs)
        log.warning("could not give up %s yet: %s", task_id, exc)
        return False


def leases_present(task_ids: list[str]) -> dict[str, bool] | None:
    """Return whether each attempt's lease exists, in one round trip; None when Redis cannot tell."""
    try:
        with redis_store.client.pipeline(transaction=False) as pipe:
            for task_id in task_ids:
                pipe.exists(keys.lease(task_id))
            return {task_id: bool(found) for task_id, found in zip(task_ids, pipe.execute())}
    except Exception:  # noqa: BLE001
        return None


def lease_gone(task_id: str | None, now: float, leases: dict[str, bool] | None, missing: dict[str, float]) -> bool:
    """Return True when the attempt's lease has been missing for LEASE_GRACE seconds in a row."""
    if not task_id or leases is None or task_id not in leases:
        return False  # cannot tell: judge nothing
    if leases[task_id]:
        missing.pop(task_id, None)
        return False
    first = missing.setdefault(task_id, now)
    return now - first >= LEASE_GRACE


def active_rows() -> list[Any]:
    """The columns of every job that is out (dispatched or running) that the housekeeping needs (fix 22)."""
    return list(core(ACTIVE_ROWS).all())


def reap_lost(celery_app: Celery, registry: Registry, rows: list[Any] | None = None) -> int:
    """End each active job whose follower went silent (or never took it); return how many changed.
    rows: active_rows() when the caller has just read them."""
    now = time.time()
    not_taken_after = max(MIN_NOT_TAKEN, NOT_TAKEN_WINDOWS * registry.lost_after)
    # A split job has no follower of its own (its pieces do: app/monitor/split_monitor.py reaps them). Columns of
    # each active job, and a whole Job only for one that needs action: building every active job once a second was
    # the reaper's cost while jobs run (docs/benchmarks.md, fix 16).
    rows = [row for row in (active_rows() if rows is None else rows) if row.follower is not None]
    running_now = {row.task_id for row in rows if row.status == JobStatus.RUNNING.value and row.task_id}
    leases: dict[str, bool] | None = {}
    if running_now:
        leases = None  # between two reads: judge no attempt by its lease
        if now - registry.lease_checked_at >= LEASE_CHECK_EVERY:
            registry.lease_checked_at = now
            leases = leases_present(list(running_now))
    count = 0
    for row in rows:
        name = row.follower or "?"
        if name not in registry.followers:
            registry.grace({name})  # first time we hear of it: give it one window
            continue
        lost = registry.lost(name, now)
        waited = (utcnow() - row.dispatched_at).total_seconds() if row.dispatched_at else 0.0
        dispatched = row.status == JobStatus.DISPATCHED.value
        said_goodbye = dispatched and not lost and registry.followers[name].offline
        stale_dispatch = dispatched and waited > not_taken_after
        silent = (
            not lost
            and row.status == JobStatus.RUNNING.value
            and lease_gone(row.task_id, now, leases, registry.lease_missing)
        )
        if not (said_goodbye or lost or stale_dispatch or silent):
            continue
        job = db.session.get(Job, row.id)
        if job is None or job.task_id != row.task_id or job.status != row.status:
            continue  # it moved on since the columns were read
        if said_goodbye and leader_claims(job.task_id):
            # It said goodbye (worker-offline) without taking the job: no need to wait out its silence.
            log.warning("follower %s stopped before taking job %s; queueing it again", name, job.id)
            old_task = job.task_id
            mark_not_taken(job, name)
            request_stop(old_task, "given up: the follower stopped")
            count += 1
            publish(live_message(job))
            continue
        if not lost and not stale_dispatch and not silent:
            continue
        # Before giving up, ask the result backend: the attempt may have ended and only its event was missed.
        state, value = backend_state(celery_app, job.task_id)
        if state in FINAL_STATES and settle(job, state, value):
            log.info("job %s ended on %s while unheard: %s", job.id, name, state)
        elif lost:
            old_task = job.task_id
            claimed_by_leader = leader_claims(old_task)  # also blocks a late start of this attempt
            started = job.status == JobStatus.RUNNING.value or not claimed_by_leader
            if started and not fence_out(old_task, f"follower {name} was lost"):
                log.info("follower %s is publishing job %s's output; waiting for its result", name, job.id)
                continue
            log.warning(
                "follower %s was lost; job %s (attempt %s, %s) given up",
                name,
                job.id,
                job.attempt,
                "running" if started else "never started",
            )
            mark_lost(job, name, started, registry.loss_reason(name, now))
            # If the follower comes back (it was paused, not dead), the attempt must stop, not go on.
            request_stop(old_task, f"follower {name} was lost")
        elif silent:
            old_task = job.task_id
            if not fence_out(old_task, f"given up: follower {name} stopped reporting on it"):
                continue
            log.warning("job %s on %s has renewed no lease for %.0f s; giving it up", job.id, name, LEASE_GRACE)
            mark_silent(job, name)
            request_stop(old_task, f"given up: follower {name} stopped reporting on it")
        elif leader_claims(job.task_id):
            log.warning("follower %s did not take job %s within %.0f s; queueing it again", name, job.id, waited)
            old_task = job.task_id
            mark_not_taken(job, name, waited)
            request_stop(old_task, "given up: the follower did not take it")
        else:
            mark_running(job)  # the follower holds the claim: it started, only the event was missed
        count += 1
        publish(live_message(job))
    for task_id in [t for t in registry.lease_missing if t not in running_now]:
        registry.lease_missing.pop(task_id, None)
    if count:
        db.session.commit()
    return count


def enforce_cancels(celery_app: Celery, rows: list[Any] | None = None) -> int:
    """Terminate attempts that ignored a cancel; mark them cancelled when they stay silent.
    rows: active_rows() when the caller has just read them (a Job is loaded only for a cancel that is pending)."""
    grace = current_app.config.get("CANCEL_GRACE", 8)
    now = utcnow()
    if rows is None:
        jobs = db.session.execute(CANCELS_PENDING).scalars().all()
    else:
        loaded = (db.session.get(Job, row.id) for row in rows if row.cancel_requested_at is not None)
        jobs = [job for job in loaded if job is not None and job.status_enum in ACTIVE and job.cancel_requested_at]
    changed = 0
    for job in jobs:
        waited = now - job.cancel_requested_at
        if waited > timedelta(seconds=grace * 3):
            transition(job, JobStatus.CANCELLED, error="cancelled by user (the follower did not confirm)")
            publish(live_message(job))
            changed += 1
        elif waited > timedelta(seconds=grace) and job.task_id:
            try:
                celery_app.control.revoke(job.task_id, terminate=True, signal="SIGTERM")
            except Exception as exc:  # noqa: BLE001
                log.warning("revoke of %s failed: %s", job.task_id, exc)
    if changed:
        db.session.commit()
    return changed
