"""What the monitor knows about followers: liveness from events, offers from Redis."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import func, select

from app.extensions import db, redis_store
from app.models import ACTIVE, Follower, Job
from tasks import keys

log = logging.getLogger("frameshift.monitor")


@dataclass
class FollowerState:
    """One follower as seen by this monitor."""

    name: str
    last_seen: float = 0.0
    concurrency: int = 1
    encoders: list[str] = field(default_factory=list)
    ffmpeg_version: str = ""
    shutting_down: bool = False
    offline: bool = False
    info: dict = field(default_factory=dict)


class Registry:
    """Followers keyed by Celery hostname."""

    def __init__(self, lost_after: float) -> None:
        self.lost_after = lost_after
        self.followers: dict[str, FollowerState] = {}

    def seen(self, name: str, when: float | None = None) -> FollowerState:
        """Record a sign of life from name (any event it sent)."""
        state = self.followers.get(name)
        if state is None:
            state = self.followers[name] = FollowerState(name=name)
            self.refresh(state)
        state.last_seen = max(state.last_seen, when or time.time())
        state.offline = False
        return state

    def refresh(self, state: FollowerState) -> None:
        """Read what the follower advertised in Redis."""
        try:
            raw = redis_store.client.get(keys.follower(state.name))
        except Exception as exc:  # noqa: BLE001
            log.warning("cannot read follower info for %s: %s", state.name, exc)
            return
        if raw:
            info = json.loads(raw)
            state.info = info
            state.concurrency = int(info.get("concurrency") or 1)
            state.encoders = list(info.get("encoders") or [])
            state.ffmpeg_version = info.get("ffmpeg_version") or ""
            state.shutting_down = bool(info.get("shutting_down"))

    def refresh_all(self) -> None:
        """Re-read every follower's advertisement."""
        for state in self.followers.values():
            self.refresh(state)

    def online(self, name: str, now: float | None = None) -> bool:
        """Return True when name sent something within lost_after seconds."""
        state = self.followers.get(name)
        now = now or time.time()
        return bool(state) and not state.offline and now - state.last_seen <= self.lost_after

    def lost(self, name: str, now: float | None = None) -> bool:
        """Return True when name has been silent longer than lost_after (a clean offline is not enough:
        its last attempts may still be reporting how they ended)."""
        state = self.followers.get(name)
        now = now or time.time()
        return state is None or now - state.last_seen > self.lost_after

    def grace_all(self) -> None:
        """After our own broker outage: nobody could be heard, so every follower gets a fresh window."""
        self.grace(set(self.followers))

    def grace(self, names: set[str]) -> None:
        """After a monitor restart: give followers with running jobs one full window to speak."""
        now = time.time()
        for name in names:
            state = self.followers.get(name) or FollowerState(name=name)
            if state.name not in self.followers:
                self.followers[name] = state
                self.refresh(state)
            state.last_seen = max(state.last_seen, now)

    def busy_counts(self) -> dict[str, int]:
        """Return how many active jobs each follower holds, from the database."""
        rows = db.session.execute(
            select(Job.follower, func.count()).where(Job.status.in_([s.value for s in ACTIVE])).group_by(Job.follower)
        )
        return {name: count for name, count in rows if name}

    def sync_db(self) -> None:
        """Write the follower table the web process reads."""
        now = time.time()
        busy = self.busy_counts()
        rows = {row.name: row for row in db.session.execute(select(Follower)).scalars()}
        for name, state in self.followers.items():
            row = rows.get(name)
            if row is None:
                row = Follower(name=name)
                db.session.add(row)
            row.online = self.online(name, now)
            row.concurrency = state.concurrency
            row.encoders = state.encoders
            row.ffmpeg_version = state.ffmpeg_version
            row.info = {**state.info, "shutting_down": state.shutting_down}
            row.busy = busy.get(name, 0)
            if state.last_seen:
                row.last_heartbeat = datetime.fromtimestamp(state.last_seen, timezone.utc).replace(tzinfo=None)
        for name, row in rows.items():
            if name not in self.followers:
                row.online = False
                row.busy = busy.get(name, 0)
