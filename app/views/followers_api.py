"""JSON API for followers and the queue switch (the Followers page's buttons call these)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from app.schemas.inputs import accepts
from app.schemas.schedules import QueueSchedule
from app.services import followers as follower_service
from app.services import queue_schedule

bp = Blueprint("followers_api", __name__, url_prefix="/api")


@bp.get("/followers")
def index():
    """Every follower: state, slots, current jobs, heartbeat, encoders, FFmpeg version, done/failed."""
    return jsonify({"followers": follower_service.list_followers()})


@bp.post("/followers/<name>/drain")
def drain(name: str):
    """Finish current jobs, take no new ones."""
    return jsonify(follower_service.drain_follower(name))


@bp.post("/followers/<name>/resume")
def resume(name: str):
    """Take new jobs again."""
    return jsonify(follower_service.resume_follower(name))


@bp.delete("/followers/<name>")
def forget(name: str):
    """Forget a follower that is gone; 409 while it is online or holds unfinished jobs."""
    return jsonify(follower_service.forget_follower(name))


@bp.get("/queue")
def queue():
    """Whether the queue is paused, with job counts and capacity."""
    return jsonify(follower_service.queue_state())


@bp.post("/queue/pause")
def pause():
    """Start nothing new; running jobs go on."""
    return jsonify(follower_service.pause_queue())


@bp.post("/queue/resume")
def resume_queue():
    """Start dispatching again."""
    return jsonify(follower_service.resume_queue())


@bp.get("/queue/schedule")
def schedule():
    """The hours of the week when the queue may start jobs (null: any time), in words, and whether it may now."""
    return jsonify(queue_schedule.queue_schedule())


@bp.put("/queue/schedule")
@accepts(json=QueueSchedule)
def set_schedule(body: QueueSchedule):
    """Set the queue's hours: 168 flags, Monday 00:00 first; outside them waiting jobs wait, running ones go on."""
    return jsonify(queue_schedule.set_queue_schedule(body.schedule))
