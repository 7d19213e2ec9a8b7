"""The followers page: who runs conversions, their capacity, encoders and current jobs."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from app.extensions import db
from app.models import ACTIVE, Follower, Job
from app.services.settings import QUEUE_PAUSED, get_setting

bp = Blueprint("followers", __name__, url_prefix="/followers")


def followers_context() -> dict:
    """Every follower the monitor has seen, with the jobs each runs (two queries, whatever the count)."""
    followers = db.session.execute(select(Follower).order_by(Follower.online.desc(), Follower.name)).scalars().all()
    running = db.session.execute(
        select(Job.id, Job.name, Job.status, Job.percent, Job.follower)
        .where(Job.status.in_([s.value for s in ACTIVE]))
        .order_by(Job.id)
    ).all()
    by_follower: dict[str, list] = {}
    for row in running:
        by_follower.setdefault(row.follower or "", []).append(row)
    slots = sum(f.concurrency for f in followers if f.online and not f.draining)
    busy = sum(f.busy for f in followers if f.online)
    return {"followers": followers, "jobs_by_follower": by_follower, "slots": slots, "busy": busy,
            "paused": bool(get_setting(QUEUE_PAUSED, False))}


@bp.get("/")
def index():
    """Followers with status, slots, FFmpeg version, encoders, current jobs and drain buttons."""
    return render_template("followers/index.html", **followers_context())


@bp.get("/list")
def rows():
    """The follower list alone, for the page to refresh itself."""
    return render_template("followers/_list.html", **followers_context())
