"""Media facts for libraries, read by followers: send probe batches just in time, write what comes back.

The monitor's tick calls `tick(monitor)`. Each round (every tick, twice a second) it
1. reads the results of the batches in flight (one MGET on the result backend) and writes media_facts;
   a batch whose follower was lost, or that failed or outlived BATCH_DEADLINE, is dropped: its files
   wait for facts again and go out in a later batch (to whichever follower has room then);
2. decides the library files that were waiting for facts and now have them (the same rules as a scan:
   queue, skip, or keep waiting);
3. sends batches of up to LIBRARY_PROBE_BATCH files that wait for facts (none, or stale ones: the size or
   mtime changed) to followers with a free slot, at most one batch in flight per free slot.
docs/libraries.md ("Media facts") explains why a batch takes a free slot and how results come back.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from celery import Celery
from celery.utils import worker_direct
from flask import current_app
from sqlalchemy import and_, func, or_, select

from app.extensions import db
from app.models import utcnow
from app.models.library import Library, LibraryFile, MediaFacts
from app.monitor.reconcile import backend_states
from app.monitor.slots import free_slots
from app.services import library_rules as rules_mod
from app.services.libraries import as_facts
from app.services.library_walk import Seen
from tasks.probe_child import FACT_FIELDS
from tasks.signing import sign

log = logging.getLogger("frameshift.libraries")
EVERY = 0.4  # every monitor tick (0.5 s): a finished batch is replaced within half a second
BATCH = 200
BATCH_DEADLINE = 300.0  # longer than a follower's own limit (120 s) plus a wait in its queue
PAYLOAD_TTL = 3600
RETRY_AFTER = 60.0  # a file a follower saw changed or could not find waits this long before it is sent again
MAX_PATH_BYTES = 2000  # longer than an index key may be on PostgreSQL: never stored, never sent
FINISHED = ("SUCCESS", "FAILURE", "REVOKED", "UNREADABLE")


@dataclass
class Batch:
    """One probe batch in flight."""

    task_id: str
    follower: str
    files: list[tuple[str, int, int]]
    sent_at: float


@dataclass
class Prober:
    """Per-monitor state: the batches in flight and files resting after a 'changed' answer."""

    batch_size: int = BATCH
    inflight: dict[str, Batch] = field(default_factory=dict)
    resting: dict[str, float] = field(default_factory=dict)
    failing: dict[str, float] = field(default_factory=dict)  # follower -> when it may have a batch again
    last_round: float = 0.0

    def tick(self, celery_app: Celery, registry: Any) -> None:
        """One round: collect results, decide the files that now have facts, send new batches."""
        now = time.monotonic()
        if now - self.last_round < EVERY:
            return
        self.last_round = now
        self.collect(celery_app, registry, now)
        decide_waiting()
        db.session.commit()
        self.send(celery_app, registry, now)

    # ---- results ----------------------------------------------------------------------------
    def collect(self, celery_app: Celery, registry: Any, now: float) -> None:
        """Write the facts of finished batches; drop batches that will never answer."""
        if not self.inflight:
            return
        states = backend_states(celery_app, list(self.inflight))
        done = []
        for task_id, (state, value) in states.items():
            batch = self.inflight[task_id]
            if state == "SUCCESS" and isinstance(value, dict):
                written = write_facts(batch, value, self.resting, now)
                log.info(
                    "probe batch %s on %s: %d of %d files read in %s s",
                    task_id[:8],
                    batch.follower,
                    written,
                    len(batch.files),
                    value.get("seconds"),
                )
            elif state in FINISHED:
                self.failing[batch.follower] = now + RETRY_AFTER  # a broken follower is not fed a batch a second
                log.warning(
                    "probe batch %s on %s ended %s (%s); its files go out again, not to it for a minute",
                    task_id[:8],
                    batch.follower,
                    state,
                    str(value)[:300],
                )
            elif registry.lost(batch.follower) or now - batch.sent_at > BATCH_DEADLINE:
                log.warning(
                    "probe batch %s on %s was lost; its %d files go out again",
                    task_id[:8],
                    batch.follower,
                    len(batch.files),
                )
            else:
                continue
            done.append(task_id)
        for task_id in done:
            del self.inflight[task_id]
        if done:
            forget(celery_app, done)

    # ---- sending ----------------------------------------------------------------------------
    def send(self, celery_app: Celery, registry: Any, now: float) -> None:
        """Send batches of waiting files to followers with a free slot not already probing."""
        self.resting = {path: until for path, until in self.resting.items() if until > now}
        busy: dict[str, int] = {}
        for batch in self.inflight.values():
            busy[batch.follower] = busy.get(batch.follower, 0) + 1
        flying = {path for batch in self.inflight.values() for path, _, _ in batch.files} | set(self.resting)
        if not [f for f in waiting_files(len(flying) + 1) if f[0] not in flying]:
            return  # the usual case at rest: one indexed query, no look at the followers
        room = [(slot.name, slot.free - busy.get(slot.name, 0)) for slot in free_slots(registry)]
        room = [(name, free) for name, free in room if free > 0 and self.failing.get(name, 0) <= now]
        if not room:
            return
        wanted = sum(free for _, free in room) * self.batch_size
        files = [f for f in waiting_files(wanted + len(flying)) if f[0] not in flying][:wanted]
        out = []
        for name, free in room:
            for _ in range(free):
                if not files:
                    break
                chunk, files = files[: self.batch_size], files[self.batch_size :]
                out.append(Batch(str(uuid.uuid4()), name, chunk, now))
        if out:
            send_batches(celery_app, out)
            for batch in out:
                self.inflight[batch.task_id] = batch


def waiting_files(limit: int) -> list[tuple[str, int, int]]:
    """Library files that wait for facts (none yet, or the file changed since), oldest first."""
    stale = or_(
        MediaFacts.path.is_(None), MediaFacts.size != LibraryFile.size, MediaFacts.mtime_ns != LibraryFile.mtime_ns
    )
    rows = db.session.execute(
        select(LibraryFile.path, LibraryFile.size, LibraryFile.mtime_ns)
        .join(Library, Library.id == LibraryFile.library_id)
        .outerjoin(MediaFacts, MediaFacts.path == LibraryFile.path)
        .where(Library.enabled.is_(True), LibraryFile.state == "pending", stale)
        .where(func.length(LibraryFile.path) <= MAX_PATH_BYTES)
        .order_by(LibraryFile.id)
        .limit(limit)
    ).all()
    return [(path, size, mtime_ns) for path, size, mtime_ns in rows]


def send_batches(celery_app: Celery, batches: list[Batch]) -> None:
    """Send each batch, signed and bound to its task id, to its follower's own queue (one Redis round trip)."""
    token = current_app.config["SHARED_TOKEN"]
    expires = int(time.time()) + PAYLOAD_TTL
    with celery_app.producer_or_acquire() as producer, producer.batch():
        for batch in batches:
            payload = sign(
                {"task_id": batch.task_id, "expires": expires, "files": [list(f) for f in batch.files]}, token
            )
            celery_app.send_task(
                "library.probe",
                args=[payload],
                task_id=batch.task_id,
                queue=worker_direct(batch.follower),
                producer=producer,
                argsrepr=f"[probe {len(batch.files)} files: {batch.files[0][0]} ...]",
                kwargsrepr="{}",
            )


