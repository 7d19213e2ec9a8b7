"""The queue (home page) and job detail pages."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from app.services import failure_reports
from app.services import jobs as job_service
from app.services.errors import ServiceError
from app.services.library_undo import describe
from app.services.queue_schedule import queue_schedule
from app.services.settings import QUEUE_PAUSED, get_setting
from app.views.ui import TABS, int_arg, register_template_helpers

bp = Blueprint("jobs", __name__)
PER_PAGE = 50
RUNNING = "dispatched,running"
OTHERS = "queued,succeeded,failed,cancelled"
PINNED_MAX = 200
FILTERS = {key: value for key, _label, value in TABS} | {"dispatched": "dispatched", "running": "running"}


@bp.record_once
def _install_helpers(state) -> None:
    register_template_helpers(state.app)


def queue_context() -> dict:
    """Parse the queue's filter, search and page arguments and fetch that page."""
    tab = request.args.get("status") or "all"
    if tab not in FILTERS:
        raise ServiceError(f"status: {tab!r} is not a queue filter; use one of {', '.join(FILTERS)}", field="status")
    search = (request.args.get("q") or "").strip()[:200]
    page = int_arg("page", 1)
    per_page = int_arg("per_page", PER_PAGE, 1, 500)
    statuses, pinned = FILTERS[tab], []
    hide_finished = request.args.get("hide_finished") == "1"  # the queue's "Hide finished" toggle (per browser)
    if tab == "all":
        # Running jobs stay in sight on the first page, above the rest (newest first), whatever was queued later.
        statuses = "queued" if hide_finished else OTHERS
        if page == 1:
            pinned = job_service.list_jobs(RUNNING, per_page=PINNED_MAX, search=search or None)["jobs"]
    result = job_service.list_jobs(statuses or None, page=page, per_page=per_page, search=search or None)
    if pinned:
        # The two reads are moments apart: a job running at the first and ended at the second would be listed twice,
        # both times as the first read's Job (the session's one object for that row), so twice "running". It is
        # shown once, in "Running now"; the refresh its change triggers shows it where it now belongs.
        running = {job.id for job in pinned}
        result["jobs"] = [job for job in result["jobs"] if job.id not in running]
    counts = result["counts"]
    tab_counts = {
        key: sum(counts.get(s, 0) for s in value.split(",")) if value else sum(counts.values())
        for key, _label, value in TABS
    }
    pages = max(1, -(-result["total"] // per_page))
    return {
        **result,
        "tab": tab,
        "pinned": pinned,
        "tabs": TABS,
        "tab_counts": tab_counts,
        "search": search,
        "pages": pages,
        "paused": bool(get_setting(QUEUE_PAUSED, False)),
        "hide_finished": hide_finished and tab == "all",
    }


@bp.get("/")
def index():
    """The queue: jobs by status with live progress, actions, search and pages."""
    return render_template("jobs/index.html", hours=queue_schedule(), **queue_context())


@bp.get("/queue/list")
def rows():
    """The queue's list alone, for the page to refresh itself after a change."""
    return render_template("jobs/_list.html", **queue_context())


@bp.get("/jobs/<int:job_id>")
def show(job_id: int):
    """One job in full: paths, spec and argv, attempts, timings, sizes, log."""
    job = job_service.get_job(job_id)
    report = failure_reports.summary(job.id)
    return render_template(
        "jobs/show.html", job=job, planned=job_service.planned_argv(job), report=report, replaced=describe(job)
    )


@bp.get("/jobs/<int:job_id>/panel")
def panel(job_id: int):
    """The job's details alone, for the page to refresh itself after a change."""
    job = job_service.get_job(job_id)
    report = failure_reports.summary(job.id)
    return render_template(
        "jobs/_detail.html", job=job, planned=job_service.planned_argv(job), report=report, replaced=describe(job)
    )


@bp.get("/jobs/<int:job_id>/pieces")
def pieces(job_id: int):
    """A split job's pieces table alone (empty for a job that does not split), for the page to refresh it."""
    return render_template("jobs/_pieces.html", job=job_service.get_job(job_id))


@bp.get("/jobs/<int:job_id>/failure-report.txt")
def failure_report(job_id: int):
    """The job's last failure as a text file: the FFmpeg command, the input's facts and FFmpeg's whole stderr."""
    name, text = failure_reports.report_text(job_id)
    return Response(
        text,
        mimetype="text/plain",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"},
    )
