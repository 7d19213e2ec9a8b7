"""Just-in-time dispatch: hand a waiting job to a follower only when it has a free slot."""

from __future__ import annotations

import logging
import os
import time
import uuid
from datetime import datetime

from celery import Celery
from celery.utils import worker_direct
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import core, db, redis_store
from app.models import Attempt, Job, JobStatus
from app.monitor import schedule_gate
from app.monitor.reaper import CLAIM_TTL
from app.monitor.registry import Registry
from app.monitor.slots import Slot, draining_names, free_slots, waiting_reason
from app.monitor.split_decide import decide_jobs
from app.services.live import live_message, publish_many
from app.services.settings import QUEUE_PAUSED, get_setting
from app.services.transitions import transition
from tasks import keys
from tasks.signing import DEFAULT_PAYLOAD_TTL, sign

log = logging.getLogger("frameshift.monitor")
SCAN_FACTOR = 20
REASON_SCAN = 200


# Nothing queued, nothing to do: a whole round cost ~1.6 ms of CPU at rest (bench/footprint.py), this probe ~0.1 ms.
ANY_QUEUED_JOB = select(Job.id).where(Job.status == JobStatus.QUEUED.value).limit(1)


def jobs_queued() -> bool:
    """Return True when at least one job waits in the queue (one indexed probe)."""
    return core(ANY_QUEUED_JOB).first() is not None


def send_batch(celery_app: Celery, tasks: list[tuple[str, str, str, dict, str]]) -> None:
    """Send (task name, follower, task id, signed payload, label) to each follower's own queue in one batch."""
    with celery_app.producer_or_acquire() as producer, producer.batch():
        for name, follower, task_id, payload, label in tasks:
            celery_app.send_task(
                name,
                args=[payload],
                task_id=task_id,
                queue=worker_direct(follower),
                producer=producer,
                # What Flower shows as the task's arguments; Celery's own repr of the payload cost
                # more than the rest of the send (celery.utils.saferepr over every field).
                argsrepr=f"[{label}: {payload['input']}]",
                kwargsrepr="{}",
            )


def payload_ttl() -> int:
    """Seconds a signed payload stays valid (TASK_PAYLOAD_TTL, default 24 h); a bad value falls back to the default."""
    raw = current_app.config.get("TASK_PAYLOAD_TTL") or os.environ.get("TASK_PAYLOAD_TTL") or DEFAULT_PAYLOAD_TTL
    try:
        ttl = int(raw)
    except (TypeError, ValueError):
        ttl = 0
    if ttl <= 0:
        log.warning("TASK_PAYLOAD_TTL=%r is not a whole number of seconds above 0; using %s", raw, DEFAULT_PAYLOAD_TTL)
        return DEFAULT_PAYLOAD_TTL
    return ttl


def payload_for(job: Job, task_id: str) -> dict:
    """Return the signed payload a follower receives, bound to its task id and an expiry (epoch seconds)."""
    body = {
        "job_id": job.id,
        "attempt": job.attempt,
        "task_id": task_id,
        "expires": int(time.time()) + payload_ttl(),
        "input": job.input_path,
        "output": job.output_path,
        "spec": job.spec,
    }
    return sign(body, current_app.config["SHARED_TOKEN"])


def stop_result_subscriptions(celery_app: Celery) -> None:
    """Keep send_task from subscribing this process to each task's result channel (call on the sending thread).

    With the Redis result backend, send_task subscribes the sender to the task's result channel (so that
    AsyncResult.get() could wait without polling) and unsubscribes when the AsyncResult is dropped: two round
    trips per job. The monitor never waits on a result (it reads them with MGET at a task's final event), so
    they are pure cost. Only the monitor does this; the backend is per thread.
    """
    celery_app.backend.on_task_call = lambda producer, task_id: None


