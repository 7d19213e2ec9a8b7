"""Operations endpoints: /healthz for healthchecks, /metrics for Prometheus."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

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
