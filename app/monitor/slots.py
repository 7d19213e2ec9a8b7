"""Who can take work now, and why a queued job waits: free slots of usable followers, the followers an operator
drains or that are shutting down, and the waiting reason a person reads. Used by each dispatcher (whole jobs,
split jobs' pieces, library probes)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import core, redis_store
from app.models import Follower
from app.monitor.registry import Registry
from tasks import keys


@dataclass
class Slot:
    """Free capacity on one follower."""

    name: str
    free: int
    encoders: set[str]


def free_slots(registry: Registry) -> list[Slot]:
    """Return followers that are online, trusted (token proven, nothing refused), not draining, with free slots.

    Most free first. A follower without a valid proof of SHARED_TOKEN would refuse every payload: it gets none.
    """
    draining = draining_names()
    registry.note_refusals()  # a refusal recorded by this very batch of events counts at once
    busy = registry.busy_counts()
    stopping = stopping_names(list(registry.followers))
    slots = []
    for name, state in registry.followers.items():
        if name in stopping:
            state.shutting_down = True
        if name in draining or state.shutting_down or not registry.online(name) or not state.trusted:
            continue
        free = state.concurrency - busy.get(name, 0)
        if free > 0:
            slots.append(Slot(name, free, set(state.encoders)))
    slots.sort(key=lambda s: (-s.free, s.name))
    return slots


def stopping_names(names: list[str]) -> set[str]:
    """Return the followers that flagged themselves as shutting down (set first thing on SIGTERM)."""
    if not names:
        return set()
    try:
        flags = redis_store.client.mget([keys.stopping(name) for name in names])
    except Exception:  # noqa: BLE001  (cannot tell: rely on the advertisement)
        return set()
    return {name for name, flag in zip(names, flags) if flag}


DRAINING = select(Follower.name).where(Follower.draining.is_(True))


def draining_names() -> set[str]:
    """Return the followers an operator is draining."""
    return set(core(DRAINING).scalars())


def waiting_reason(need: str | None, registry: Registry, draining: set[str], paused: bool) -> str:
    """Say why a queued job is not running yet, in words a user understands."""
    if paused:
        return "waiting: the queue is paused"
    online = [s for name, s in registry.followers.items() if registry.online(name) and not s.shutting_down]
    # Not yet judged (no advertisement read) counts as up here; only a known-bad proof or a refusal excludes.
    up = [s for s in online if s.token in ("ok", "unchecked") and not s.refused]
    if not up:
        untrusted = sorted(s.name for s in online)
        if untrusted:
            return f"waiting: no follower with the right SHARED_TOKEN is online ({', '.join(untrusted)}: wrong token)"
        return "waiting: no follower is online"
    if need:
        able = [s for s in up if need in s.encoders]
        if not able:
            return f"waiting: no follower online has the {need} encoder"
        if all(s.name in draining for s in able):
            return f"waiting: every follower with the {need} encoder is draining"
        return f"waiting for a free slot on a follower with {need}"
    if all(s.name in draining for s in up):
        return "waiting: every follower is draining"
    return "waiting for a free follower slot"
