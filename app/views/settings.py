"""The settings page: notification targets, defaults for new jobs, output rules, retry policy."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from app.services import preferences
from app.services.errors import ServiceError
from tasks import spec as spec_choices

bp = Blueprint("settings", __name__, url_prefix="/settings")


def page(error: ServiceError | None = None, section: str | None = None, status: int = 200):
    """Render the settings page; on a validation error keep what the person typed in that section."""
    form = request.form if error else {}
    return render_template(
        "settings/index.html",
        notify=preferences.notify_settings(),
        events=preferences.EVENTS,
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


@bp.post("/notifications")
def notifications():
    """Store notification targets and events."""
    def action():
        targets = preferences.save_notify_settings(request.form.get("targets", ""), request.form.getlist("events"))
        return f"Notification settings saved ({len(targets)} target{'s' if len(targets) != 1 else ''} added here)."
    return save("notifications", action)


@bp.post("/notifications/test")
def test_notification():
    """Send a test notification to every target."""
    return save("notifications", lambda: preferences.send_test_notification().capitalize() + ".")


@bp.post("/defaults")
def defaults():
    """Store the defaults for new jobs, output rules included."""
    def action():
        preferences.save_job_defaults(request.form.to_dict())
        return "Defaults for new jobs saved."
    return save("defaults", action)


@bp.post("/retry")
def retry():
    """Store the automatic retry count."""
    def action():
        value = preferences.save_auto_retry(request.form.get("auto_retry", ""))
        return f"Retry policy saved: up to {value} automatic retr{'y' if value == 1 else 'ies'}."
    return save("retry", action)
