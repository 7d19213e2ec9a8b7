"""What the monitor records when an attempt starts, progresses, ends or is lost."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, update

from app.extensions import core, db
from app.models import ACTIVE, FINISHED, Follower, Job, JobStatus, utcnow
from app.services import failure_reports
from app.services.preferences import auto_retry
from app.services.transitions import transition
from tasks.errors import TranscodeCancelled, TranscodeError, TranscodeInterrupted
from tasks.paths import PathError, resolve_inside, temp_folder
from tasks.signing import PayloadRefused

log = logging.getLogger("frameshift.monitor")

PROGRESS_FIELDS = ("percent", "fps", "speed", "eta", "out_size")
# A job interrupted by follower shutdowns goes back to the queue this many times, then fails.
MAX_INTERRUPTIONS = 3
INTERRUPTED = "interrupted"
ABANDONED = "abandoned"
REFUSED = "refused"


def mark_running(job: Job, follower: str | None = None) -> bool:
    """Record that the attempt started; return True if the status changed."""
    if follower:
        job.follower = follower
    if job.status_enum is JobStatus.DISPATCHED:
        transition(job, JobStatus.RUNNING)
        return True
    return False


def apply_progress(job: Job, fields: dict[str, Any]) -> None:
    """Copy progress figures onto the job."""
    if job.status_enum is JobStatus.DISPATCHED:
        transition(job, JobStatus.RUNNING)
    for key in PROGRESS_FIELDS:
        if fields.get(key) is not None:
            setattr(job, key, fields[key])
    if fields.get("argv"):
        job.argv = fields["argv"]
    if fields.get("duration"):
        job.duration = fields["duration"]
    job.progress_at = utcnow()


# apply_progress for running jobs, many at once (the monitor's batches): one Core UPDATE run for every job,
# the status and the task id checked by the database, a figure not in the report keeping its value;
# updated_at is set by the column's onupdate as for any update.
_JOBS = Job.__table__
_RUNNING_PROGRESS = (
    update(_JOBS)
    .where(_JOBS.c.id == bindparam("b_id"), _JOBS.c.task_id == bindparam("b_tid"), _JOBS.c.status == "running")
    .values(
        {
            **{k: func.coalesce(bindparam(f"b_{k}"), _JOBS.c[k]) for k in PROGRESS_FIELDS},
            "progress_at": bindparam("b_at"),
        }
    )
)


def apply_running_progress(reports: list[tuple[int, str, dict[str, Any]]]) -> None:
    """Copy (job id, task id, figures) onto jobs that are running that attempt; others are left alone."""
    stamp = utcnow()
    rows = [
        {"b_id": job_id, "b_tid": task_id, "b_at": stamp, **{f"b_{k}": fields.get(k) for k in PROGRESS_FIELDS}}
        for job_id, task_id, fields in reports
    ]
    core(_RUNNING_PROGRESS, rows)


def mark_succeeded(job: Job, result: dict[str, Any]) -> None:
    """Record a verified output."""
    if job.status_enum in FINISHED:
        return
    transition(
        job,
        JobStatus.SUCCEEDED,
        output_path=result.get("output") or job.output_path,
        output_size=result.get("output_size"),
        input_size=result.get("input_size") or job.input_size,
        duration=result.get("duration") or job.duration,
        argv=job.argv or result.get("argv"),  # written once, from what the follower ran (its first report)
        exit_code=result.get("exit_code", 0),
        log_tail=result.get("log_tail"),
        result=result,
        error=None,
    )
    _count(job.follower, done=1)


def end_attempt(
    job: Job, state: str, value: Any, detail: str = "", stopping: Callable[[str], None] | None = None
) -> bool:
    """The one place that decides how an attempt ended, from a final state and the value its task left
    (the monitor's events, reconcile after a restart, the sweep and the reaper all bring their evidence
    here); return False when the state is not final. `stopping(follower)` hears of a follower that said
    it is shutting down, so the re-queued job does not go straight back to it."""
    if state == "SUCCESS" and isinstance(value, dict):
        mark_succeeded(job, value)
    elif state == "REVOKED":
        mark_exception(job, RuntimeError("the task was revoked" + detail))
    elif state == "FAILURE":
        exc = (
            value if isinstance(value, BaseException) else RuntimeError(str(value or "") or detail or "the task failed")
        )
        if isinstance(exc, TranscodeInterrupted) and stopping is not None and job.follower:
            stopping(job.follower)
        mark_exception(job, exc)
    else:
        return False
    return True


def mark_exception(job: Job, exc: BaseException | Any) -> None:
    """Record the end of an attempt from the exception its task raised."""
    if job.status_enum in FINISHED:
        return
    if isinstance(exc, TranscodeCancelled) or job.cancel_requested_at is not None:
        transition(
            job, JobStatus.CANCELLED, error="cancelled by user", log_tail=getattr(exc, "log_tail", None) or job.log_tail
        )
        return
    if isinstance(exc, TranscodeInterrupted):
        requeue_interrupted(job, exc.message, exc.log_tail)
        return
    if isinstance(exc, PayloadRefused):
        requeue_refused(job, exc.message)
        return
    if isinstance(exc, TranscodeError):
        failure_reports.keep(job, exc.message, exc.exit_code, getattr(exc, "report", None))
        # Retry only what another follower may do better (the follower says so: it cannot see the file there);
        # never FFmpeg's verdict on the file.
        fail_or_retry(job, exc.message, exc.exit_code, exc.log_tail, retryable=getattr(exc, "retryable", False))
        return
    name = type(exc).__name__
    message = str(exc) or name
    discard_partial(job)  # the task did not end by itself: nothing on the follower cleaned up
    if name == "WorkerLostError":
        # A pool process killed under a running encode is most often the kernel's out-of-memory killer.
        message = (
            f"the worker process on {job.follower} died while converting ({message}); most often the kernel's "
            "out-of-memory killer: give the follower more memory or fewer slots"
        )
    fail_or_retry(job, message, None, None, retryable=name == "WorkerLostError")


def fail_or_retry(
    job: Job, reason: str, exit_code: int | None, log_tail: list[str] | None, retryable: bool = True
) -> None:
    """Fail the job, or queue it again when automatic retries remain and the cause may pass."""
    retries = auto_retry()  # the Settings page's value, else AUTO_RETRY
    follower = job.follower
    # Only attempts that really failed use up automatic retries (not interrupted or abandoned ones).
    failed_before = sum(1 for a in job.attempts[:-1] if a.status == JobStatus.FAILED.value)
    if retryable and failed_before < retries and job.cancel_requested_at is None:
        transition(
            job,
            JobStatus.QUEUED,
            error=f"attempt {job.attempt} failed: {reason}; retrying",
            attempt_outcome=JobStatus.FAILED.value,
            exit_code=exit_code,
        )
        job.attempts[-1].error = reason if job.attempts else None
    else:
        transition(job, JobStatus.FAILED, error=reason, exit_code=exit_code, log_tail=log_tail or job.log_tail)
    _count(follower, failed=1)


def requeue_interrupted(job: Job, reason: str, log_tail: list[str] | None = None) -> None:
    """A follower shut down mid-job: queue the job again (it is not the file's fault), a few times at most."""
    if job.cancel_requested_at is not None:
        transition(job, JobStatus.CANCELLED, error=f"cancelled ({reason})")
        return
    interrupted = sum(1 for a in job.attempts if a.status == INTERRUPTED) + 1
    if interrupted > MAX_INTERRUPTIONS:
        transition(
            job,
            JobStatus.FAILED,
            error=f"{reason} ({interrupted} times in a row; giving up)",
            log_tail=log_tail or job.log_tail,
        )
        _count(job.follower, failed=1)
        return
    requeue(job, f"attempt {job.attempt} {reason}; queued again", INTERRUPTED, reason)


def requeue_refused(job: Job, reason: str) -> None:
    """A follower refused the payload (its SHARED_TOKEN differs, or its clock): not the job's fault, queue it again.

    Never a failure and no retry used up. No loop either: the monitor keeps a follower that refused
    from new jobs until it restarts, and never dispatches to one without a valid token proof.
    """
    follower = db.session.get(Follower, job.follower) if job.follower else None
    if follower is not None:
        info = follower.info or {}
        # Bound to this run of the follower (its advertised start time): a restart clears it.
        follower.info = {**info, "refused": {"reason": reason, "started_at": info.get("started_at")}}
    if job.cancel_requested_at is not None:
        transition(job, JobStatus.CANCELLED, error=f"cancelled ({reason})")
        return
    requeue(job, f"attempt {job.attempt} {reason}; queued again", REFUSED, reason)


def requeue(job: Job, message: str, outcome: str, reason: str) -> None:
    """Put an active job back in the queue, recording why its attempt ended."""
    attempt = job.attempts[-1] if job.attempts else None
    transition(job, JobStatus.QUEUED, error=message, attempt_outcome=outcome)
    if attempt is not None:
        attempt.error = reason


def mark_lost(job: Job, follower: str, started: bool = True, how: str | None = None) -> None:
    """The follower holding this job crashed or stopped answering (`how` says which); started=False when the
    attempt provably never ran."""
    if job.status_enum not in ACTIVE:
        return
    if job.cancel_requested_at is not None:
        transition(job, JobStatus.CANCELLED, error=f"cancelled (follower {follower} was lost)")
        return
    discard_partial(job)
    if not started:
        reason = f"follower {follower} was lost before the job started"
        requeue(job, f"attempt {job.attempt}: {reason}; queued again", ABANDONED, reason)
        return
    fail_or_retry(job, f"follower {follower} was lost" + (f": {how}" if how else ""), None, None, retryable=True)


def mark_silent(job: Job, follower: str) -> None:
    """The attempt stopped renewing its lease while its follower lives on (its result was lost)."""
    discard_partial(job)
    if job.cancel_requested_at is not None:
        transition(job, JobStatus.CANCELLED, error=f"cancelled (follower {follower} stopped reporting)")
        return
    fail_or_retry(job, f"follower {follower} stopped reporting on this job", None, None, retryable=True)


def mark_not_taken(job: Job, follower: str, waited: float | None = None) -> None:
    """The follower never took a dispatched job (its message was lost, or it stopped): queue it again."""
    if job.cancel_requested_at is not None:
        transition(job, JobStatus.CANCELLED, error="cancelled before it started")
        return
    if waited is None:
        reason = f"follower {follower} stopped before taking the job"
    else:
        reason = f"follower {follower} did not take the job within {waited:.0f} s"
    requeue(job, f"attempt {job.attempt}: {reason}; queued again", ABANDONED, reason)


def discard_partial(job: Job) -> None:
    """Delete the temporary output of the current attempt (left behind by a follower that died mid-job)."""
    if not job.task_id or not job.output_path:
        return
    try:
        final = resolve_inside(job.output_path, current_app.config["MEDIA_ROOTS"], must_exist=False)
        folder = temp_folder(final, job.task_id[:8])
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder)
    except (PathError, OSError) as exc:
        log.warning("could not remove the partial output of job %s: %s", job.id, exc)


def _count(name: str | None, done: int = 0, failed: int = 0) -> None:
    if not name:
        return
    row = db.session.get(Follower, name)
    if row is not None:
        row.jobs_done += done
        row.jobs_failed += failed
