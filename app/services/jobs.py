"""Creating, cancelling, retrying, reordering and clearing jobs."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, or_, select

from app.extensions import db, redis_store
from app.models import ACTIVE, FINISHED, Job, JobStatus, utcnow
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.live import live_message, publish, publish_many, wake_dispatcher
from app.services.split_jobs import whole_by_spec
from app.services.transitions import transition
from tasks import keys
from tasks.command import build_argv
from tasks.paths import PathError, output_folder, plan_output, resolve_inside
from tasks.spec import ConversionSpec, SpecError, parse_spec

MAX_BATCH = 5000


def media_roots() -> list[Path]:
    """Return the configured media roots."""
    return current_app.config["MEDIA_ROOTS"]


def validate_spec(data: dict[str, Any] | None) -> ConversionSpec:
    """Parse a spec or raise ServiceError naming the field."""
    try:
        return parse_spec(data)
    except SpecError as exc:
        raise ServiceError(f"{exc.field}: {exc.message}", field=exc.field) from None


def _taken_outputs(folders: set[str]) -> set[str]:
    """The outputs of unfinished jobs in these folders (or below them): the names a new job must not take.

    Only those folders: a library queueing files into a queue of 60,000 waiting jobs read every one of their
    outputs for each batch (py-spy, bench/library_scale.py)."""
    if not folders:
        return set()
    inside = or_(*(Job.output_path.startswith(folder.rstrip("/") + "/", autoescape=True) for folder in folders))
    unfinished = Job.status.notin_([s.value for s in FINISHED])
    return set(db.session.execute(select(Job.output_path).where(unfinished, inside)).scalars())


def preview_argv(spec: ConversionSpec, source: str, output: str) -> list[str]:
    """Return the argv a follower will run (it writes to a temporary name first)."""
    return build_argv(spec, source, output)


def preview_spec(spec_data: dict[str, Any] | None, source: str | None, output: str | None) -> dict[str, Any]:
    """Validate a spec and return the argv it gives for one input (an example input when none is given)."""
    from tasks.paths import default_output

    spec = validate_spec(spec_data)
    source = source or "/media/example.mkv"
    output = output or str(default_output(Path(source), spec.container))
    return {"argv": preview_argv(spec, source, output), "spec": spec.to_dict()}


def create_jobs(inputs: list[str] | None, spec_data: dict[str, Any] | None, priority: int = 0) -> list[Job]:
    """Create one queued job per input file with one spec; all or nothing."""
    if not isinstance(inputs, list) or not inputs:
        raise ServiceError("inputs: give a list of one or more file paths", field="inputs")
    if len(inputs) > MAX_BATCH:
        raise ServiceError(f"inputs: at most {MAX_BATCH} files per request", field="inputs")
    spec = validate_spec(spec_data)
    roots = media_roots()
    output_dir = None
    if spec.output_dir:
        output_dir = checked_output_folder(spec.output_dir, roots)
    sources: list[Path] = []
    for raw in inputs:
        try:
            source = resolve_inside(str(raw), roots)
        except PathError as exc:
            raise ServiceError(f"inputs: {exc}", field="inputs") from None
        if not source.is_file():
            raise ServiceError(f"inputs: {raw} is not a file", field="inputs")
        sources.append(source)
    taken = _taken_outputs({str(output_dir)} if output_dir else {str(source.parent) for source in sources})
    position = (db.session.execute(select(func.max(Job.position))).scalar() or 0.0) + 1
    batch = str(uuid.uuid4()) if len(inputs) > 1 else None
    jobs: list[Job] = []
    whole, note = whole_by_spec(spec)  # decided once here, not by every dispatch round (docs/split.md)
    for source in sources:
        try:
            output = plan_output(source, spec.container, spec.if_exists, output_dir, taken)
        except PathError as exc:
            raise ServiceError(f"output: {exc}", field="output") from None
        taken.add(str(output))
        job = Job(
            name=source.name,
            batch_id=batch,
            input_path=str(source),
            output_path=str(output),
            spec=spec.to_dict(),
            required_encoder=spec.required_encoder(),
            status=JobStatus.QUEUED.value,
            priority=priority,
            position=position,
            input_size=source.stat().st_size,
            split_state="whole" if whole else None,
            split_note=note,
        )
        position += 1
        jobs.append(job)
    db.session.add_all(jobs)
    db.session.commit()
    wake_dispatcher(keys.WAKE_NEW_JOBS)
    publish_many([live_message(job) for job in jobs])
    return jobs


def get_job(job_id: int) -> Job:
    """Return a job or raise NotFound."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    return job


