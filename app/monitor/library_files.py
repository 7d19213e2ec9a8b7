"""Libraries in the monitor: what becomes of a settled file, and of its job.

`take_files` fingerprints a batch of settled files, recognises renames (a moved file keeps its outcome),
applies the library's rules and queues or records each file; `record_outcomes` turns the finished jobs of
queued files into converted or failed (and replaces the original when the library says so). The scanner
(app/monitor/library_scan.py) and the prober (app/monitor/library_probe.py) call them on the monitor's
thread. docs/libraries.md explains each decision.
"""

from __future__ import annotations

import logging
import os

from sqlalchemy import select, update

from app.extensions import db
from app.models import Job, JobStatus
from app.models.library import Library, LibraryFile
from app.services import library_replace
from app.services import library_rules as rules_mod
from app.services.errors import ServiceError
from app.services.libraries import as_facts, facts_for
from app.services.library_walk import Seen, fingerprint

log = logging.getLogger("frameshift.libraries")
BATCH = 500  # files per transaction, and finished jobs read per round


def take_files(library: Library, files: list[Seen]) -> None:
    """Fingerprint settled files, recognise renames, apply the rules, queue or record them."""
    paths = [s.path for s in files]
    rows = {
        r.path: r
        for r in db.session.execute(
            select(LibraryFile).where(LibraryFile.library_id == library.id, LibraryFile.path.in_(paths))
        ).scalars()
    }
    facts = facts_for(paths)
    prints: dict[str, str] = {}
    for seen in files:
        try:
            prints[seen.path] = fingerprint(seen.path, seen.size)
        except OSError:
            continue
    candidates = moved_candidates(library.id, [p for path, p in prints.items() if path not in rows])
    to_queue: list[tuple[Seen, LibraryFile]] = []
    for seen in files:
        print_ = prints.get(seen.path)
        if print_ is None:
            continue
        row = rows.get(seen.path)
        if row is None:
            moved = renamed_from(candidates.get((print_, seen.size), []))
            if moved is not None:
                log.info(
                    "library %s: %s was moved to %s; keeping its outcome (%s)",
                    library.name,
                    moved.path,
                    seen.path,
                    moved.state,
                )
                moved.path, moved.mtime_ns = seen.path, seen.mtime_ns
                continue
            row = LibraryFile(library_id=library.id, path=seen.path, size=seen.size, mtime_ns=seen.mtime_ns)
            db.session.add(row)
        elif row.fingerprint == print_ and row.size == seen.size and row.state != "pending":
            row.mtime_ns = seen.mtime_ns  # touched, not changed
            continue
        row.size, row.mtime_ns, row.fingerprint, row.job_id = seen.size, seen.mtime_ns, print_, None
        decision = rules_mod.decide(
            seen.relative,
            seen.size,
            as_facts(facts.get(seen.path), seen.size, seen.mtime_ns),
            library.rules,
            library.spec,
        )
        row.reason = decision.reason or None
        if decision.action == "queue":
            to_queue.append((seen, row))
        else:
            row.state = "skipped" if decision.action == "skip" else "pending"
    db.session.flush()
    if to_queue:
        queue_files(library, to_queue)


def moved_candidates(library_id: int, prints: list[str]) -> dict[tuple[str, int], list[LibraryFile]]:
    """The remembered files of a library that share a fingerprint with new files: one query per batch.

    Without autoflush: the batch's new rows are flushed together at its end, not one by one here."""
    found: dict[tuple[str, int], list[LibraryFile]] = {}
    if not prints:
        return found
    with db.session.no_autoflush:
        for row in db.session.execute(
            select(LibraryFile).where(LibraryFile.library_id == library_id, LibraryFile.fingerprint.in_(set(prints)))
        ).scalars():
            found.setdefault((row.fingerprint, row.size), []).append(row)
    return found


def renamed_from(candidates: list[LibraryFile]) -> LibraryFile | None:
    """A remembered file with this fingerprint and size whose old path is gone: the same file, moved."""
    for row in candidates:
        if not os.path.exists(row.path):
            candidates.remove(row)  # one old row follows one new path
            return row
    return None


def queue_files(library: Library, items: list[tuple[Seen, LibraryFile]]) -> None:
    """Create one job per file with the library's spec (one at a time if the batch is refused)."""
    from app.services.jobs import create_jobs

    spec = {**library.spec, "if_exists": "rename"}
    if library.output_policy == "folder" and library.output_dir:
        spec["output_dir"] = library.output_dir
    spec["extra"] = {"library": library.id}
    ids = {seen.path: row.id for seen, row in items}  # read before the commit expires the rows
    db.session.commit()  # create_jobs commits on its own
    groups = [items] if len(items) > 1 else []
    groups += [[item] for item in items] if len(items) > 1 else [items]
    done: set[str] = set()
    for group in groups:
        group = [item for item in group if item[0].path not in done]
        if not group:
            continue
        try:
            jobs = create_jobs([seen.path for seen, _ in group], spec)
        except ServiceError as exc:
            db.session.rollback()
            if len(group) == 1:
                seen, row = group[0]
                row = db.session.merge(row)
                row.state, row.reason = "failed", f"could not be queued: {exc.message}"[:1000]
                done.add(seen.path)
            continue
        # One UPDATE by primary key for the group: merging each expired row loaded it again, one SELECT a file.
        db.session.execute(
            update(LibraryFile),
            [
                {"id": ids[seen.path], "state": "queued", "job_id": job.id, "reason": None}
                for (seen, _), job in zip(group, jobs)
            ],
        )
        done.update(seen.path for seen, _ in group)
        db.session.commit()


def record_outcomes() -> None:
    """Turn finished jobs of queued files into converted or failed."""
    finished = [JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value]
    rows = db.session.execute(
        select(LibraryFile, Job.status, Job.error)
        .join(Job, Job.id == LibraryFile.job_id)
        .where(LibraryFile.state == "queued", Job.status.in_(finished))
        .limit(BATCH)
    ).all()
    for row, status, error in rows:
        if status == JobStatus.SUCCEEDED.value:
            row.state, row.reason = "converted", None
            library_replace.on_success(row)  # output policy replace (may skip the file: output not smaller)
        else:
            row.state, row.reason = "failed", (error or status)[:1000]
