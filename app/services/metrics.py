"""Figures for /metrics and /healthz, read from the database and Redis."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from sqlalchemy import func, select, text

from app.extensions import db, get_celery, redis_store
from app.models import Follower, Job, JobStatus

log = logging.getLogger(__name__)


def collect_health() -> dict[str, str]:
    """Check the database and Redis; return 'ok' or the error for each."""
    health = {"status": "ok", "database": "ok", "redis": "ok"}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        db.session.rollback()
        health["database"], health["status"] = f"error: {exc.__class__.__name__}", "error"
    try:
        redis_store.client.ping()
    except Exception as exc:  # noqa: BLE001
        health["redis"], health["status"] = f"error: {exc.__class__.__name__}", "degraded"
    return health


def _duration_seconds():
    """SQL for finished_at - started_at in seconds, on SQLite and PostgreSQL."""
    if db.engine.dialect.name == "postgresql":
        return func.extract("epoch", Job.finished_at - Job.started_at)
    return (func.julianday(Job.finished_at) - func.julianday(Job.started_at)) * 86400.0


def collect_metrics() -> dict[str, Any]:
    """Gather every figure /metrics shows."""
    counts = dict(db.session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
    online = select(Follower).where(Follower.online.is_(True))
    followers = db.session.scalars(online).all()
    done = select(
        func.count(),
        func.coalesce(func.sum(_duration_seconds()), 0.0),
        func.coalesce(func.sum(Job.input_size - Job.output_size), 0),
    ).where(Job.status == JobStatus.SUCCEEDED.value, Job.started_at.is_not(None), Job.finished_at.is_not(None))
    succeeded, encode_seconds, saved = db.session.execute(done).one()
    broker = None
    try:
        broker = int(redis_store.client.llen(get_celery().conf.task_default_queue or "celery"))
    except Exception as exc:  # noqa: BLE001
        log.warning("metrics: broker queue length unavailable: %s", exc)
    return {
        "jobs": {status.value: int(counts.get(status.value, 0)) for status in JobStatus},
        "queue_length": int(counts.get(JobStatus.QUEUED.value, 0)),
        "broker_queue_length": broker,
        "followers_online": len(followers),
        "slots_total": sum(f.concurrency or 0 for f in followers),
        "slots_busy": sum(f.busy or 0 for f in followers),
        "followers": [(f.name, f.concurrency or 0, f.busy or 0) for f in followers],
        "encode_seconds": float(encode_seconds or 0.0),
        "encoded_jobs": int(succeeded or 0),
        "bytes_saved": int(saved or 0),
    }


def render_metrics(figures: dict[str, Any] | None = None) -> str:
    """Render the figures in the Prometheus text exposition format (prometheus_client, one fresh registry a call)."""
    m = collect_metrics() if figures is None else figures
    registry = CollectorRegistry(auto_describe=False)

    def gauge(name: str, help_text: str, value: float | None = None, labels: tuple[str, ...] = ()) -> Gauge:
        metric = Gauge(name, help_text, labels, registry=registry)
        if value is not None:
            metric.set(value)
        return metric

    jobs = gauge("frameshift_jobs", "Jobs in the database by status.", labels=("status",))
    for status, count in m["jobs"].items():
        jobs.labels(status=status).set(count)
    gauge("frameshift_queue_length", "Jobs waiting for a follower (queued in the database).", m["queue_length"])
    if m["broker_queue_length"] is not None:
        gauge(
            "frameshift_broker_queue_length",
            "Messages waiting in the shared Celery queue in Redis.",
            m["broker_queue_length"],
        )
    gauge("frameshift_followers_online", "Followers the monitor sees online.", m["followers_online"])
    gauge(
        "frameshift_follower_slots_total",
        "Conversion slots (Celery concurrency) of online followers.",
        m["slots_total"],
    )
    gauge("frameshift_follower_slots_busy", "Slots running or holding a dispatched job.", m["slots_busy"])
    slots = gauge("frameshift_follower_slots", "Slots per online follower, by state.", labels=("follower", "state"))
    for name, total, busy in m["followers"]:
        slots.labels(follower=name, state="total").set(total)
        slots.labels(follower=name, state="busy").set(busy)
    gauge(
        "frameshift_encode_seconds",
        "Wall-clock seconds spent on succeeded jobs still in the database.",
        round(m["encode_seconds"], 3),
    )
    gauge("frameshift_encoded_jobs", "Succeeded jobs counted in frameshift_encode_seconds.", m["encoded_jobs"])
    gauge(
        "frameshift_bytes_saved",
        "Input size minus output size over succeeded jobs still in the database.",
        m["bytes_saved"],
    )
    return generate_latest(registry).decode()