def dispatch_ready(
    celery_app: Celery,
    registry: Registry,
    sent: dict[str, int] | None = None,
    now: datetime | None = None,
    slots: list[Slot] | None = None,
    paused: bool | None = None,
) -> int:
    """Send as many waiting jobs as there are free slots; return how many were sent.

    Jobs that cannot go now get a waiting_reason (first REASON_SCAN in queue order). Each sent
    attempt's task id -> job id goes into sent (the event handler's index). The weekly schedules are
    judged at now (default: the leader's local clock): outside the queue's hours nothing starts, outside
    a library's hours its jobs wait and the others go on. slots: those the round's split dispatcher left;
    paused: whether the queue is paused, when that dispatcher read it in the same round.
    """
    if not jobs_queued():
        return 0
    if paused is None:
        paused = bool(get_setting(QUEUE_PAUSED, False))
    gate = schedule_gate.current(now)
    off_hours = None if paused else gate.queue_reason()
    closed = {} if paused or off_hours else gate.closed()
    slots = [] if paused or off_hours else (free_slots(registry) if slots is None else slots)
    capacity = sum(s.free for s in slots)
    draining = draining_names()
    # Columns only: the scan reads REASON_SCAN rows or more each round; only the jobs that change are loaded whole.
    # Jobs of a library outside its hours are left out here, so they never block the jobs behind them.
    query = select(Job.id, Job.required_encoder, Job.waiting_reason).where(Job.status == JobStatus.QUEUED.value)
    candidates = db.session.execute(
        (query.where(schedule_gate.not_in(closed)) if closed else query)
        .order_by(Job.priority.desc(), Job.position, Job.id)
        .limit(max(capacity * SCAN_FACTOR, REASON_SCAN))
    ).all()
    picked: list[tuple[int, str]] = []
    reasons: dict[str | None, str] = {}
    new_reasons = schedule_gate.held_reasons(closed, REASON_SCAN) if gate.due("job reasons") else {}
    for job_id, need, current in candidates:
        slot = next((s for s in slots if not need or need in s.encoders), None)
        if slot is None:
            if need not in reasons:
                reasons[need] = off_hours or waiting_reason(need, registry, draining, paused)
            if current != reasons[need]:
                new_reasons[job_id] = reasons[need]
            continue
        picked.append((job_id, slot.name))
        slot.free -= 1
        if slot.free == 0:
            slots.remove(slot)
        else:
            slots.sort(key=lambda s: (-s.free, s.name))
    loaded: dict[int, Job] = {}
    if picked or new_reasons:
        query = select(Job).where(
            Job.id.in_([i for i, _ in picked] + list(new_reasons)), Job.status == JobStatus.QUEUED.value
        )
        if picked:
            query = query.options(selectinload(Job.attempts))  # each gets an attempt: one query, not one each
        loaded = {job.id: job for job in db.session.execute(query).scalars()}
    messages = []
    for job_id, reason in new_reasons.items():
        if job_id in loaded:
            loaded[job_id].waiting_reason = reason
            messages.append(live_message(loaded[job_id]))
    undecided = [loaded[job_id] for job_id, _ in picked if job_id in loaded and loaded[job_id].split_state is None]
    if undecided:
        started = decide_jobs(registry, undecided, messages=messages)  # split ones start here, never whole by a race
        picked = [(job_id, name) for job_id, name in picked if job_id not in started]
    chosen = [(loaded[job_id], name) for job_id, name in picked if job_id in loaded]
    send_jobs(celery_app, chosen, sent if sent is not None else {})
    db.session.commit()
    publish_many(messages)
    return len(chosen)


def send_jobs(celery_app: Celery, chosen: list[tuple[Job, str]], sent: dict[str, int]) -> None:
    """Make a new attempt of each job, commit them in one transaction, then send them in one Redis round trip.

    One commit per batch, not per job: bench/leader_scale.py found a commit per job (and the reloads
    of every expired row after it) to be most of the monitor's time with a deep queue. The messages
    go through one kombu publish batch (a Redis pipeline) for the same reason.
    """
    prepared = []
    for job, follower in chosen:
        task_id = str(uuid.uuid4())
        job.attempt += 1
        job.task_id = task_id
        job.follower = follower
        job.attempts.append(Attempt(number=job.attempt, task_id=task_id, follower=follower))
        transition(job, JobStatus.DISPATCHED)
        # Built before the commit, which expires every loaded row (reading them after it reloads each one).
        prepared.append((job, job.id, follower, task_id, payload_for(job, task_id), live_message(job)))
    if not prepared:
        return
    db.session.commit()  # the attempts exist before any event about them can arrive
    try:
        send_batch(
            celery_app,
            [
                ("transcode.run", follower, task_id, payload, f"job {job_id} attempt {payload['attempt']}")
                for _job, job_id, follower, task_id, payload, _message in prepared
            ],
        )
    except Exception as exc:  # noqa: BLE001
        log.error("could not send %d jobs: %s", len(prepared), exc)
        give_back([job for job, *_ in prepared], f"could not reach the broker: {exc}")
        raise
    for _job, job_id, _follower, task_id, _payload, _message in prepared:
        sent[task_id] = job_id  # from before the commit: reading job.id now would reload the row
    publish_many([message for *_, message in prepared])


def give_back(jobs: list[Job], reason: str) -> None:
    """Queue again each job whose message may not have gone, once no follower can start that attempt.

    A failed publish batch leaves delivery uncertain: a message may have reached its follower. Taking
    the attempt's claim for the leader (one pipeline) stops any follower from starting it; a job whose
    claim cannot be taken (Redis unreachable, or a follower holds it) stays dispatched for the reaper.
    """
    try:
        with redis_store.client.pipeline(transaction=False) as pipe:
            for job in jobs:
                pipe.set(keys.claim(job.task_id), keys.LEADER_CLAIM, nx=True, ex=CLAIM_TTL)
            claimed = pipe.execute()
    except Exception as exc:  # noqa: BLE001  (cannot know: assume they went, never run one twice)
        log.warning("could not take the claims of %d unsent jobs (%s); the reaper will settle them", len(jobs), exc)
        claimed = [False] * len(jobs)
    for job, mine in zip(jobs, claimed):
        if mine:
            transition(job, JobStatus.QUEUED, attempt_outcome="abandoned")
            job.waiting_reason = reason
    db.session.commit()
    publish_many([live_message(job) for job in jobs])
