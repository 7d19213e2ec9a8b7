"""Split or whole: the split dispatcher's decision for each queued job, and the start of the split ones.

start_ready runs first in every dispatch round (app/monitor/split_dispatch.py); dispatch_ready decides a job it is
about to send that has no decision yet (app/monitor/dispatcher.py). docs/split.md has the rules (decide).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Job, JobStatus
from app.monitor import schedule_gate
from app.monitor.registry import Registry
from app.services.live import live_message, publish_many
from app.services.media_info import MAX_PROBES_PER_REQUEST, probe_durations
from app.services.split_jobs import decide, needs_length, start_split

log = logging.getLogger("frameshift.monitor")
S = JobStatus


def fleet_slots(registry: Registry, need: str | None) -> int:
    """Return the slots of every usable follower that has the encoder (what could work on one split job)."""
    return sum(
        s.concurrency
        for name, s in registry.followers.items()
        if registry.online(name) and s.trusted and not s.shutting_down and (not need or need in s.encoders)
    )


def input_duration(job: Job) -> Callable[[], float | None]:
    """Return a function giving the input's length (read beforehand by read_lengths, or None when unreadable)."""
    return lambda: job.duration


def read_lengths(jobs: list[Job]) -> None:
    """Read the inputs' lengths of these jobs at once: the file browser's cache first, the rest probed in parallel.

    One batch per round, not one ffprobe after another on the monitor's loop (400 queued jobs on 25 followers
    spent 24 of 27 s there when each job was probed alone).
    """
    wanted = [job for job in jobs if not job.duration]
    roots = current_app.config["MEDIA_ROOTS"]
    for first in range(0, len(wanted), MAX_PROBES_PER_REQUEST):
        batch = wanted[first : first + MAX_PROBES_PER_REQUEST]
        try:
            lengths = probe_durations(sorted({job.input_path for job in batch}), roots)
        except Exception:  # noqa: BLE001  (one refused path must not cost the others their length)
            lengths = {}
            for job in batch:
                try:
                    lengths.update(probe_durations([job.input_path], roots))
                except Exception as exc:  # noqa: BLE001  (unreadable: it runs whole, and says so when it fails)
                    log.warning("could not read the length of job %s's input: %s", job.id, exc)
        for job in batch:
            job.duration = lengths.get(job.input_path)


def start_ready(registry: Registry, capacity: int, closed: dict[int, str] | None = None) -> int:
    """Decide the first queued jobs not decided yet (as many as slots are free); start the split ones.

    Jobs of libraries outside their hours (closed) are left for later."""
    wanted = (Job.split_state.is_(None)) | (Job.split_state.in_(("split", "done")))
    if closed:
        wanted = wanted & schedule_gate.not_in(closed)
    jobs = (
        db.session.execute(
            select(Job)
            .where(Job.status == S.QUEUED.value, wanted)
            .order_by(Job.priority.desc(), Job.position, Job.id)
            .limit(capacity)
        )
        .scalars()
        .all()
    )
    return len(decide_jobs(registry, jobs, defer_whole=True))


# How many split jobs this process has started: the monitor pokes its split monitor after a round that started one
# or sent pieces, and not after the others (fix 29).
STARTED = [0]


def decide_jobs(
    registry: Registry, jobs: list[Job], *, defer_whole: bool = False, messages: list | None = None
) -> set[int]:
    """Decide each queued job (whole or split), start the split ones; return the ids of the started ones.

    start_ready calls this first in every round (defer_whole): a job that runs whole with nothing to say (no note, no
    length read) is left undecided, for dispatch_ready to decide in the transaction that sends it; a round that
    decided only such jobs writes and publishes nothing (fix 50: a commit and a publish a job). What it decided is
    committed and published here. dispatch_ready passes `messages` instead: the decisions go into its own commit, and
    the started jobs' live messages into `messages`, for it to publish after that commit (the jobs it sends whole
    get their own). It decides every job it is about to send that has no decision yet (one committed by the web
    between the two calls of a round, or deferred here), so none runs whole by a race against its spec."""
    slots = {job.id: fleet_slots(registry, job.required_encoder) for job in jobs if job.split_state is None}
    measured = {job.id for job in jobs if job.id in slots and needs_length(job, slots[job.id])}
    read_lengths([job for job in jobs if job.id in measured])
    started: set[int] = set()
    changed = []
    for job in jobs:
        if job.split_state in ("split", "done"):
            split, note = True, None  # a retried split job resumes with the pieces it has
        else:
            split, note = decide(job, slots[job.id], input_duration(job))
        if split:
            start_split(job)
            started.add(job.id)
            STARTED[0] += 1
        elif defer_whole and note is None and job.id not in measured:
            continue  # decided again, the same way, when it is sent
        else:
            job.split_state, job.split_note = "whole", note
        changed.append(job)
    if messages is not None:
        messages.extend(live_message(job) for job in changed if job.id in started)
    elif changed:
        published = [live_message(job) for job in changed]
        db.session.commit()
        publish_many(published)
    return started
