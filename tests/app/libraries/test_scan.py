"""The scanner on real folders and files: hold time, both observers, rules, never twice, renames, a lost folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Job
from app.models.library import Library, LibraryFile, MediaFacts
from app.monitor.library_scan import LibraryScanner
from app.services.libraries import create_library, request_rescan
from tests.support import wait_for

HOLD = 2.0
H264_MP4 = {"video_codec": "libx264", "container": "mp4", "bit_depth": 8}


@pytest.fixture
def scanner(app):
    with app.app_context():
        found = LibraryScanner(app, HOLD)
        yield found
        found.close()


def run(scanner: LibraryScanner, until, timeout: float = 15.0, what: str = "the scanner"):
    """Run scanner rounds until until() is true."""

    def step():
        scanner.last_round = scanner.last_outcomes = 0.0
        scanner.tick()
        db.session.expire_all()
        return until()

    wait_for(step, timeout, 0.2, what=what)


def library(folder: Path, **values) -> Library:
    values = {"name": folder.name, "folder": str(folder), "spec": H264_MP4, "rules": {"skip_matching": False}, **values}
    return create_library(values)


def jobs_for(path: Path) -> list[Job]:
    return list(db.session.execute(select(Job).where(Job.input_path == str(path))).scalars())


def row_for(path: Path) -> LibraryFile | None:
    return db.session.execute(select(LibraryFile).where(LibraryFile.path == str(path))).scalar()


def test_a_file_copied_in_slowly_is_taken_only_after_it_stops_changing(scanner, media, clips):
    folder = media / "slow"
    folder.mkdir()
    lib = library(folder, watch="events")
    run(scanner, lambda: lib.id in scanner.watches, what="the observer to start")
    target = folder / "arriving.mp4"
    data = clips["long"].read_bytes()
    chunks = [data[i : i + len(data) // 8 + 1] for i in range(0, len(data), len(data) // 8 + 1)]
    finished: list[float] = []

    def copy_slowly():
        with open(target, "wb") as handle:
            for chunk in chunks:  # 8 chunks, 0.6 s apart: about 4.8 s of writing, longer than the hold time
                handle.write(chunk)
                handle.flush()
                finished[:] = [time.monotonic()]  # the last change the scanner can see
                time.sleep(0.6)

    writer = threading.Thread(target=copy_slowly)
    writer.start()
    while writer.is_alive():
        scanner.last_round = 0.0
        scanner.tick()
        assert jobs_for(target) == [], "a file still being written was queued"
        time.sleep(0.2)
    run(scanner, lambda: len(jobs_for(target)) == 1, what="the copied file to be queued")
    job = jobs_for(target)[0]
    assert job.input_size == len(data)
    assert time.monotonic() - finished[0] >= HOLD - 0.1, "taken before the hold time since its last change"


@pytest.mark.parametrize("watch", ["events", "polling"])
def test_both_observers_find_new_files(scanner, media, clips, watch):
    folder = media / watch
    (folder / "sub").mkdir(parents=True)
    lib = library(folder, watch=watch, scan_minutes=600)
    run(scanner, lambda: lib.id in scanner.watches and lib.last_scan_at is not None, what="the first scan")
    scanned_at = scanner.scanned[lib.id]
    # Copied the way rsync does it: a hidden temporary name, renamed into place.
    temp = folder / "sub" / ".new.mp4.XYZ"
    shutil.copy(clips["short"], temp)
    temp.rename(folder / "sub" / "new.mp4")
    run(scanner, lambda: len(jobs_for(folder / "sub" / "new.mp4")) == 1, what=f"the {watch} observer to find it")
    assert scanner.scanned[lib.id] == scanned_at, "found by a full scan, not by the observer"
    assert jobs_for(temp) == []


def _probe_facts(path: Path) -> MediaFacts:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(out)
    video = next(s for s in data["streams"] if s["codec_type"] == "video")
    st = path.stat()
    return MediaFacts(
        path=str(path),
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        container=data["format"]["format_name"],
        video_codec=video["codec_name"],
        bit_depth=8 if video["pix_fmt"] == "yuv420p" else 10,
        height=video["height"],
        width=video["width"],
    )


def test_rules_skip_what_already_matches(scanner, media, clips):
    folder = media / "matching"
    folder.mkdir()
    shutil.copy(clips["short"], folder / "h264.mp4")
    db.session.add(_probe_facts(folder / "h264.mp4"))
    db.session.commit()
    library(folder, watch="none", rules={"skip_matching": True})
    run(scanner, lambda: row_for(folder / "h264.mp4") is not None, what="the file to be recorded")
    row = row_for(folder / "h264.mp4")
    assert row.state == "skipped" and row.reason.startswith("already matches the target")
    assert jobs_for(folder / "h264.mp4") == []


def test_never_twice_a_move_keeps_the_outcome_and_a_change_queues_again(scanner, media, clips):
    folder = media / "twice"
    folder.mkdir()
    original = folder / "film.mp4"
    shutil.copy(clips["short"], original)
    (folder / "film_converted.mp4").write_bytes(b"an earlier output of ours")
    lib = library(folder, watch="events")
    run(scanner, lambda: len(jobs_for(original)) == 1, what="the file to be queued")
    assert jobs_for(folder / "film_converted.mp4") == []
    job = jobs_for(original)[0]
    job.status = "succeeded"
    db.session.commit()
    run(scanner, lambda: row_for(original).state == "converted", what="the outcome to be recorded")
    request_rescan(lib.id, None)
    run(scanner, lambda: lib.scan_requested_at is None, what="the rescan")
    assert len(jobs_for(original)) == 1
    (folder / "Season 1").mkdir()
    moved = folder / "Season 1" / "film renamed.mp4"
    original.rename(moved)
    run(scanner, lambda: row_for(moved) is not None, what="the move to be recognised")
    assert row_for(moved).state == "converted" and jobs_for(moved) == []
    with open(moved, "ab") as handle:
        handle.write(b"changed")
    run(scanner, lambda: len(jobs_for(moved)) == 1, what="the changed file to be queued again")
    jobs_for(moved)[0].status = "failed"
    db.session.commit()
    run(scanner, lambda: row_for(moved).state == "failed", what="the failure to be recorded")
    request_rescan(lib.id, None)
    run(scanner, lambda: lib.scan_requested_at is None, what="the rescan")
    assert len(jobs_for(moved)) == 1, "a failed file was queued again without being asked"
    request_rescan(lib.id, "failed")
    run(scanner, lambda: len(jobs_for(moved)) == 2, what="the person's requeue")


def test_a_library_folder_deleted_while_watched_is_reported(scanner, media, clips):
    folder = media / "vanishing"
    folder.mkdir()
    lib = library(folder, watch="events")
    run(scanner, lambda: lib.id in scanner.watches, what="the observer to start")
    shutil.rmtree(folder)
    run(scanner, lambda: lib.problem is not None, what="the problem to be reported")
    assert "is gone" in lib.problem and lib.id not in scanner.watches
    folder.mkdir()
    shutil.copy(clips["short"], folder / "back.mp4")
    run(
        scanner, lambda: lib.problem is None and len(jobs_for(folder / "back.mp4")) == 1, what="the folder to come back"
    )


def test_a_big_library_is_taken_a_bounded_number_of_files_a_round(scanner, media, monkeypatch):
    """A new library of many files does not hold the monitor's loop: each round takes at most TAKE_PER_ROUND."""
    from app.monitor import library_scan

    monkeypatch.setattr(library_scan, "TAKE_PER_ROUND", 4)
    folder = media / "big"
    folder.mkdir()
    old = time.time() - 3600
    for n in range(10):
        path = folder / f"clip{n:02d}.mkv"
        path.write_bytes(b"not really a video %d" % n)
        os.utime(path, (old, old))
    library(folder, watch="none", rules={"skip_matching": False, "extensions": ["mkv"]})

    def rows() -> int:
        return db.session.execute(select(func.count()).select_from(LibraryFile)).scalar()

    run(scanner, lambda: rows() > 0, what="the first files to be taken")
    taken = [rows()]
    while taken[-1] < 10:
        scanner.last_round = scanner.last_outcomes = 0.0
        scanner.tick()
        db.session.expire_all()
        taken.append(rows())
    assert taken == [4, 8, 10], taken
    assert len(scanner.held) == 0


def test_reading_a_file_is_not_a_change(scanner, media, clips):
    """Opening and reading a library file (our fingerprint, a follower's probe, a media player) is no event."""
    folder = media / "read"
    folder.mkdir()
    film = folder / "film.mp4"
    shutil.copy(clips["short"], film)
    old = time.time() - 3600
    os.utime(film, (old, old))
    library(folder, watch="events")
    run(scanner, lambda: row_for(film) is not None, what="the file to be taken")
    time.sleep(0.5)
    scanner.tick()  # drain what the observer saw of our own fingerprint read
    for _ in range(3):
        film.read_bytes()
    time.sleep(1.0)  # inotify delivers within milliseconds; watchdog's thread passes it on
    with scanner.lock:
        assert scanner.dirty == set()
    film.touch()
    wait_for(lambda: scanner.dirty, 5, 0.1, what="a real change (touch) to be seen")
