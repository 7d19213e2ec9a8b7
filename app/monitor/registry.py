"""What the monitor knows about followers: liveness from events, offers from Redis."""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from app.extensions import core, db, redis_store
from app.models import ACTIVE_VALUES, Follower, Job
from app.models.piece import Piece
from app.monitor.follower_table import FollowerTable
from app.services.liveness import follower_alive
from tasks import keys
from tasks.signing import check_proof

log = logging.getLogger("frameshift.monitor")
# The name field of each line of CLIENT LIST (not lib-name=).
CLIENT_NAME = re.compile(r"(?:^| )name=(\S*)", re.MULTILINE)
_OUT = ACTIVE_VALUES  # dispatched or running: a follower holds it (also for pieces: the same values)
_ANY_PIECE_OUT = select(Piece.id).where(Piece.status.in_(_OUT)).limit(1)
_BUSY_JOBS = select(Job.follower, func.count()).where(Job.status.in_(_OUT)).group_by(Job.follower)
_BUSY_PIECES = select(Piece.follower, func.count()).where(Piece.status.in_(_OUT)).group_by(Piece.follower)


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
    # The latest proof of SHARED_TOKEN in its advertisement: ok, missing, wrong, stale (or unchecked: none read yet).
    token: str = "unchecked"
    # The follower's own clock at its latest heartbeat or advertisement (what the page shows; never ours).
    heartbeat_at: float = 0.0
    stopped: bool = False
    # Why it refused a payload since it (re)started; it gets no new job until it restarts.
    refused: str | None = None
    # Its named Redis connection (keys.presence): seen since Redis started, polls it has been missing, crashed.
    present: bool = False
    absent_polls: int = 0
    crashed: bool = False

    def heard(self, when: float | None) -> None:
        """A sign of life sent at `when` (its own clock; now when it gave none)."""
        self.last_seen = max(self.last_seen, when or time.time())
        if when:
            self.heartbeat_at = max(self.heartbeat_at, when)

    @property
    def trusted(self) -> bool:
        """Return True when it proved it holds our SHARED_TOKEN and refused nothing since it started."""
        return self.token == "ok" and not self.refused


