"""Followers and the queue switch: what each follower is doing, drain/resume, pause/resume."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from app.extensions import db, redis_store
from app.models import ACTIVE_VALUES, Follower, Job, utcnow
from app.services.errors import Conflict, NotFound
from app.services.follower_load import machine_load
from app.services.jobs import status_counts
from app.services.live import publish, wake_dispatcher
from app.services.liveness import MONITOR_LAG, follower_alive
from app.services.settings import QUEUE_PAUSED, get_setting, set_setting
from tasks import keys

WRONG_TOKEN = "wrong token"
UNTRUSTED = "untrusted"
WRONG_TOKEN_FIX = (
    "this follower's SHARED_TOKEN differs from the leader's; set the same SHARED_TOKEN on both and restart the follower"
)
STALE_FIX = (
    "this follower's proof of SHARED_TOKEN is more than 5 minutes old or ahead: its clock differs from the "
    "leader's; set both clocks right (NTP) and restart the follower"
)


def current_jobs() -> dict[str, list[dict[str, Any]]]:
    """Return the dispatched and running jobs of every follower."""
    rows = db.session.execute(
        select(Job.id, Job.name, Job.status, Job.percent, Job.follower, Job.task_id, Job.attempt)
        .where(Job.status.in_(ACTIVE_VALUES))
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


def trust_problem(info: dict[str, Any]) -> tuple[str | None, str | None]:
    """Return (state, the fix in words) when the monitor found this follower cannot be trusted with jobs."""
    verdict = info.get("token")
    if verdict in ("wrong", "missing"):
        return WRONG_TOKEN, WRONG_TOKEN_FIX
    refused = info.get("refused") or {}
    if refused:
        reason = refused.get("reason") or "it refused a job"
        if "signature" in reason:
            return WRONG_TOKEN, WRONG_TOKEN_FIX
        return UNTRUSTED, f"this follower refused a job ({reason}); fix the cause and restart the follower"
    if verdict == "stale":
        return UNTRUSTED, STALE_FIX
    return None, None


def sandbox_warning(info: dict[str, Any]) -> str | None:
    """Return the warning to show when FFmpeg on this follower runs outside its sandbox (or nobody knows)."""
    sandbox = info.get("sandbox")
    if not isinstance(sandbox, dict) or sandbox.get("enabled"):
        return None
    if sandbox.get("mode") == "off":
        return "FFmpeg runs without its sandbox on this follower (FFMPEG_SANDBOX=off)"
    reason = f": {sandbox['reason']}" if sandbox.get("reason") else ""
    return (
        f"FFmpeg runs without its sandbox on this follower (sandbox state {sandbox.get('mode') or 'unknown'}{reason})"
    )


def describe(row: Follower, jobs: list[dict[str, Any]], lost_after: float) -> dict[str, Any]:
    """Return one follower as the API shows it (last_heartbeat is the follower's own clock, as it reported it)."""
    data = row.to_dict()
    age = (utcnow() - row.last_heartbeat).total_seconds() if row.last_heartbeat else None
    # The monitor's verdict (row.online) under the same rule, judged MONITOR_LAG ago (the row may be that old).
    heard_at = -age if age is not None else None  # seconds relative to now
    online = follower_alive(heard_at, -MONITOR_LAG, lost_after, gone=not row.online)
    info = row.info or {}
    shutting_down = bool(info.get("shutting_down")) and online
    untrusted, problem = trust_problem(info) if online else (None, None)
    if not online:
        state = "stopped" if info.get("stopped") else "lost"
    elif untrusted:
        state = untrusted
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
        token=info.get("token"),
        problem=problem,
        sandbox=info.get("sandbox"),
        sandbox_warning=sandbox_warning(info),
        can_forget=not online and not jobs,
        load=machine_load(info, online),
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


def forget_follower(name: str) -> dict[str, Any]:
    """Remove a follower that is gone (lost or stopped, no unfinished job) from the list; the monitor forgets it too.

    Refused with Conflict while it is online or holds jobs. If it starts again later it simply reappears.
    """
    row = get_follower(name)
    lost_after = float(current_app.config.get("FOLLOWER_LOST_AFTER", 10))
    jobs = current_jobs().get(name, [])
    described = describe(row, jobs, lost_after)
    if described["online"]:
        raise Conflict(
            f"follower {name} is online ({described['state']}); stop it first (a stopped follower can be forgotten)",
            field="name",
        )
    if jobs:
        ids = ", ".join(str(job["id"]) for job in jobs)
        raise Conflict(f"follower {name} still holds unfinished jobs ({ids}); wait until they end", field="name")
    db.session.delete(row)
    db.session.commit()
    try:
        # Its last advertisement too (a stopped follower's stays a day), so nothing brings the card back.
        with redis_store.client.pipeline(transaction=False) as pipe:
            pipe.delete(keys.follower(name))
            pipe.srem(keys.FOLLOWERS, name)
            pipe.execute()
    except Exception:  # noqa: BLE001  (the row is gone; a leftover advertisement expires by itself)
        pass
    publish({"type": "follower", "name": name, "forgotten": True})
    return {"name": name, "forgotten": True}


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
