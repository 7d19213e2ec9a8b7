"""Which queued work the weekly schedules hold back now: the whole queue's and each library's.

The dispatcher (app/monitor/dispatcher.py) and the split dispatcher (app/monitor/split_dispatch.py) ask
current() once per round. The schedules are read from the database at most every CACHE_SECONDS (one row of
settings and one small query of libraries), so a round with no schedule set costs no query; a change made on
a page takes effect within that time. Running work is never stopped by a schedule: this only holds back starts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, and_, or_, select

from app.extensions import core, db
from app.models import Job
from app.models.library import Library
from app.services import schedules
from app.services.settings import QUEUE_SCHEDULE, get_setting

CACHE_SECONDS = 3.0
CACHE_KEY = "frameshift.schedules"


@dataclass
class Gate:
    """The schedules as last read, and the clock they are judged by this round."""

    now: datetime
    queue: list[int] | None = None
    libraries: dict[int, tuple[str, list[int]]] = field(default_factory=dict)  # id -> (name, flags), scheduled only
    cache: dict[str, Any] = field(default_factory=dict)

    def due(self, name: str) -> bool:
        """Return True at most once every CACHE_SECONDS for this name (a periodic step of a dispatcher)."""
        now = time.monotonic()
        if now - self.cache.get(name, float("-inf")) < CACHE_SECONDS:
            return False
        self.cache[name] = now
        return True

    def queue_reason(self) -> str | None:
        """Why nothing starts now because of the whole queue's hours (None: the queue may start work)."""
        return schedules.reason("the queue", self.queue, self.now)

    def closed(self) -> dict[int, str]:
        """Libraries outside their hours now, with the reason their jobs wait."""
        found = {}
        for library_id, (name, flags) in self.libraries.items():
            why = schedules.reason(f"library {name!r}", flags, self.now)
            if why:
                found[library_id] = why
        return found


def _as_text() -> bool:
    # extra.library is free JSON on a job made through the API ("abc", 2**53): PostgreSQL's CAST to an
    # integer would fail on it and stop every dispatch round, so there the id is compared as text.
    return db.session.get_bind().dialect.name == "postgresql"


def library_of_job() -> ColumnElement[Any]:
    """The library a job was queued by (spec.extra.library), NULL for a job picked by hand."""
    element = Job.spec[("extra", "library")]
    return element.as_string() if _as_text() else element.as_integer()


def library_id(value: Any) -> int | None:
    """A value of library_of_job() as a library id (None when it is not one)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _ids(closed: dict[int, str]) -> list[Any]:
    return [str(i) for i in closed] if _as_text() else list(closed)


def not_in(closed: dict[int, str]) -> ColumnElement[bool]:
    """Jobs that belong to none of these libraries."""
    library = library_of_job()
    return or_(library.is_(None), library.not_in(_ids(closed)))


def held_with_other_reason(closed: dict[int, str]) -> ColumnElement[bool]:
    """Jobs of these libraries whose waiting reason is not yet the library's."""
    library = library_of_job()
    return or_(
        *(
            and_(library == key, or_(Job.waiting_reason.is_(None), Job.waiting_reason != why))
            for key, why in zip(_ids(closed), closed.values())
        )
    )


def load() -> tuple[list[int] | None, dict[int, tuple[str, list[int]]]]:
    """Read the queue's schedule and every library's that has one (there are few libraries)."""
    queue = get_setting(QUEUE_SCHEDULE)
    rows = core(select(Library.id, Library.name, Library.schedule)).all()
    libraries = {
        library_id: (name, list(flags))
        for library_id, name, flags in rows
        if isinstance(flags, list) and len(flags) == schedules.HOURS and not all(flags)
    }
    valid = isinstance(queue, list) and len(queue) == schedules.HOURS and not all(queue)
    return (list(queue) if valid else None), libraries


def current(now: datetime | None = None) -> Gate:
    """The schedules (read again when CACHE_SECONDS have passed) judged at now (default: the local clock)."""
    cache = current_app.extensions.setdefault(CACHE_KEY, {})
    if time.monotonic() - cache.get("at", float("-inf")) >= CACHE_SECONDS:
        cache["queue"], cache["libraries"] = load()
        cache["at"] = time.monotonic()
    return Gate(now or schedules.local_now(), cache["queue"], cache["libraries"], cache)


def forget() -> None:
    """Read the schedules again at the next round (this process only)."""
    current_app.extensions.pop(CACHE_KEY, None)


def held_reasons(closed: dict[int, str], limit: int) -> dict[int, str]:
    """Queued jobs of closed libraries whose waiting reason must change to their library's (first limit in
    queue order): each read of the schedules gives the next ones theirs, so a deep library gets there in rounds."""
    if not closed:
        return {}
    library = library_of_job()
    rows = db.session.execute(
        select(Job.id, library)
        .where(Job.status == "queued", held_with_other_reason(closed))
        .order_by(Job.priority.desc(), Job.position, Job.id)
        .limit(limit)
    ).all()
    return {job_id: closed[library_id(value)] for job_id, value in rows}
