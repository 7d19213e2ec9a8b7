"""The settings page: notification targets, defaults for new jobs, output rules, retry policy."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from app.schemas.forms import DefaultsForm, EmptyForm, NotificationsForm, RetryForm
from app.schemas.inputs import accepts
from app.services import notify, preferences
from app.services.errors import ServiceError
from tasks import spec as spec_choices

bp = Blueprint("settings", __name__, url_prefix="/settings")
EVENT_LABELS = {
    "job_failed": "a job fails",
    "job_succeeded": "a job succeeds",
    "batch_finished": "every job of a batch (one submit) has finished",
}


def page(error: ServiceError | None = None, section: str | None = None, status: int = 200):
    """Render the settings page; on a validation error keep what the person typed in that section."""
    form = request.form if error else {}
    return render_template(
        "settings/index.html",
        notify=notify.notification_settings(),
        events=EVENT_LABELS,
        defaults={**preferences.job_defaults(), **(form if section == "defaults" else {})},
        targets_text=form.get("targets") if section == "notifications" else None,
        auto_retry=form.get("auto_retry") if section == "retry" else preferences.auto_retry(),
        env_auto_retry=current_app.config.get("AUTO_RETRY", 0),
        choices=spec_choices,
        error=error,
        section=section,
    ), status


def save(section: str, action) -> object:
    """Run one save action; redirect with a message on success, re-render with the error otherwise."""
    try:
        message = action()
    except ServiceError as exc:
        return page(exc, section, exc.status)
    flash(message, "ok")
    return redirect(url_for("settings.index", _anchor=section))


@bp.get("/")
def index():
    """Show every setting with its current value."""
    return page()


def refused(section: str):
    """Show a form the schema refused, with the error beside that section."""
    return lambda exc: page(exc, section, exc.status)


@bp.post("/notifications")
@accepts(form=NotificationsForm, on_error=refused("notifications"))
def notifications(form: NotificationsForm):
    """Store notification targets (one Apprise URL a line) and events."""

    def action():
        lines = [line.strip() for line in (form.targets or "").splitlines()]
        urls = [line for line in lines if line and not line.startswith("#")]
        notify.update_notification_settings(urls=urls, events=form.events or [])
        return f"Notification settings saved ({len(urls)} target{'s' if len(urls) != 1 else ''} added here)."

    return save("notifications", action)


@bp.post("/notifications/test")
@accepts(form=EmptyForm, on_error=refused("notifications"))
def test_notification(form: EmptyForm):
    """Send a test notification to every target and say what happened."""

    def action():
        result = notify.send_test()
        if not result["ok"]:
            problems = "; ".join(result["errors"])
            # Nothing to send to is the person's to fix (409); a target that refused is the upstream's (502).
            status = 409 if not notify.configured_urls() else 502
            raise ServiceError(f"the test notification reached {result['sent']} target(s); {problems}", status=status)
        return f"Test notification sent to {result['sent']} target{'s' if result['sent'] != 1 else ''}."

    return save("notifications", action)


@bp.post("/defaults")
@accepts(form=DefaultsForm, on_error=refused("defaults"))
def defaults(form: DefaultsForm):
    """Store the defaults for new jobs, output rules included."""

    def action():
        preferences.save_job_defaults(form.model_dump(exclude_none=True, exclude={"csrf_token"}))
        return "Defaults for new jobs saved."

    return save("defaults", action)


@bp.post("/retry")
@accepts(form=RetryForm, on_error=refused("retry"))
def retry(form: RetryForm):
    """Store the automatic retry count."""

    def action():
        value = preferences.save_auto_retry(form.auto_retry)
        return f"Retry policy saved: up to {value} automatic retr{'y' if value == 1 else 'ies'}."

    return save("retry", action)
