"""File-system observers for libraries (watchdog): inotify where it works, polling where the library says so.

The observers run on their own threads; their handler only passes the changed paths on (the scanner puts them
in a set that the monitor's thread reads, app/monitor/library_scan.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.models.library import Library

log = logging.getLogger("frameshift.libraries")
# watchdog (7.x) reports opens and closes after reading on inotify; a file read is not a file changed, and
# counting them made every fingerprint read and every probe of a file put it back on hold (a loop).
READ_EVENTS = ("opened", "closed_no_write")


def change_events(wd: Any) -> list[type]:
    """The events asked of the kernel (inotify's mask): changes only, so reads are not even delivered."""
    return [
        wd.FileCreatedEvent,
        wd.FileModifiedEvent,
        wd.FileMovedEvent,
        wd.FileDeletedEvent,
        wd.FileClosedEvent,
        wd.FileAttribEvent,  # a touch: the mtime changed
        wd.DirCreatedEvent,
        wd.DirMovedEvent,
        wd.DirDeletedEvent,
    ]


@dataclass
class Watch:
    """One library's observer."""

    observer: Any
    mode: str
    folder: str


def start_observer(library: Library, on_paths: Callable[[list[str]], None]) -> Watch | None:
    """Start watching library's folder; on_paths gets the paths each change names. None when it cannot."""
    from watchdog import events as wd
    from watchdog.observers import Observer
    from watchdog.observers.polling import PollingObserver

    class Handler(wd.FileSystemEventHandler):
        def on_any_event(self, event) -> None:
            if event.event_type in READ_EVENTS:
                return  # reads change nothing; our own fingerprinting and the probes would feed back
            if event.is_directory and event.event_type not in ("created", "moved"):
                return  # a folder's own change says nothing its files' events do not
            paths = [getattr(event, "src_path", None), getattr(event, "dest_path", None)]
            on_paths([os.fsdecode(p) for p in paths if p])

    observer = PollingObserver(timeout=2) if library.watch == "polling" else Observer()
    try:
        observer.schedule(Handler(), library.folder, recursive=True, event_filter=change_events(wd))
        observer.start()
    except OSError as exc:
        log.warning("library %s: cannot watch %s (%s); full scans only", library.name, library.folder, exc)
        return None
    return Watch(observer, library.watch, library.folder)


def stop_observer(watch: Watch, library_id: int) -> None:
    """Stop one observer (without waiting long for its thread)."""
    try:
        watch.observer.stop()
        watch.observer.join(timeout=2)
    except Exception:  # noqa: BLE001  (an observer of a deleted folder may already be broken)
        log.debug("observer of library %s did not stop cleanly", library_id, exc_info=True)
