"""Keep what a failed attempt's follower sent (command, input facts, whole stderr) and give it back as a text file."""

from __future__ import annotations

import json
import shlex
from typing import Any

from app.extensions import db
from app.models import Job
from app.models.failure_report import FailureReport
from app.services.errors import NotFound

STDERR_LIMIT = 1_000_000  # characters kept, whatever a follower sends (it bounds its own to 1 MB: tasks/stderr_log.py)
ARGV_LIMIT = 2000  # arguments kept of a command


def keep(job: Job, message: str, exit_code: int | None, report: Any) -> FailureReport | None:
    """Store (or replace) the job's failure report from an error's `report`; None when the error carried none."""
    if not isinstance(report, dict):
        return None
    argv = report.get("argv")
    argv = [str(a) for a in argv[:ARGV_LIMIT]] if isinstance(argv, list) else None
    facts = {
        key: value
        for key, value in (("probe", report.get("input")), ("log", report.get("input_from_log")))
        if isinstance(value, dict) and value
    }
    stderr = report.get("stderr")
    stderr = stderr[-STDERR_LIMIT:] if isinstance(stderr, str) else None
    row = db.session.get(FailureReport, job.id) or FailureReport(job_id=job.id)
    row.attempt = job.attempt or 0
    row.follower = job.follower
    row.error = message
    row.exit_code = exit_code
    row.argv = argv
    row.input_facts = json.loads(json.dumps(facts, default=str)) if facts else None
    row.stderr = stderr
    db.session.add(row)
    return row


def summary(job_id: int) -> dict[str, Any] | None:
    """Return the report's attempt and size (no stderr loaded), or None when the job has none."""
    row = db.session.execute(
        db.select(FailureReport.attempt, FailureReport.follower, db.func.length(FailureReport.stderr)).where(
            FailureReport.job_id == job_id
        )
    ).first()
    if row is None:
        return None
    return {"attempt": row[0], "follower": row[1], "stderr_chars": row[2] or 0}


def report_text(job_id: int) -> tuple[str, str]:
    """Return (file name, text) of the job's failure report: the command, the input's facts, FFmpeg's stderr."""
    job = db.session.get(Job, job_id)
    row = db.session.get(FailureReport, job_id)
    if job is None or row is None:
        raise NotFound(f"job {job_id} has no failure report" if job is not None else f"job {job_id} does not exist")
    lines = [
        f"Frame Shift failure report for job {job.id}: {job.name}",
        f"Attempt {row.attempt} on {row.follower or 'an unknown follower'}, {row.created_at:%Y-%m-%d %H:%M:%S} UTC",
        f"Input:  {job.input_path}",
        f"Output: {job.output_path}",
        f"Error:  {row.error or ''}",
        f"FFmpeg exit code: {row.exit_code if row.exit_code is not None else 'none'}",
        "",
        "== FFmpeg command ==",
        shlex.join(row.argv) if row.argv else "(not sent)",
        "",
        "== Input (ffprobe) ==",
    ]
    facts = row.input_facts or {}
    probe, from_log = facts.get("probe") or {}, facts.get("log") or {}
    lines += [f"{key}: {value}" for key, value in probe.items()] or ["(not probed)"]
    if from_log:
        lines += ["", "== Input (FFmpeg's own header) ==", *(f"{key}: {value}" for key, value in from_log.items())]
    lines += ["", "== FFmpeg stderr ==", row.stderr or "(empty)"]
    return f"frameshift-job-{job.id}-failure.txt", "\n".join(lines).rstrip("\n") + "\n"
