"""Operations endpoints: /healthz, /metrics (Prometheus) and the notification settings API."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from app.schemas.forms import NotificationsBody
from app.schemas.inputs import accepts
from app.services import notify
from app.services.metrics import collect_health, render_metrics

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness and readiness: 200 while the database answers (Redis is reported, not required)."""
    health = collect_health()
    return jsonify(health), 200 if health["database"] == "ok" else 503


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format: jobs by status, queue length, follower slots, encode seconds, bytes saved."""
    return Response(render_metrics(), mimetype="text/plain; version=0.0.4; charset=utf-8")


@bp.get("/api/notifications")
def notification_settings():
    """Notification targets (environment ones with secrets hidden) and which events send."""
    return jsonify(notify.notification_settings())


@bp.put("/api/notifications")
@accepts(json=NotificationsBody)
def update_notifications(body: NotificationsBody):
    """Store targets and events: {"urls": [...Apprise URLs], "events": ["job_failed", ...]}."""
    return jsonify(notify.update_notification_settings(body.urls, body.events))


@bp.post("/api/notifications/test")
def test_notification():
    """Send a test message to every target now; report what each one said."""
    return jsonify(notify.send_test())