def forget(celery_app: Celery, task_ids: list[str]) -> None:
    """Remove read results from the backend (a big library would otherwise keep thousands for a week)."""
    backend = celery_app.backend
    try:
        backend.client.delete(*[backend.get_key_for_task(t) for t in task_ids])
    except Exception as exc:  # noqa: BLE001  (they expire on their own)
        log.debug("could not remove probe results: %s", exc)


def write_facts(batch: Batch, result: dict[str, Any], resting: dict[str, float], now: float) -> int:
    """Write the facts a follower returned for the files of batch (by the size and mtime the leader sent)."""
    answers = result.get("facts") if isinstance(result.get("facts"), dict) else {}
    sent = {path: (size, mtime_ns) for path, size, mtime_ns in batch.files}
    usable = {p: a for p, a in answers.items() if p in sent and isinstance(a, dict)}
    missing = []
    for path, answer in list(usable.items()):
        if answer.get("missing"):
            missing.append(f"{path}: {answer.get('error')}")
        if answer.get("changed") or answer.get("missing") or len(path.encode(errors="replace")) > MAX_PATH_BYTES:
            resting[path] = now + RETRY_AFTER
            del usable[path]
    if missing:
        log.warning(
            "follower %s cannot read %d files (check its media roots and FOLLOWER_PATH_MAP); trying again in %.0f s: %s",
            batch.follower,
            len(missing),
            RETRY_AFTER,
            missing[0][:300],
        )
    rows = {
        row.path: row
        for row in db.session.execute(select(MediaFacts).where(MediaFacts.path.in_(list(usable)))).scalars()
    }
    for path, answer in usable.items():
        row = rows.get(path)
        if row is None:
            row = MediaFacts(path=path)
            db.session.add(row)
        row.size, row.mtime_ns = sent[path]
        error = answer.get("error")
        row.error = str(error)[:1000] if error else None
        for name in FACT_FIELDS:
            setattr(row, name, None if error else answer.get(name))
        row.probed_at = utcnow()
    db.session.commit()
    return len(usable)


