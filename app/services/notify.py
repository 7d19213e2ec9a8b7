"""Notifications through Apprise when a job or a batch finishes or fails.

Targets: Discord (DISCORD_WEBHOOK_URL) and Pushover (PUSHOVER_API_TOKEN/PUSHOVER_USER_KEY) as in
the original, any Apprise URL in APPRISE_URLS, plus URLs stored on the Settings page. The path is
explicit: `transitions.transition` records each job it ends in the session; when that session commits,
the app it belongs to (the one in context, which registered with init_app) sends for the recorded jobs,
whichever process commits, from a background thread: a slow or failing target is logged and never
delays or fails a job. Nothing watches attributes or every SQLAlchemy session in the process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

import apprise
from flask import Flask, current_app, has_app_context
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.extensions import db, redis_store
from app.models import Job, JobStatus
from app.services.errors import ServiceError
from app.services.settings import get_setting, set_setting
from app.services.transitions import take_ended

log = logging.getLogger("frameshift.notify")
URLS_SETTING = "notify_urls"
EVENTS_SETTING = "notify_events"
EVENTS = ("job_failed", "job_succeeded", "batch_finished")
DEFAULT_EVENTS = ["job_failed", "batch_finished"]
NOTIFY_KEY = "frameshift_notify"
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify")


def configured_urls() -> list[str]:
    """Every target: environment first, then the Settings page's list."""
    return list(current_app.config.get("NOTIFY_URLS") or []) + list(get_setting(URLS_SETTING, []) or [])


def enabled_events() -> list[str]:
    """Which events send a notification."""
    return list(get_setting(EVENTS_SETTING, DEFAULT_EVENTS) or [])


def describe(url: str) -> str:
    """Return a target with its secrets hidden, for display."""
    server = apprise.Apprise.instantiate(url)
    return server.url(privacy=True) if server else "(not a valid Apprise URL)"


def notification_settings() -> dict[str, Any]:
    """What the Settings page shows."""
    return {
        "environment_targets": [describe(u) for u in current_app.config.get("NOTIFY_URLS") or []],
        "urls": list(get_setting(URLS_SETTING, []) or []),
        "events": enabled_events(),
        "available_events": list(EVENTS),
    }


def update_notification_settings(urls: Any = None, events: Any = None) -> dict[str, Any]:
    """Store the Settings page's targets and events after checking each one."""
    if urls is not None:
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ServiceError("urls: send a list of Apprise URLs", field="urls")
        urls = [u.strip() for u in urls if u.strip()]
        for url in urls:
            if apprise.Apprise.instantiate(url) is None:
                raise ServiceError(
                    f"urls: {url!r} is not an Apprise URL Frame Shift can use "
                    "(e.g. discord://ID/TOKEN, pover://USER@TOKEN, mailto://...)",
                    field="urls",
                )
        set_setting(URLS_SETTING, urls)
    if events is not None:
        if not isinstance(events, list) or any(e not in EVENTS for e in events):
            raise ServiceError(f"events: choose from {', '.join(EVENTS)}", field="events")
        set_setting(EVENTS_SETTING, list(dict.fromkeys(events)))
    return notification_settings()


def send(title: str, body: str, urls: Iterable[str]) -> dict[str, Any]:
    """Send one message to every URL; return what happened. Never raises."""
    urls = list(urls)
    if not urls:
        return {"ok": False, "sent": 0, "errors": ["no notification targets are configured"]}
    errors: list[str] = []
    sent = 0
    for url in urls:
        server = apprise.Apprise()
        try:
            if not server.add(url):
                errors.append(f"{describe(url)}: not a valid Apprise URL")
            elif server.notify(title=title, body=body):
                sent += 1
            else:
                errors.append(f"{describe(url)}: the service did not accept the message (see the log)")
        except Exception as exc:  # noqa: BLE001  (a notification must never break the caller)
            errors.append(f"{describe(url)}: {exc}")
    for error in errors:
        log.warning("notification not delivered: %s", error)
    return {"ok": not errors, "sent": sent, "errors": errors}


