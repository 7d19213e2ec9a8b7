"""The follower table the web reads: what the monitor's registry knows of each follower, written when it changes."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.extensions import db
from app.models import Follower

if TYPE_CHECKING:
    from app.monitor.registry import FollowerState

log = logging.getLogger("frameshift.monitor")
# The follower table is written when what it shows changed; a heartbeat alone moves it at most this often
# (the web trusts a row for MONITOR_LAG, app/services/liveness.py, and a heartbeat comes every 2 s).
HEARTBEAT_WRITE_EVERY = 3.0


class FollowerTable:
    """Registry's writing of its followers to the database (app/monitor/registry.py keeps the state it writes)."""

    followers: dict[str, FollowerState]
    written: set[str]
    forgotten: dict[str, float]
    last_shown: str | None
    last_write: float

    def shown(self, busy: dict[str, int], now: float) -> str:
        """What the follower table shows, heartbeat times aside, as one comparable string."""
        view = [
            (name, self.online(name, now), s.concurrency, s.encoders, s.ffmpeg_version, s.info, s.shutting_down)
            + (s.stopped or s.offline, s.token, s.refused, s.heartbeat_at > 0)
            for name, s in sorted(self.followers.items())
        ]
        return json.dumps([view, sorted(busy.items(), key=str)], sort_keys=True, default=str)

    def sync_db(self, busy: dict[str, int] | None = None) -> bool:
        """Write the follower table the web process reads; forget followers whose rows were deleted (forgotten).
        Skipped (False) when nothing it shows changed and the heartbeats were written HEARTBEAT_WRITE_EVERY ago.
        busy: the busy counts when the caller knows them (none: nothing is out), else they are counted."""
        now = time.time()
        busy = self.busy_counts() if busy is None else busy
        shown = self.shown(busy, now)
        if shown == self.last_shown and now - self.last_write < HEARTBEAT_WRITE_EVERY:
            return False
        self.last_write = now
        rows = {row.name: row for row in db.session.execute(select(Follower)).scalars()}
        for name in [n for n in self.followers if n in self.written and n not in rows]:
            log.info("follower %s was forgotten", name)
            del self.followers[name]
            self.written.discard(name)
            self.forgotten[name] = now
        for name, state in self.followers.items():
            row = rows.get(name)
            if row is None:
                row = Follower(name=name)
                db.session.add(row)
            self.written.add(name)
            mark = (row.info or {}).get("refused")
            if mark and mark.get("started_at") == state.info.get("started_at"):
                state.refused = state.refused or mark.get("reason")
            row.online = self.online(name, now)
            row.concurrency = state.concurrency
            row.encoders = state.encoders
            row.ffmpeg_version = state.ffmpeg_version
            row.info = {
                **state.info,
                "shutting_down": state.shutting_down,
                "stopped": state.stopped or state.offline,
                "token": state.token,
                **(
                    {"refused": {"reason": state.refused, "started_at": state.info.get("started_at")}}
                    if state.refused
                    else {}
                ),
            }
            row.busy = busy.get(name, 0)
            if state.heartbeat_at:
                # The follower's own clock: a grace period (ours) after a Redis restart never shows as its heartbeat.
                row.last_heartbeat = datetime.fromtimestamp(state.heartbeat_at, timezone.utc).replace(tzinfo=None)
        for name, row in rows.items():
            if name not in self.followers:
                row.online = False
                row.busy = busy.get(name, 0)
        self.last_shown = self.shown(busy, now)  # refusal marks read from the rows above are part of it
        return True