def decide_waiting(limit: int = 1000) -> int:
    """Apply the rules to pending library files whose facts have arrived: queue, skip or keep waiting."""
    from app.monitor.library_files import queue_files

    rows = db.session.execute(
        select(LibraryFile, Library, MediaFacts)
        .join(Library, Library.id == LibraryFile.library_id)
        .join(
            MediaFacts,
            and_(
                MediaFacts.path == LibraryFile.path,
                MediaFacts.size == LibraryFile.size,
                MediaFacts.mtime_ns == LibraryFile.mtime_ns,
            ),
        )
        .where(Library.enabled.is_(True), LibraryFile.state == "pending")
        .order_by(LibraryFile.id)
        .limit(limit)
    ).all()
    to_queue: dict[int, tuple[Library, list]] = {}
    for row, library, facts in rows:
        relative = os.path.relpath(row.path, library.folder).replace(os.sep, "/")
        decision = rules_mod.decide(
            relative, row.size, as_facts(facts, row.size, row.mtime_ns), library.rules, library.spec
        )
        row.reason = decision.reason or None
        if decision.action == "queue":
            to_queue.setdefault(library.id, (library, []))[1].append(
                (Seen(row.path, relative, row.size, row.mtime_ns), row)
            )
        elif decision.action == "skip":
            row.state = "skipped"
    db.session.flush()
    for library, items in to_queue.values():
        queue_files(library, items)
    return len(rows)


def tick(monitor: Any) -> None:
    """The monitor's one call: make this monitor's prober on first use, then run a round."""
    if getattr(monitor, "broker_down", False):
        return  # results and followers cannot be read; nothing is lost by waiting
    scanner = getattr(monitor, "libraries", None)
    prober = getattr(monitor, "probes", None)
    if scanner is not None and scanner.enabled == 0 and not (prober and prober.inflight):
        return  # no enabled library (the scanner's last round): no file can wait for facts, none is out
    if prober is None:
        raw = current_app.config.get("LIBRARY_PROBE_BATCH") or os.environ.get("LIBRARY_PROBE_BATCH") or BATCH
        try:
            size = int(raw)
        except (TypeError, ValueError):
            log.warning("LIBRARY_PROBE_BATCH=%r is not a whole number; using %d", raw, BATCH)
            size = BATCH
        prober = monitor.probes = Prober(batch_size=max(1, size))
    prober.tick(monitor.celery_app, monitor.registry)