class Registry(FollowerTable):
    """Followers keyed by Celery hostname."""

    def __init__(self, lost_after: float) -> None:
        self.lost_after = lost_after
        self.redis_run: str | None = None  # Redis's run_id: a restart closes every connection, crashed or not
        # Running attempts whose lease was missing, and since when (the reaper's memory; one per monitor).
        self.lease_missing: dict[str, float] = {}
        self.lease_checked_at = 0.0  # when the reaper last read the running attempts' leases (time.time)
        self.followers: dict[str, FollowerState] = {}
        self.written: set[str] = set()  # names this monitor has written a row for (a row gone since = forgotten)
        self.forgotten: dict[str, float] = {}  # name -> when its row was found gone: older events bring nothing back
        self.last_shown: str | None = None  # what the follower table showed at the last write (heartbeats aside)
        self.last_write = 0.0

    def seen(self, name: str, when: float | None = None) -> FollowerState:
        """Record a sign of life from name (any event it sent)."""
        state = self.followers.get(name)
        if state is None:
            if (when or time.time()) <= self.forgotten.get(name, 0.0):
                return FollowerState(name=name)  # sent before it was forgotten, read late (a paused monitor)
            self.forgotten.pop(name, None)  # a sign of life since: it reappears
            state = self.followers[name] = FollowerState(name=name)
            self.refresh(state)
        state.heard(when)
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
            try:
                info = json.loads(raw)
                if not isinstance(info, dict):
                    raise ValueError("not an object")
            except ValueError:
                log.warning("follower %s advertises something that is not a JSON object; ignoring it", state.name)
                return
            if info.get("started_at") != state.info.get("started_at"):
                state.refused = None  # a restart: judge it afresh
            state.info = info
            state.concurrency = int(info.get("concurrency") or 1)
            state.encoders = list(info.get("encoders") or [])
            state.ffmpeg_version = info.get("ffmpeg_version") or ""
            state.shutting_down = bool(info.get("shutting_down"))
            state.stopped = bool(info.get("stopped"))
            state.token = check_proof(state.name, info, current_app.config.get("SHARED_TOKEN") or "")
            stamp = info.get("heartbeat_at")
            if isinstance(stamp, int | float) and not isinstance(stamp, bool):
                state.heartbeat_at = max(state.heartbeat_at, float(stamp))

    def refresh_all(self) -> None:
        """Re-read every follower's advertisement."""
        for state in self.followers.values():
            self.refresh(state)

    def stopping(self, name: str) -> None:
        """The follower said it is shutting down (an attempt ended interrupted): give it no new job."""
        state = self.followers.get(name)
        if state is not None:
            state.shutting_down = True

    def trusted(self, name: str) -> bool:
        """Return True when name may be given jobs as far as its token is concerned."""
        state = self.followers.get(name)
        return bool(state) and state.trusted

    def note_refusals(self) -> None:
        """Keep followers that refused a payload (recorded on their rows by the outcome) from new jobs."""
        rows = db.session.execute(select(Follower.name, Follower.info)).all()
        for name, info in rows:
            state = self.followers.get(name)
            mark = (info or {}).get("refused")
            if state is not None and mark and mark.get("started_at") == state.info.get("started_at"):
                state.refused = mark.get("reason") or "refused a payload"

    def online(self, name: str, now: float | None = None) -> bool:
        """Return True when name sent something within lost_after seconds, has not crashed and is not offline."""
        state = self.followers.get(name)
        if state is None:
            return False
        return follower_alive(state.last_seen, now or time.time(), self.lost_after, gone=state.offline or state.crashed)

    def lost(self, name: str, now: float | None = None) -> bool:
        """Return True when name crashed, or has been silent longer than lost_after (a clean offline is not
        enough: its last attempts may still be reporting how they ended)."""
        state = self.followers.get(name)
        if state is None:
            return True
        return not follower_alive(state.last_seen, now or time.time(), self.lost_after, gone=state.crashed)

    def loss_reason(self, name: str, now: float | None = None) -> str:
        """Say how name was lost: it crashed (its connection closed) or it stopped answering."""
        state = self.followers.get(name)
        if state is not None and state.crashed:
            return "it crashed (its connection to Redis closed)"
        silent = (now or time.time()) - state.last_seen if state is not None and state.last_seen else None
        return f"it stopped answering for {silent:.0f} s" if silent is not None else "it stopped answering"

    @staticmethod
    def read_presence() -> Any:
        """One command: the names of the connected clients (raw, not client_list(): redis-py parses every field of
        every client, and that was over half of the monitor's tick at rest: bench/footprint.py). Raises what redis-py
        raises; an answer also proves Redis is reachable (the monitor's tick asks nothing else for that: fix 34)."""
        return redis_store.client.execute_command("CLIENT", "LIST", "TYPE", "normal")

    def check_presence(self, read: Any = None) -> bool:
        """Mark followers whose named Redis connection closed as crashed: the kernel closes a dead process's
        sockets at once, whatever the load, so this needs no short heartbeat (which a busy machine would miss).
        Missing in two polls in a row, and not stopping cleanly by its own advertisement. Return True when a
        follower was found crashed by this poll (the monitor then reaps its work at once).
        read: read_presence()'s answer when the caller has it (the monitor's tick reads it to know Redis answers)."""
        found = False
        if read is None:
            try:
                read = self.read_presence()
            except Exception:  # noqa: BLE001  (cannot tell: judge nobody by it)
                return False
        text = read.decode(errors="replace") if isinstance(read, bytes) else str(read)
        names = set(CLIENT_NAME.findall(text))
        judged = [
            s
            for s in self.followers.values()
            if keys.presence(s.name) not in names
            and s.present
            and not (s.crashed or s.offline or s.stopped or s.shutting_down)
        ]
        if judged or self.redis_run is None:
            # A connection is missing (or this is the first look): a restarted Redis (a new run id) lost every
            # connection, and its followers come back when they reconnect; nobody is judged by this poll. Read only
            # then: INFO at every poll was a fifth of the tick (fix 49).
            try:
                run_id = redis_store.client.info("server").get("run_id")
            except Exception:  # noqa: BLE001  (cannot tell: judge nobody by it)
                return False
            if run_id != self.redis_run:
                self.redis_run, judged = run_id, []
                for state in self.followers.values():
                    state.present, state.absent_polls = False, 0
        for state in self.followers.values():
            if keys.presence(state.name) in names:
                state.present, state.absent_polls, state.crashed = True, 0, False
        for state in judged:
            state.absent_polls += 1
            if state.absent_polls >= 2:
                self.refresh(state)  # a clean stop has said so in its advertisement
                if not (state.stopped or state.shutting_down):
                    state.crashed = found = True
                    log.warning("follower %s crashed: its connection to Redis closed", state.name)
        return found

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

    @staticmethod
    def pieces_out() -> bool:
        """Whether any piece of a split job is out (dispatched or running): one indexed probe. With nothing out the
        reaper, the cancel enforcer and the busy counts have nothing to look at (fixes 20, 22)."""
        return core(_ANY_PIECE_OUT).first() is not None

    def busy_counts(self, jobs: list[Any] | None = None, pieces: bool = True) -> dict[str, int]:
        """Return how many active jobs and pieces of split jobs each follower holds, from the database.
        jobs: the rows of the active jobs (reaper.active_rows) when just read; pieces=False: none is out."""
        if jobs is None:
            rows = core(_BUSY_JOBS)
            counts = {name: count for name, count in rows if name}
        else:
            counts = dict(Counter(row.follower for row in jobs if row.follower))
        for name, count in core(_BUSY_PIECES) if pieces else ():
            if name:
                counts[name] = counts.get(name, 0) + count
        return counts
