"""Turn Celery events into job changes in the database."""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import Celery
from sqlalchemy import select

from app.extensions import db
from app.models import FINISHED, Job
from app.monitor.registry import Registry
from app.services.live import job_message, publish
from app.services.outcomes import apply_progress, mark_exception, mark_running, mark_succeeded
from tasks.errors import TranscodeInterrupted

log = logging.getLogger("frameshift.monitor")
TERMINAL_EVENTS = {"task-succeeded", "task-failed", "task-revoked", "task-rejected"}
DB_PROGRESS_INTERVAL = 1.0


class EventHandler:
    """Apply events; progress goes live at once and to the database at most once a second per job."""

    def __init__(self, celery_app: Celery, registry: Registry) -> None:
        self.celery_app = celery_app
        self.registry = registry
        self.pending: dict[str, dict[str, Any]] = {}
        self.written: dict[str, float] = {}
        self.finished_any = False

    def job_for(self, task_id: str | None) -> Job | None:
        """Return the job whose current attempt is task_id."""
        if not task_id:
            return None
        return db.session.execute(select(Job).where(Job.task_id == task_id)).scalar()

    def handle(self, event: dict[str, Any]) -> None:
        """Apply one event."""
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
        if not kind.startswith("task-") or kind == "task-sent":
            return
        task_id = event.get("uuid")
        if kind == "task-progress":
            self.progress(task_id, event)
            return
        job = self.job_for(task_id)
        if job is None:
            return
        if kind == "task-started":
            if mark_running(job, hostname):
                db.session.commit()
                publish(job_message(job.to_dict()))
        elif kind in TERMINAL_EVENTS:
            self.pending.pop(task_id, None)
            self.finish(job, kind, event)

    def progress(self, task_id: str, event: dict[str, Any]) -> None:
        """Publish progress now; keep it for the next database flush."""
        job_id = self.pending.get(task_id, {}).get("_job_id")
        if job_id is None:
            job = self.job_for(task_id)
            if job is None or job.status_enum in FINISHED:
                return
            job_id = job.id
        fields = {k: event.get(k) for k in ("percent", "fps", "speed", "eta", "out_size", "argv", "duration", "stage")}
        self.pending.setdefault(task_id, {"_job_id": job_id}).update({k: v for k, v in fields.items() if v is not None})
        publish(
            {
                "type": "progress",
                "id": job_id,
                "status": "running",
                "follower": event.get("hostname"),
                "ts": event.get("ts"),
                **{k: fields[k] for k in ("percent", "fps", "speed", "eta", "out_size")},
            }
        )
        if time.monotonic() - self.written.get(task_id, 0) >= DB_PROGRESS_INTERVAL or fields.get("argv"):
            self.flush(task_id)

    def flush(self, task_id: str | None = None) -> None:
        """Write pending progress to the database."""
        ids = [task_id] if task_id else list(self.pending)
        wrote = False
        for tid in ids:
            fields = self.pending.pop(tid, None)
            if not fields:
                continue
            job = db.session.get(Job, fields.pop("_job_id"))
            if job is None or job.task_id != tid or job.status_enum in FINISHED:
                continue
            apply_progress(job, fields)
            self.written[tid] = time.monotonic()
            wrote = True
        if wrote:
            db.session.commit()

    def finish(self, job: Job, kind: str, event: dict[str, Any]) -> None:
        """Record the end of an attempt from the result backend (the event carries only a repr)."""
        if job.status_enum in FINISHED:
            return
        result = self.celery_app.AsyncResult(job.task_id)
        try:
            value, state = result.result, result.state
        except Exception as exc:  # noqa: BLE001  (an exception class we cannot rebuild)
            value, state = RuntimeError(event.get("exception") or str(exc)), "FAILURE"
        if kind == "task-succeeded" and isinstance(value, dict):
            mark_succeeded(job, value)
        elif kind == "task-revoked":
            mark_exception(
                job, RuntimeError("the task was revoked" + (" (terminated)" if event.get("terminated") else ""))
            )
        else:
            if state != "FAILURE" or not isinstance(value, BaseException):
                value = RuntimeError(event.get("exception") or "the task failed")
            if isinstance(value, TranscodeInterrupted) and job.follower in self.registry.followers:
                # It is shutting down: do not hand the re-queued job straight back to it.
                self.registry.followers[job.follower].shutting_down = True
            mark_exception(job, value)
        self.written.pop(job.task_id or "", None)
        db.session.commit()
        self.finished_any = True
        publish(job_message(job.to_dict()))
