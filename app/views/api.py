"""The JSON API: create, list, show, cancel, retry, reorder, delete and clear jobs."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from app.services import jobs as job_service
from app.services.errors import ServiceError

bp = Blueprint("api", __name__, url_prefix="/api")


def body() -> dict:
    """Return the JSON body, or raise a clear error."""
    data = request.get_json(silent=True)
    if data is None:
        if request.data:
            raise ServiceError("the request body is not valid JSON")
        return {}
    if not isinstance(data, dict):
        raise ServiceError("the request body must be a JSON object")
    return data


def int_arg(name: str, default: int) -> int:
    """Read an integer query argument, or raise a clear error."""
    value = request.args.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ServiceError(f"{name}: must be a whole number", field=name) from None


@bp.post("/jobs")
def create():
    """Create one job per input file, all with one spec."""
    data = body()
    inputs = data.get("inputs")
    if inputs is None and "input" in data:
        inputs = [data["input"]]
    jobs = job_service.create_jobs(inputs, data.get("spec"), priority=int(data.get("priority") or 0))
    return jsonify({"jobs": [job.to_dict() for job in jobs]}), 201


@bp.get("/jobs")
def index():
    """List jobs, optionally by status, one page at a time."""
    page = job_service.list_jobs(
        status=request.args.get("status") or None,
        page=int_arg("page", 1),
        per_page=int_arg("per_page", 50),
        search=request.args.get("q") or None,
    )
    return jsonify({**page, "jobs": [job.to_dict() for job in page["jobs"]]})


@bp.get("/jobs/<int:job_id>")
def show(job_id: int):
    """Return every field of one job, attempts included."""
    return jsonify(job_service.get_job(job_id).to_dict(full=True))


@bp.post("/jobs/<int:job_id>/cancel")
def cancel(job_id: int):
    """Cancel a waiting job, or stop a running one."""
    return jsonify(job_service.cancel_job(job_id).to_dict())


@bp.post("/jobs/<int:job_id>/retry")
def retry(job_id: int):
    """Queue a failed or cancelled job again."""
    return jsonify(job_service.retry_job(job_id).to_dict())


@bp.post("/jobs/<int:job_id>/move")
def move(job_id: int):
    """Reorder a waiting job: {"where": "top"|"bottom"|"up"|"down"|"before", "before": id}."""
    data = body()
    job = job_service.move_job(job_id, str(data.get("where", "")), data.get("before"))
    return jsonify(job.to_dict())


@bp.delete("/jobs/<int:job_id>")
def delete(job_id: int):
    """Delete a waiting or finished job."""
    job_service.delete_job(job_id)
    return jsonify({"deleted": job_id})


@bp.post("/jobs/clear")
def clear():
    """Delete finished jobs: {"statuses": [...]} or all finished."""
    count = job_service.clear_finished(body().get("statuses"))
    return jsonify({"cleared": count})


@bp.post("/spec/preview")
def preview():
    """Validate a spec and return the argv it gives for one input."""
    data = body()
    spec = job_service.validate_spec(data.get("spec"))
    source = str(data.get("input") or "/media/example.mkv")
    from pathlib import Path

    from tasks.paths import default_output

    output = data.get("output") or str(default_output(Path(source), spec.container))
    return jsonify({"argv": job_service.preview_argv(spec, source, output), "spec": spec.to_dict()})
