"""How the monitor writes progress to the jobs' rows: at most every DB_PROGRESS_INTERVAL per job, running jobs in one
UPDATE for all of them. EventHandler (app/monitor/events.py) takes the events and keeps their figures here."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import FINISHED, Job
from app.services.outcomes import apply_progress, apply_running_progress

# Progress goes live at once (the UI's bars and figures come from the live channel); the row is written at most
# every 2 s per job, for a page loaded meanwhile and the API's readers. Once a second was ~4 writes and commits of
# a 30 s clip's ~3.8 s job, ~0.85 ms each on the monitor (docs/benchmarks.md, fix 47).
DB_PROGRESS_INTERVAL = 2.0
PROGRESS_FIELDS = ("percent", "fps", "speed", "eta", "out_size", "argv", "duration", "stage")
SET_ONCE = {"argv", "duration"}  # sent with the first reports: those go through apply_progress


class ProgressRows:
    """The figures of reports waiting for their row (pending), when each row was last written (written), the set-once
    figures each row holds (once_written); EventHandler holds the state and the lock (both threads use it)."""

    pending: dict[str, dict[str, Any]]
    written: dict[str, float]
    once_written: dict[str, set[str]]
    running: set[str]
    lock: threading.RLock

    def keep(self, job_id: int, task_id: str, event: dict[str, Any]) -> dict[str, Any]:
        """Keep a report's figures for its row's next write (those the row holds once already left out); return
        all its figures, for the live message."""
        fields = {k: event.get(k) for k in PROGRESS_FIELDS}
        kept = self.once_written.get(task_id, ())  # in the row already: the write needs the other figures alone
        self.pending.setdefault(task_id, {"_job_id": job_id}).update(
            {k: v for k, v in fields.items() if v is not None and k not in kept}
        )
        return fields

    def flush(self) -> None:
        """Write pending progress whose job was last written DB_PROGRESS_INTERVAL ago or more.

        The loop calls this twice a second; writing every pending job each time wrote each progress event
        (one in two inline, the other here), twice the rate this class promises, at ~2.7 ms of CPU a write
        (bench/footprint.py). What is not due yet goes at the next tick that finds it due.
        """
        with self.lock:
            now = time.monotonic()
            due = [tid for tid in self.pending if now - self.written.get(tid, 0) >= DB_PROGRESS_INTERVAL]
            if due and self.write_progress(due):
                db.session.commit()

    def write_progress(self, task_ids: list[str], loaded: dict[int, Job] | None = None) -> bool:
        """Copy pending progress of task_ids onto their jobs (no commit); return True if any was written."""
        batch = {tid: self.pending.pop(tid) for tid in task_ids if self.pending.get(tid)}
        if not batch:
            return False
        wrote = False
        if loaded is None:
            plain = [tid for tid, fields in batch.items() if tid in self.running and not SET_ONCE & fields.keys()]
            if plain:
                self.write_plain({tid: batch.pop(tid) for tid in plain})
                wrote = True
        if not batch:
            return wrote
        if loaded is None:
            ids = {fields["_job_id"] for fields in batch.values()}
            loaded = {job.id: job for job in db.session.execute(select(Job).where(Job.id.in_(ids))).scalars()}
        for tid, fields in batch.items():
            job = loaded.get(fields.pop("_job_id"))
            if job is None or job.task_id != tid or job.status_enum in FINISHED:
                continue
            apply_progress(job, fields)
            self.written[tid] = time.monotonic()
            self.once_written.setdefault(tid, set()).update(SET_ONCE & fields.keys())
            wrote = True
        return wrote

    def write_plain(self, batch: dict[str, dict[str, Any]]) -> None:
        """The figures of running jobs in one UPDATE for all of them (outcomes.apply_running_progress). Loading
        and flushing each Job was most of the monitor's time at 200 slots (py-spy, docs/benchmarks.md fix 12)."""
        now = time.monotonic()
        apply_running_progress([(fields["_job_id"], tid, fields) for tid, fields in batch.items()])
        for tid in batch:
            self.written[tid] = now
