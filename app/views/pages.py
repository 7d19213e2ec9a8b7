"""Pages (the full UI grows here): the queue home page and job detail."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from app.services import jobs as job_service

bp = Blueprint("pages", __name__)


@bp.get("/")
def queue():
    """The queue: jobs with live progress."""
    page = job_service.list_jobs(status=request.args.get("status") or None, page=int(request.args.get("page", 1)))
    return render_template("pages/queue.html", **page)


@bp.get("/jobs/<int:job_id>")
def job(job_id: int):
    """One job in full."""
    return render_template("pages/job.html", job=job_service.get_job(job_id))