def cancel_job(job_id: int) -> Job:
    """Cancel a waiting job now, or ask the follower running it to stop."""
    job = get_job(job_id)
    status = job.status_enum
    if status is JobStatus.QUEUED:
        transition(job, JobStatus.CANCELLED, error="cancelled before it started")
    elif status in ACTIVE:
        if job.cancel_requested_at is None:
            job.cancel_requested_at = utcnow()
            request_stop(job.task_id, "cancel")
    else:
        raise Conflict(f"job {job_id} is already {status.value}; nothing to cancel")
    db.session.commit()
    publish(live_message(job))
    return job


def planned_argv(job: Job) -> list[str]:
    """The argv the spec gives for this job (shown until a follower reports the one it really ran)."""
    return preview_argv(parse_spec(job.spec), job.input_path, job.output_path)


def checked_output_folder(text: str, roots: list) -> Path:
    """The output folder of a spec, by the one rule (tasks/paths.output_folder), as a ServiceError on output_dir."""
    try:
        return output_folder(text, roots)
    except PathError as exc:
        raise ServiceError(f"output_dir: {exc}", field="output_dir") from None


def request_stop(task_id: str | None, reason: str) -> None:
    """Set the cancel flag the attempt checks before it starts and about once a second while it runs.

    No broker call is made here: a web request must never wait on Celery's shared producer pool (a revoke
    through it hung a cancel for 300 s when that pool still pointed at a stopped broker). A message not yet
    taken is refused by the follower when it sees the flag; the monitor's reaper revokes with SIGTERM only
    when a running attempt has not confirmed within the grace period.
    """
    if not task_id:
        return
    try:
        redis_store.client.set(keys.cancel(task_id), reason, ex=7 * 24 * 3600)
    except Exception as exc:  # noqa: BLE001
        current_app.logger.warning("could not set the cancel flag for %s: %s", task_id, exc)


def retry_job(job_id: int) -> Job:
    """Queue a failed or cancelled job again as its next attempt."""
    job = get_job(job_id)
    if job.status_enum not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise Conflict(f"job {job_id} is {job.status}; only failed or cancelled jobs can be retried")
    try:
        source = resolve_inside(job.input_path, media_roots())
    except PathError as exc:
        raise Conflict(f"cannot retry: {exc}") from None
    if not source.is_file():
        raise Conflict(f"cannot retry: {job.input_path} is no longer there")
    transition(job, JobStatus.QUEUED, error=None, waiting_reason=None, log_tail=None)
    job.position = (db.session.execute(select(func.max(Job.position))).scalar() or 0.0) + 1
    db.session.commit()
    wake_dispatcher()
    publish(live_message(job))
    return job


def delete_job(job_id: int) -> None:
    """Delete a finished or waiting job (a running one must be cancelled first)."""
    job = get_job(job_id)
    if job.status_enum in ACTIVE:
        raise Conflict(f"job {job_id} is {job.status}; cancel it first")
    db.session.delete(job)
    db.session.commit()
    publish({"type": "deleted", "id": job_id})


def clear_finished(statuses: list[str] | None = None) -> int:
    """Delete finished jobs (all three final states by default); return how many."""
    wanted = statuses or [s.value for s in FINISHED]
    bad = [s for s in wanted if s not in {f.value for f in FINISHED}]
    if bad:
        raise ServiceError(f"statuses: only finished states can be cleared, not {', '.join(bad)}", field="statuses")
    ids = select(Job.id).where(Job.status.in_(wanted))
    from app.models import Attempt

    db.session.execute(delete(Attempt).where(Attempt.job_id.in_(ids)))
    count = db.session.execute(delete(Job).where(Job.status.in_(wanted))).rowcount
    db.session.commit()
    publish({"type": "cleared", "statuses": wanted, "count": count})
    return count


