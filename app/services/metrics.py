"""Figures for /metrics and /healthz, read from the database and Redis."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select, text

from app.extensions import db, redis_store
from app.models import Follower, Job, JobStatus
from tasks.celery_app import celery_app

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
        broker = int(redis_store.client.llen(celery_app.conf.task_default_queue or "celery"))
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


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(figures: dict[str, Any] | None = None) -> str:
    """Render the figures in the Prometheus text exposition format."""
    m = collect_metrics() if figures is None else figures
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(
            f"{name}{labels} {value:g}" if isinstance(value, float) else f"{name}{labels} {value}"
            for labels, value in samples
        )

    family(
        "frameshift_jobs",
        "gauge",
        "Jobs in the database by status.",
        [(f'{{status="{s}"}}', n) for s, n in m["jobs"].items()],
    )
    family(
        "frameshift_queue_length",
        "gauge",
        "Jobs waiting for a follower (queued in the database).",
        [("", m["queue_length"])],
    )
    if m["broker_queue_length"] is not None:
        family(
            "frameshift_broker_queue_length",
            "gauge",
            "Messages waiting in the shared Celery queue in Redis.",
            [("", m["broker_queue_length"])],
        )
    family("frameshift_followers_online", "gauge", "Followers the monitor sees online.", [("", m["followers_online"])])
    family(
        "frameshift_follower_slots_total",
        "gauge",
        "Conversion slots (Celery concurrency) of online followers.",
        [("", m["slots_total"])],
    )
    family(
        "frameshift_follower_slots_busy", "gauge", "Slots running or holding a dispatched job.", [("", m["slots_busy"])]
    )
    family(
        "frameshift_follower_slots",
        "gauge",
        "Slots per online follower, by state.",
        [(f'{{follower="{_label(n)}",state="total"}}', t) for n, t, _b in m["followers"]]
        + [(f'{{follower="{_label(n)}",state="busy"}}', b) for n, _t, b in m["followers"]],
    )
    family(
        "frameshift_encode_seconds",
        "gauge",
        "Wall-clock seconds spent on succeeded jobs still in the database.",
        [("", round(m["encode_seconds"], 3))],
    )
    family(
        "frameshift_encoded_jobs",
        "gauge",
        "Succeeded jobs counted in frameshift_encode_seconds.",
        [("", m["encoded_jobs"])],
    )
    family(
        "frameshift_bytes_saved",
        "gauge",
        "Input size minus output size over succeeded jobs still in the database.",
        [("", m["bytes_saved"])],
    )
    return "\n".join(lines) + "\n"
