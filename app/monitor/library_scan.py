"""Libraries in the monitor: full scans, file-system events, the hold time, and what became of each file.

The monitor's tick calls `tick(monitor)`; everything else here runs on that one thread except the
watchdog observers, whose handlers only put paths into a set. A file is taken once its size and
mtime have stayed the same for LIBRARY_HOLD_SECONDS; then it is fingerprinted, matched against
what the library remembers (a rename keeps its outcome), decided by the rules, and queued or
recorded as skipped (app/monitor/library_files.py). docs/libraries.md explains each decision.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import utcnow
from app.models.library import Library, LibraryFile
from app.monitor.library_files import BATCH, record_outcomes, take_files
from app.monitor.library_watch import Watch, start_observer, stop_observer
from app.services import library_replace
from app.services.library_walk import Seen, ours, walk

log = logging.getLogger("frameshift.libraries")
EVERY = 1.0  # seconds between scanner rounds (the monitor ticks twice a second)
OUTCOMES_EVERY = 2.0
# With no enabled library, the scanner looks for one this often (at once when the web says a library changed:
# fix 23), and what is left of a round (replacements a crash interrupted, originals whose recycle period ended,
# outcomes of a disabled library's last jobs) runs as often; the prober sends nothing meanwhile. 15 s, not 5: the
# web's wake brings a new or changed library at once, and nothing left of a round is urgent; at 5 s the idle round
# was ~1.4 ms of the monitor's CPU a 30 s clip's job (docs/benchmarks.md, fix 48).
IDLE_EVERY = 15.0
# Files taken (fingerprinted, decided, queued) per round: a new 100,000-file library is worked through
# over many rounds instead of holding the monitor's loop (dispatch, probes, events) for minutes in one.
TAKE_PER_ROUND = 2_000


@dataclass
class Held:
    """A new or changed file waiting to stop changing."""

    library_id: int
    seen: Seen
    since: float  # monotonic time this size and mtime were first seen


@dataclass
class LibraryScanner:
    """Per-monitor state: held files, observers, when each library was last scanned."""

    flask_app: Flask
    hold: float
    held: dict[str, Held] = field(default_factory=dict)
    watches: dict[int, Watch] = field(default_factory=dict)
    scanned: dict[int, float] = field(default_factory=dict)
    dirty: set[tuple[int, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_round: float = 0.0
    last_outcomes: float = 0.0
    last_idle: float = 0.0
    enabled: int = -1  # enabled libraries at the last round (-1: no round yet); the prober reads it

    def poke(self) -> None:
        """A library was made, changed or asked to rescan (the web wakes the monitor): look at the next tick."""
        self.last_round = 0.0

    # ---- the round -------------------------------------------------------------------------
    def tick(self) -> None:
        """One round: watch, scan what is due, settle held files, record finished jobs."""
        now = time.monotonic()
        if now - self.last_round < (IDLE_EVERY if self.enabled == 0 and not self.watches and not self.held else EVERY):
            return  # with no library at the last look, the next is IDLE_EVERY later, or at once when poked (fix 23)
        self.last_round = now
        libraries = list(db.session.execute(select(Library).where(Library.enabled.is_(True))).scalars())
        self.enabled = len(libraries)
        if not libraries and not self.watches and not self.held:
            if now - self.last_idle >= IDLE_EVERY:  # nothing to watch or scan: the rest of a round, as seldom
                self.last_idle = self.last_outcomes = now
                library_replace.housekeep()
                record_outcomes()
                db.session.commit()
            return
        self.sync_watches(libraries)
        library_replace.housekeep()  # interrupted replacements finished, expired originals purged
        for library in libraries:
            if self.check_folder(library) and self.due(library, now):
                self.full_scan(library)
        self.take_events({lib.id: lib for lib in libraries})
        self.settle({lib.id: lib for lib in libraries})
        if now - self.last_outcomes >= OUTCOMES_EVERY:
            self.last_outcomes = now
            record_outcomes()
        db.session.commit()

    def due(self, library: Library, now: float) -> bool:
        """A scan is due on the first round, when asked for, and every scan_minutes."""
        last = self.scanned.get(library.id)
        return last is None or library.scan_requested_at is not None or now - last >= library.scan_minutes * 60

    def check_folder(self, library: Library) -> bool:
        """Report a library folder that is gone or unreadable (and clear the report when it is back)."""
        if os.path.isdir(library.folder) and os.access(library.folder, os.R_OK | os.X_OK):
            if library.problem:
                log.info("library %s: folder %s is back", library.name, library.folder)
                library.problem = None
                library.scan_requested_at = utcnow()
            return True
        if not library.problem:
            log.warning(
                "library %s: folder %s is gone or unreadable; nothing is queued from it", library.name, library.folder
            )
            library.problem = f"the folder {library.folder} is gone or cannot be read"
            self.stop_watch(library.id)
        return False

    # ---- finding files ----------------------------------------------------------------------
    def full_scan(self, library: Library) -> None:
        """List the folder; hold every file that is new or changed since the library last recorded it."""
        started = time.monotonic()
        self.scanned[library.id] = started
        library.scan_requested_at = None
        known = {
            path: (size, mtime)
            for path, size, mtime in db.session.execute(
                select(LibraryFile.path, LibraryFile.size, LibraryFile.mtime_ns).where(
                    LibraryFile.library_id == library.id
                )
            )
        }
        listed = new = 0
        try:
            for seen in walk(library.folder):
                listed += 1
                if known.get(seen.path) == (seen.size, seen.mtime_ns):
                    continue
                new += self.hold_file(library.id, seen, started)
        except OSError as exc:
            library.problem = f"the folder {library.folder} cannot be read: {exc.strerror or exc}"
            return
        library.last_scan_at = utcnow()
        log.info(
            "library %s: scanned %d files in %.2f s, %d new or changed",
            library.name,
            listed,
            time.monotonic() - started,
            new,
        )

    def hold_file(self, library_id: int, seen: Seen, now: float) -> int:
        """Start (or restart) the hold time of a file; return 1 when it was not held already."""
        current = self.held.get(seen.path)
        if current is not None and (current.seen.size, current.seen.mtime_ns) == (seen.size, seen.mtime_ns):
            return 0
        self.held[seen.path] = Held(library_id, seen, now)
        return 1

    def take_events(self, libraries: dict[int, Library]) -> None:
        """Stat the paths file-system events named and hold the files among them."""
        with self.lock:
            dirty, self.dirty = self.dirty, set()
        now = time.monotonic()
        for library_id, path in dirty:
            library = libraries.get(library_id)
            if library is None:
                continue
            relative = os.path.relpath(path, library.folder)
            if relative.startswith("..") or any(part.startswith(".") or ours(part) for part in relative.split(os.sep)):
                continue
            try:
                st = os.stat(path, follow_symlinks=False)
            except OSError:
                self.held.pop(path, None)  # gone: a move's old name, or a deleted file
                continue
            if os.path.isdir(path):
                self.hold_folder(library, path, relative, now)  # a folder created or moved in: list it
            elif os.path.isfile(path) and not os.path.islink(path):
                self.hold_file(library_id, Seen(path, relative.replace(os.sep, "/"), st.st_size, st.st_mtime_ns), now)

    def hold_folder(self, library: Library, path: str, relative: str, now: float) -> None:
        """Hold every file of a folder that appeared inside a library."""
        prefix = relative.replace(os.sep, "/") + "/"
        try:
            for seen in walk(path):
                self.hold_file(library.id, Seen(seen.path, prefix + seen.relative, seen.size, seen.mtime_ns), now)
        except OSError:
            return

    def settle(self, libraries: dict[int, Library]) -> None:
        """Check held files again; take the ones whose size and mtime stayed the same for the hold time."""
        now, wall = time.monotonic(), time.time()
        ready: dict[int, list[Seen]] = {}
        taken = 0
        for path, held in list(self.held.items()):
            if held.library_id not in libraries:
                del self.held[path]
                continue
            try:
                st = os.stat(path, follow_symlinks=False)
            except OSError:
                del self.held[path]
                continue
            if (st.st_size, st.st_mtime_ns) != (held.seen.size, held.seen.mtime_ns):
                self.held[path] = Held(held.library_id, Seen(path, held.seen.relative, st.st_size, st.st_mtime_ns), now)
                continue
            waited = now - held.since
            # Unchanged across two looks at least a second apart, and untouched for the hold time (by
            # our clock, or by its mtime for a file that was already old when it was listed).
            old = wall - st.st_mtime_ns / 1e9 >= self.hold and waited >= min(1.0, self.hold)
            if (waited >= self.hold or old) and taken < TAKE_PER_ROUND:
                del self.held[path]
                ready.setdefault(held.library_id, []).append(held.seen)
                taken += 1
        for library_id, files in ready.items():
            for i in range(0, len(files), BATCH):
                take_files(libraries[library_id], files[i : i + BATCH])
                db.session.commit()  # each batch is visible (to the probe dispatcher, the pages) at once

    # ---- observers ------------------------------------------------------------------------
    def sync_watches(self, libraries: list[Library]) -> None:
        """Start, restart or stop observers so each enabled library with a watch mode has one."""
        wanted = {lib.id: lib for lib in libraries if lib.watch in ("events", "polling") and not lib.problem}
        for library_id in list(self.watches):
            watch, library = self.watches[library_id], wanted.get(library_id)
            if library is None or (library.watch, library.folder) != (watch.mode, watch.folder):
                self.stop_watch(library_id)
            elif not watch.observer.is_alive():
                log.warning("library %s: its observer stopped; starting it again", library.name)
                self.stop_watch(library_id)
        for library_id, library in wanted.items():
            if library_id not in self.watches:
                self.start_watch(library)

    def start_watch(self, library: Library) -> None:
        """Watch one library's folder; the paths its changes name are held at the next round."""
        library_id = library.id

        def on_paths(paths: list[str]) -> None:
            with self.lock:
                self.dirty.update((library_id, path) for path in paths)

        watch = start_observer(library, on_paths)
        if watch is not None:
            self.watches[library_id] = watch

    def stop_watch(self, library_id: int) -> None:
        """Stop one library's observer."""
        watch = self.watches.pop(library_id, None)
        if watch is not None:
            stop_observer(watch, library_id)

    def close(self) -> None:
        """Stop every observer."""
        for library_id in list(self.watches):
            self.stop_watch(library_id)


def tick(monitor: Any) -> None:
    """The monitor's one call: make this monitor's scanner on first use, then run a round."""
    scanner = getattr(monitor, "libraries", None)
    if scanner is None:
        app = monitor.flask_app
        hold = float(app.config.get("LIBRARY_HOLD_SECONDS") or os.environ.get("LIBRARY_HOLD_SECONDS") or 60)
        scanner = monitor.libraries = LibraryScanner(app, hold)
    scanner.tick()
