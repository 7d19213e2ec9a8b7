"""The JSON API: create, list, show, cancel, retry, reorder, delete and clear jobs; the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from app.schemas.bulk import CancelAll, RetryFailed
from app.schemas.inputs import accepts
from app.schemas.jobs import ClearJobs, CreateJobs, JobsQuery, MoveJob, SpecPreview
from app.services import bulk_jobs, failure_reports, library_undo
from app.services import jobs as job_service

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/openapi.json")
def openapi():
    """This API and every form, as an OpenAPI 3.1 document built from the schemas that check requests."""
    from app.schemas.openapi import document

    return jsonify(document(current_app))


@bp.post("/jobs")
@accepts(json=CreateJobs)
def create(body: CreateJobs):
    """Create one job per input file, all with one spec."""
    spec = body.spec.values() if body.spec is not None else None
    jobs = job_service.create_jobs(body.paths(), spec, priority=body.priority or 0)
    return jsonify({"jobs": [job.to_dict() for job in jobs]}), 201


@bp.get("/jobs")
@accepts(query=JobsQuery)
def index(query: JobsQuery):
    """List jobs, optionally by status, one page at a time."""
    page = job_service.list_jobs(status=query.status, page=query.page, per_page=query.per_page, search=query.q)
    return jsonify({**page, "jobs": [job.to_dict() for job in page["jobs"]]})


@bp.get("/jobs/<int:job_id>")
def show(job_id: int):
    """Return every field of one job, attempts included."""
    job = job_service.get_job(job_id)
    report = failure_reports.summary(job.id)  # the text itself: /jobs/<id>/failure-report.txt
    return jsonify(
        {
            **job.to_dict(full=True),
            "planned_argv": job_service.planned_argv(job),
            "failure_report": report,
            "replacement": library_undo.describe(job),  # what a library with output policy replace did
        }
    )


@bp.post("/jobs/<int:job_id>/cancel")
def cancel(job_id: int):
    """Cancel a waiting job, or stop a running one."""
    return jsonify(job_service.cancel_job(job_id).to_dict())


@bp.post("/jobs/<int:job_id>/retry")
def retry(job_id: int):
    """Queue a failed or cancelled job again."""
    return jsonify(job_service.retry_job(job_id).to_dict())


@bp.post("/jobs/<int:job_id>/undo-replace")
def undo_replace(job_id: int):
    """Undo a library's replacement within the recycle period: the original back, the output kept as NAME_converted.

    409 when it cannot (period over, already undone, files changed since), saying what to do instead.
    """
    return jsonify(library_undo.undo(job_service.get_job(job_id)))


@bp.post("/jobs/<int:job_id>/move")
@accepts(json=MoveJob)
def move(job_id: int, body: MoveJob):
    """Reorder a waiting job: top, bottom, up, down, or before another waiting job."""
    return jsonify(job_service.move_job(job_id, body.where, body.before).to_dict())


@bp.delete("/jobs/<int:job_id>")
def delete(job_id: int):
    """Delete a waiting or finished job."""
    job_service.delete_job(job_id)
    return jsonify({"deleted": job_id})


@bp.post("/jobs/clear")
@accepts(json=ClearJobs)
def clear(body: ClearJobs):
    """Delete finished jobs: the statuses given, or all three final states."""
    return jsonify({"cleared": job_service.clear_finished(body.statuses)})


@bp.post("/jobs/cancel-all")
@accepts(json=CancelAll)
def cancel_all(body: CancelAll):
    """Cancel every waiting job and stop every running one: {"cancelled": N, "stopping": M}."""
    return jsonify(bulk_jobs.cancel_all(waiting=body.waiting is not False, running=body.running is not False))


@bp.post("/jobs/retry-failed")
@accepts(json=RetryFailed)
def retry_failed(body: RetryFailed):
    """Queue every failed job again (cancelled ones too if asked); jobs whose input is gone are skipped."""
    return jsonify(bulk_jobs.retry_failed(include_cancelled=bool(body.cancelled)))


@bp.post("/spec/preview")
@accepts(json=SpecPreview)
def preview(body: SpecPreview):
    """Validate a spec and return the argv it gives for one input."""
    spec = body.spec.values() if body.spec is not None else None
    return jsonify(job_service.preview_spec(spec, body.input, body.output))
