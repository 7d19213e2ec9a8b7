"""Followers and the queue switch: what each follower is doing, drain/resume, pause/resume."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import ACTIVE, Follower, Job, utcnow
from app.services.errors import NotFound
from app.services.jobs import status_counts
from app.services.live import publish, wake_dispatcher
from app.services.settings import QUEUE_PAUSED, get_setting, set_setting

# The monitor writes follower rows twice a second; allow it this much lag before calling a follower lost.
MONITOR_LAG = 5.0


def current_jobs() -> dict[str, list[dict[str, Any]]]:
    """Return the dispatched and running jobs of every follower."""
    rows = db.session.execute(
        select(Job.id, Job.name, Job.status, Job.percent, Job.follower, Job.task_id, Job.attempt)
        .where(Job.status.in_([s.value for s in ACTIVE]))
        .order_by(Job.id)
    ).all()
    jobs: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        jobs.setdefault(row.follower or "", []).append(
            {
                "id": row.id,
                "name": row.name,
                "status": row.status,
                "percent": round(row.percent or 0.0, 2),
                "task_id": row.task_id,
                "attempt": row.attempt,
            }
        )
    return jobs


def describe(row: Follower, jobs: list[dict[str, Any]], lost_after: float) -> dict[str, Any]:
    """Return one follower as the API shows it."""
    data = row.to_dict()
    age = (utcnow() - row.last_heartbeat).total_seconds() if row.last_heartbeat else None
    online = bool(row.online) and age is not None and age <= lost_after + MONITOR_LAG
    info = row.info or {}
    shutting_down = bool(info.get("shutting_down")) and online
    if not online:
        state = "lost"
    elif shutting_down:
        state = "stopping"
    elif row.draining:
        state = "draining"
    else:
        state = "busy" if jobs else "idle"
    data.update(
        state=state,
        online=online,
        shutting_down=shutting_down,
        busy=len(jobs),
        free=max(0, row.concurrency - len(jobs)) if online and state in ("busy", "idle") else 0,
        current_jobs=jobs,
        heartbeat_age=round(age, 1) if age is not None else None,
        threads=info.get("threads"),
        host=info.get("host"),
        path_map=info.get("path_map", []),
    )
    return data


def list_followers() -> list[dict[str, Any]]:
    """Return every follower the monitor has seen, online ones first."""
    lost_after = float(current_app.config.get("FOLLOWER_LOST_AFTER", 10))
    jobs = current_jobs()
    rows = db.session.execute(select(Follower).order_by(Follower.name)).scalars().all()
    described = [describe(row, jobs.get(row.name, []), lost_after) for row in rows]
    return sorted(described, key=lambda f: (not f["online"], f["name"]))


def get_follower(name: str) -> Follower:
    """Return a follower row or raise NotFound naming the known ones."""
    row = db.session.get(Follower, name)
    if row is None:
        known = ", ".join(db.session.execute(select(Follower.name).order_by(Follower.name)).scalars()) or "none yet"
        raise NotFound(f"no follower is called {name!r} (known: {known})", field="name")
    return row


def set_draining(name: str, draining: bool) -> dict[str, Any]:
    """Drain (finish current jobs, take no new ones) or resume a follower; idempotent."""
    row = get_follower(name)
    row.draining = draining
    db.session.commit()
    publish({"type": "follower", "name": name, "draining": draining})
    if not draining:
        wake_dispatcher()
    lost_after = float(current_app.config.get("FOLLOWER_LOST_AFTER", 10))
    return describe(row, current_jobs().get(name, []), lost_after)


def drain_follower(name: str) -> dict[str, Any]:
    """Let name finish its current jobs and give it no new ones."""
    return set_draining(name, True)


def resume_follower(name: str) -> dict[str, Any]:
    """Give name new jobs again."""
    return set_draining(name, False)


def queue_state() -> dict[str, Any]:
    """Return whether the queue is paused, job counts and follower capacity."""
    followers = list_followers()
    usable = [f for f in followers if f["state"] in ("busy", "idle")]
    return {
        "paused": bool(get_setting(QUEUE_PAUSED, False)),
        "counts": status_counts(),
        "followers_online": sum(1 for f in followers if f["online"]),
        "slots": sum(f["concurrency"] for f in usable),
        "busy": sum(f["busy"] for f in followers),
    }


def set_queue_paused(paused: bool) -> dict[str, Any]:
    """Pause (running jobs go on, nothing new starts) or resume the whole queue; idempotent."""
    set_setting(QUEUE_PAUSED, paused)
    publish({"type": "queue", "paused": paused})
    if not paused:
        wake_dispatcher()
    return queue_state()


def pause_queue() -> dict[str, Any]:
    """Start nothing new until resumed."""
    return set_queue_paused(True)


def resume_queue() -> dict[str, Any]:
    """Start dispatching again."""
    return set_queue_paused(False)