def move_job(job_id: int, where: str, other_id: int | None = None) -> Job:
    """Reorder a waiting job: 'top', 'bottom', 'up', 'down', or 'before' another job."""
    job = get_job(job_id)
    if job.status_enum is not JobStatus.QUEUED:
        raise Conflict(f"job {job_id} is {job.status}; only waiting jobs can be reordered")
    queued = Job.status == JobStatus.QUEUED.value
    if where == "top":
        job.position = (db.session.execute(select(func.min(Job.position)).where(queued)).scalar() or 0.0) - 1
    elif where == "bottom":
        job.position = (db.session.execute(select(func.max(Job.position)).where(queued)).scalar() or 0.0) + 1
    elif where in ("up", "down"):
        order = Job.position.desc() if where == "up" else Job.position.asc()
        compare = Job.position < job.position if where == "up" else Job.position > job.position
        neighbour = db.session.execute(select(Job).where(queued, compare).order_by(order).limit(1)).scalar()
        if neighbour is not None:
            job.position, neighbour.position = neighbour.position, job.position
            publish(live_message(neighbour))
    elif where == "before":
        other = get_job(other_id) if other_id is not None else None
        if other is None or other.status_enum is not JobStatus.QUEUED:
            raise ServiceError("before: give the id of another waiting job", field="before")
        previous = db.session.execute(
            select(func.max(Job.position)).where(queued, Job.position < other.position, Job.id != job.id)
        ).scalar()
        job.position = (other.position - 1) if previous is None else (previous + other.position) / 2
    else:
        raise ServiceError("where: use top, bottom, up, down or before", field="where")
    db.session.commit()
    publish(live_message(job))
    return job


def list_jobs(
    status: str | None = None, page: int = 1, per_page: int = 50, search: str | None = None
) -> dict[str, Any]:
    """Return one page of jobs, newest first (waiting jobs in queue order), with counts.

    status may name several statuses separated by commas (the UI's "running" tab is "dispatched,running").
    """
    statuses = [s.strip() for s in (status or "").split(",") if s.strip()]
    if any(s not in {js.value for js in JobStatus} for s in statuses):
        raise ServiceError(f"status: use one of {', '.join(s.value for s in JobStatus)}", field="status")
    per_page = max(1, min(int(per_page), 500))
    page = max(1, int(page))
    query = select(Job)
    if len(statuses) == 1:
        query = query.where(Job.status == statuses[0])
    elif statuses:
        query = query.where(Job.status.in_(statuses))
    if search:
        query = query.where(Job.name.ilike(f"%{search.strip()}%"))
    if statuses == [JobStatus.QUEUED.value]:
        query = query.order_by(Job.priority.desc(), Job.position, Job.id)
    else:
        query = query.order_by(Job.id.desc())
    total = db.session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar()
    # Page through ids alone (the queue index covers them), then load just those rows: sorting whole
    # rows (spec, argv, log) made the Waiting tab take ~1.5 s with 50,000 waiting jobs; ids take ~25 ms.
    ids = (
        db.session.execute(query.with_only_columns(Job.id).limit(per_page).offset((page - 1) * per_page))
        .scalars()
        .all()
    )
    found = {job.id: job for job in db.session.execute(select(Job).where(Job.id.in_(ids))).scalars()} if ids else {}
    rows = [found[job_id] for job_id in ids if job_id in found]
    return {"jobs": rows, "total": total, "page": page, "per_page": per_page, "counts": status_counts()}


def status_counts() -> dict[str, int]:
    """Return how many jobs are in each status."""
    counts = {s.value: 0 for s in JobStatus}
    for status, count in db.session.execute(select(Job.status, func.count()).group_by(Job.status)):
        counts[status] = count
    return counts
