"""The followers page: who runs conversions, their capacity, encoders and current jobs."""

from __future__ import annotations

from flask import Blueprint, render_template

from app.services import followers as follower_service
from app.services.queue_schedule import queue_schedule

bp = Blueprint("followers", __name__, url_prefix="/followers")


def followers_context() -> dict:
    """Every follower the monitor has seen, with its jobs, and the queue's state (a few queries, whatever the count)."""
    followers = follower_service.list_followers()
    queue = follower_service.queue_state()
    slots = sum(f["concurrency"] for f in followers if f["online"] and not f["draining"] and not f["problem"])
    busy = sum(f["busy"] for f in followers if f["online"])
    return {"followers": followers, "slots": slots, "busy": busy, "paused": bool(queue.get("paused"))}


@bp.get("/")
def index():
    """Followers with status, slots, FFmpeg version, encoders, current jobs and drain buttons."""
    return render_template("followers/index.html", queue_hours=queue_schedule(), **followers_context())


@bp.get("/list")
def rows():
    """The follower list alone, for the page to refresh itself."""
    return render_template("followers/_list.html", **followers_context())
