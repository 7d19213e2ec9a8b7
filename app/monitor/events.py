"""Turn Celery events into job changes in the database, a batch of events per transaction."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import Celery
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from app.extensions import core, db
from app.models import ACTIVE_VALUES, FINISHED, Follower, Job, JobStatus
from app.monitor.progress_rows import DB_PROGRESS_INTERVAL, PROGRESS_FIELDS, SET_ONCE, ProgressRows
from app.monitor.reconcile import backend_states
from app.monitor.registry import Registry
from app.services.live import live_message, progress_message, publish_many
from app.services.outcomes import end_attempt, mark_running

log = logging.getLogger("frameshift.monitor")
TERMINAL_EVENTS = {"task-succeeded", "task-failed", "task-revoked", "task-rejected"}
JOB_EVENTS = TERMINAL_EVENTS | {"task-started", "task-progress"}
FINISHED_VALUES = frozenset(s.value for s in FINISHED)
__all__ = ["DB_PROGRESS_INTERVAL", "JOB_EVENTS", "PROGRESS_FIELDS", "SET_ONCE", "EventHandler"]
RUNNING = JobStatus.RUNNING.value


class EventHandler(ProgressRows):
    """Apply events; progress goes live at once and to the database at most every DB_PROGRESS_INTERVAL per job.

    A batch is applied in one transaction and its live messages are published after the commit
    (one commit per event was most of the monitor's time at scale: bench/leader_scale.py).
    """

    def __init__(self, celery_app: Celery, registry: Registry) -> None:
        self.celery_app = celery_app
        self.registry = registry
        self.pending: dict[str, dict[str, Any]] = {}
        self.written: dict[str, float] = {}
        self.finished_any = False
        # Task id -> job id of attempts this monitor sent (the dispatcher fills it); an id it does
        # not know (sent before a restart) is looked up once. Entries are hints: every event is
        # checked against the job's current task id, as the database holds it.
        self.jobs_by_task: dict[str, int] = {}
        # Task ids whose job the last progress batch found running: their progress is written by one UPDATE
        # for all of them (guarded by status and task id in SQL), not by loading each Job (fix 12).
        self.running: set[str] = set()
        # Task id -> its SET_ONCE figures already in its job's row. A follower's reporter keeps the duration in
        # every report once it knows it, so without this every write after the one with the duration went through
        # the Job (a full row read and an ORM flush) instead of write_plain's one UPDATE (fix 43).
        self.once_written: dict[str, set[str]] = {}
        self.outbox: list[dict[str, Any]] = []
        # The receiving thread takes the progress of attempts read running (fast_progress, fix 42); this lock keeps it
        # out while the loop applies a batch, writes progress or ends attempts by other means (the reaper, the cancel
        # enforcer, the sweep, a reconcile: Monitor holds it around each), so a figure never goes live after its end.
        self.lock = threading.RLock()

    def handle(self, event: dict[str, Any]) -> bool:
        """Apply one event (its own transaction)."""
        return self.handle_batch([event])

    def handle_batch(self, events: list[dict[str, Any]]) -> bool:
        """Apply events in order in one transaction, then publish what changed; True when committed."""
        with self.lock:
            self.outbox = []
            self._apply(events)
            db.session.commit()
            outbox, self.outbox = self.outbox, []
            publish_many(outbox)
        return True

    def fast_progress(self, event: dict[str, Any]) -> bool:
        """On the receiving thread: publish a progress report of an attempt the loop last read running at once, and
        keep its figures for the loop's next write (flush); return False to leave the event to the loop.

        Such a report changes no status and needs no read: on the loop it was a wake-up, a batch and a commit each,
        ~0.45 ms of the loop's time, ~11 a 30 s clip's job (docs/benchmarks.md, fix 42). The loop keeps everything
        else: reports of attempts it has not read running, the first (with the argv, written at once), those of a
        follower it does not know or thinks offline. A figure the row lacks (the duration) waits in `pending` like
        the others, and the loop's next write takes the path that records it (write_progress)."""
        task_id = event.get("uuid")
        state = self.registry.followers.get(event.get("hostname") or "")
        if not task_id or state is None or state.offline:
            return False
        with self.lock:
            job_id = self.jobs_by_task.get(task_id)
            if job_id is None or task_id not in self.running or event.get("argv"):
                return False  # the argv (the first report) is written at once, by the loop
            state.heard(event.get("timestamp"))  # a sign of life, as Registry.seen counts every event
            fields = self.keep(job_id, task_id, event)
            publish_many([progress_message(job_id, event.get("hostname"), event.get("ts"), fields)])
        return True

    def _apply(self, events: list[dict[str, Any]]) -> None:
        job_events = []
        for event in events:
            kind = event.get("type", "")
            hostname = event.get("hostname")
            # task-sent comes from the sender (the dispatcher itself), not from a follower.
            if hostname and kind.startswith(("worker-", "task-")) and kind != "task-sent":
                self.registry.seen(hostname, event.get("timestamp"))
            if kind == "worker-online":
                self.registry.refresh(self.registry.seen(hostname))
                self.finished_any = True
            elif kind == "worker-offline" and hostname in self.registry.followers:
                self.registry.followers[hostname].offline = True
            elif kind in JOB_EVENTS and event.get("uuid"):
                job_events.append(event)
        if not job_events:
            return
        if all(event["type"] == "task-progress" for event in job_events):
            self.progress_only(job_events)
            return
        jobs = self.load_jobs({event["uuid"] for event in job_events})
        ended = [e["uuid"] for e in job_events if e["type"] in TERMINAL_EVENTS and e["uuid"] in jobs]
        results = self.fetch_results(ended)
        # Held for the batch: mark_succeeded and friends count on follower rows, loaded once here.
        _followers = db.session.execute(select(Follower)).scalars().all() if ended else []
        for event in job_events:
            task_id, kind = event["uuid"], event["type"]
            job = jobs.get(task_id)
            if job is None or job.task_id != task_id:
                continue  # an attempt the job has moved on from
            if kind == "task-progress":
                if job.status_enum not in FINISHED:
                    self.progress(job.id, task_id, event, job)
            elif kind == "task-started":
                if mark_running(job, event.get("hostname")):
                    self.outbox.append(live_message(job))
            else:
                self.pending.pop(task_id, None)
                self.finish(job, kind, event, results[task_id])

    def progress_only(self, events: list[dict[str, Any]]) -> None:
        """A batch of progress alone changes no status: read three columns of its jobs, not whole rows with
        their attempts (building each Job was most of a batch's cost: bench/profile_roles.py); a job is loaded
        whole only for its database write, at most every DB_PROGRESS_INTERVAL."""
        task_ids = {event["uuid"] for event in events}
        if task_ids <= self.running and task_ids <= self.jobs_by_task.keys():
            # Jobs this monitor last read as running: no read (fix 18). Only the monitor ends a running job (the
            # web asks it to: a cancel is a flag), and the loop forgets `running` after any step that ended one
            # (forget_running); the write below is guarded by status and task id in SQL all the same.
            rows = {task_id: (self.jobs_by_task[task_id], RUNNING) for task_id in task_ids}
        else:
            query = select(Job.id, Job.task_id, Job.status).where(self.by_task_ids(task_ids))
            rows = {task_id: (job_id, status) for job_id, task_id, status in core(query)}
            self.remember(task_ids, {task_id: job_id for task_id, (job_id, _) in rows.items()})
            for task_id in task_ids:
                if rows.get(task_id, (None, None))[1] == RUNNING:
                    self.running.add(task_id)
                else:
                    self.running.discard(task_id)
        due: dict[str, None] = {}  # written together after the batch: one statement for the running ones
        for event in events:
            job_id, status = rows.get(event["uuid"], (None, None))
            if job_id is not None and status not in FINISHED_VALUES:
                self.progress(job_id, event["uuid"], event, due=due)
        if due:
            self.write_progress(list(due))

    def by_task_ids(self, task_ids: set[str]) -> Any:
        """The where clause for the jobs of these task ids: by job id where the index knows it."""
        known = {self.jobs_by_task[t] for t in task_ids if t in self.jobs_by_task}
        unknown = [t for t in task_ids if t not in self.jobs_by_task]
        clauses = []
        if known:
            clauses.append(Job.id.in_(known))
        if unknown:
            clauses.append(Job.task_id.in_(unknown))
        return or_(*clauses)

    def remember(self, task_ids: set[str], found: dict[str, int]) -> None:
        """Keep the index to the jobs whose current attempt is each task id; forget the others."""
        for task_id in task_ids:
            if task_id in found:
                self.jobs_by_task[task_id] = found[task_id]
            else:
                self.jobs_by_task.pop(task_id, None)

    def load_jobs(self, task_ids: set[str]) -> dict[str, Job]:
        """Return the job, with its attempts, of each task id, in one query (two with the attempts)."""
        query = select(Job).where(self.by_task_ids(task_ids)).options(selectinload(Job.attempts))
        by_task = {job.task_id: job for job in db.session.execute(query).scalars()}
        jobs = {task_id: by_task[task_id] for task_id in task_ids if task_id in by_task}
        self.remember(task_ids, {task_id: job.id for task_id, job in jobs.items()})
        return jobs

    def fetch_results(self, task_ids: list[str]) -> dict[str, tuple[str, Any]]:
        """Return (state, value) of each task from the result backend, in one MGET."""
        return backend_states(self.celery_app, task_ids)

    def progress(
        self, job_id: int, task_id: str, event: dict[str, Any], job: Job | None = None, due: dict | None = None
    ) -> None:
        """Publish progress (after the batch's commit); keep it for the next database write (the job is loaded
        then, unless the caller has it; with `due`, the write is left to the caller, for the whole batch)."""
        fields = self.keep(job_id, task_id, event)
        self.outbox.append(progress_message(job_id, event.get("hostname"), event.get("ts"), fields))
        if time.monotonic() - self.written.get(task_id, 0) >= DB_PROGRESS_INTERVAL or fields.get("argv"):
            if due is not None:
                due[task_id] = None
            else:
                self.write_progress([task_id], {job_id: job} if job is not None else None)

    def finish(self, job: Job, kind: str, event: dict[str, Any], result: tuple[str, Any]) -> None:
        """Record the end of an attempt from the result backend (the event carries only a repr)."""
        self.jobs_by_task.pop(job.task_id or "", None)
        self.written.pop(job.task_id or "", None)
        self.once_written.pop(job.task_id or "", None)
        self.running.discard(job.task_id or "")
        if job.status_enum in FINISHED:
            return
        state, value = result
        if kind == "task-succeeded" and state == "SUCCESS" and isinstance(value, dict):
            end_attempt(job, "SUCCESS", value)
        elif kind == "task-revoked":
            end_attempt(job, "REVOKED", None, " (terminated)" if event.get("terminated") else "")
        else:
            if state != "FAILURE" or not isinstance(value, BaseException):
                value = RuntimeError(event.get("exception") or "the task failed")
            end_attempt(job, "FAILURE", value, stopping=self.registry.stopping)
        self.finished_any = True
        self.outbox.append(live_message(job))

    def forget_running(self) -> None:
        """Read the status of every job again at its next progress batch: called after a step other than an event
        (the reaper, the cancel enforcer, the sweep, a reconcile) ended attempts."""
        with self.lock:
            self.running.clear()

    def prune(self, active: set[str] | None = None) -> None:
        """Forget task ids whose attempts are no longer active (ended by the reaper or a sweep); active: the task ids
        of the active jobs when the caller knows them (none out: an empty set), else read."""
        if active is None:
            active = set(core(select(Job.task_id).where(Job.status.in_(ACTIVE_VALUES))).scalars())
        with self.lock:
            for index in (self.jobs_by_task, self.written, self.once_written):
                for task_id in [t for t in index if t not in active]:
                    del index[task_id]
            self.running &= active