def send_test() -> dict[str, Any]:
    """The Settings page's 'send test' button."""
    return send(
        "Frame Shift: test notification", "Notifications from Frame Shift reach this target.", configured_urls()
    )


def messages_for(job_ids: Iterable[int], events: list[str]) -> list[tuple[str, str]]:
    """Build the messages that finishing these jobs calls for."""
    out: list[tuple[str, str]] = []
    batches: set[str] = set()
    for job in db.session.scalars(select(Job).where(Job.id.in_(list(job_ids))).order_by(Job.id)):
        if job.status == JobStatus.FAILED.value and "job_failed" in events:
            out.append((f"Frame Shift: job failed: {job.name}", job.error or "no reason recorded"))
        elif job.status == JobStatus.SUCCEEDED.value and (
            "job_succeeded" in events or job.batch_id is None and "batch_finished" in events
        ):
            out.append((f"Frame Shift: job finished: {job.name}", _saved(job)))
        if job.batch_id and "batch_finished" in events:
            batches.add(job.batch_id)
    for batch in sorted(batches):
        counts = dict(
            db.session.execute(select(Job.status, func.count()).where(Job.batch_id == batch).group_by(Job.status)).all()
        )
        if any(counts.get(s.value) for s in (JobStatus.QUEUED, JobStatus.DISPATCHED, JobStatus.RUNNING)):
            continue
        last = db.session.scalar(select(func.max(Job.finished_at)).where(Job.batch_id == batch))
        if not _first_to_report(f"{batch}:{last}"):
            continue
        summary = ", ".join(f"{counts[s.value]} {s.value}" for s in JobStatus if counts.get(s.value))
        out.append((f"Frame Shift: batch of {sum(counts.values())} jobs finished", summary))
    return out


def _saved(job: Job) -> str:
    if job.input_size and job.output_size:
        return f"{job.input_size / 1e6:.1f} MB -> {job.output_size / 1e6:.1f} MB"
    return job.output_path


def _first_to_report(key: str) -> bool:
    """Two commits finishing one batch must send one message: first to claim the key wins."""
    try:
        return bool(redis_store.client.set(f"frameshift:notified:{key}", "1", nx=True, ex=7 * 24 * 3600))
    except Exception as exc:  # noqa: BLE001
        log.warning("could not de-duplicate a batch notification (%s); sending anyway", exc)
        return True


def notify_finished(flask_app: Flask, job_ids: list[int]) -> None:
    """Background: send what finishing these jobs calls for (errors are logged)."""
    try:
        with flask_app.app_context():
            urls = configured_urls()
            if urls:
                for title, body in messages_for(job_ids, enabled_events()):
                    send(title, body, urls)
            db.session.remove()
    except Exception:  # noqa: BLE001
        log.exception("notifications for jobs %s failed", job_ids)


def _after_commit(session: Session) -> None:
    ids = take_ended(session)
    sender = current_app.extensions.get(NOTIFY_KEY) if ids and has_app_context() else None
    if sender is not None:
        sender(ids)


def _after_rollback(session: Session, _previous: Any) -> None:
    take_ended(session)


def submit(flask_app: Flask, job_ids: list[int]) -> Future:
    """Queue notifications for finished jobs on the background thread."""
    return _executor.submit(notify_finished, flask_app, job_ids)


def init_app(flask_app: Flask) -> None:
    """Send this app's notifications after each commit of its database session (db.session is scoped per app
    context, so a commit is always the app in context's own; other SQLAlchemy sessions are never watched)."""
    flask_app.extensions[NOTIFY_KEY] = partial(submit, flask_app)
    if not event.contains(db.session, "after_commit", _after_commit):
        event.listen(db.session, "after_commit", _after_commit)
        event.listen(db.session, "after_soft_rollback", _after_rollback)


def drain(timeout: float = 30) -> None:
    """Wait until queued notifications are sent (tests and shutdown)."""
    _executor.submit(lambda: None).result(timeout)
