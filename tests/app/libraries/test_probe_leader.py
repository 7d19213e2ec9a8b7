"""The monitor's side of media facts (app/monitor/library_probe.py), in-process on a real database and Redis."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from app.extensions import db, get_celery
from app.models import Job
from app.models.library import Library, LibraryFile, MediaFacts
from app.monitor import library_probe
from app.services.libraries import create_library

pytestmark = pytest.mark.both_databases  # the waiting query's outer join and length() on PostgreSQL too


def library_with(media, names: list[str], spec: dict | None = None) -> Library:
    folder = media / "lib"
    folder.mkdir()
    library = create_library({"name": "lib", "folder": str(folder), "spec": spec or {"video_codec": "libx265"}})
    for name in names:
        path = folder / name
        path.write_bytes(b"x" * 100)
        st = path.stat()
        db.session.add(
            LibraryFile(
                library_id=library.id, path=str(path), size=st.st_size, mtime_ns=st.st_mtime_ns, state="pending"
            )
        )
    db.session.commit()
    return library


def test_files_wait_for_facts_until_current_ones_exist(app, media):
    with app.app_context():
        library = library_with(media, ["a.mp4", "b.mp4", "c.mp4", "d.mp4"])
        rows = {r.path.rsplit("/", 1)[1]: r for r in db.session.execute(select(LibraryFile)).scalars()}
        db.session.add(MediaFacts(path=rows["b.mp4"].path, size=rows["b.mp4"].size, mtime_ns=rows["b.mp4"].mtime_ns))
        db.session.add(
            MediaFacts(path=rows["c.mp4"].path, size=rows["c.mp4"].size + 1, mtime_ns=rows["c.mp4"].mtime_ns)
        )
        rows["d.mp4"].state = "skipped"
        db.session.commit()
        waiting = [p.rsplit("/", 1)[1] for p, _, _ in library_probe.waiting_files(10)]
        assert waiting == ["a.mp4", "c.mp4"]  # b has current facts, c's are stale, d is decided
        library.enabled = False
        db.session.commit()
        assert library_probe.waiting_files(10) == []


def test_facts_from_a_batch_are_written_and_the_waiting_files_decided(app, media):
    with app.app_context():
        library_with(
            media,
            ["old.mp4", "new.mkv", "bad.mkv", "moved.mp4", "far.mp4"],
            {"video_codec": "libx265", "container": "mkv"},
        )
        files = library_probe.waiting_files(10)
        batch = library_probe.Batch("t1", "w@h", files, time.monotonic())
        by_name = {p.rsplit("/", 1)[1]: p for p, _, _ in files}
        facts = {
            by_name["old.mp4"]: {"container": "mov,mp4,m4a,3gp,3g2,mj2", "video_codec": "h264", "bit_depth": 8},
            by_name["new.mkv"]: {"container": "matroska,webm", "video_codec": "hevc", "bit_depth": 10},
            by_name["bad.mkv"]: {"error": "not a video file Frame Shift can read: Invalid data"},
            by_name["moved.mp4"]: {"changed": True},
            by_name["far.mp4"]: {"error": "... is outside the media folders", "missing": True},
            "/somewhere/else.mp4": {"video_codec": "h264"},  # not in the batch: ignored
        }
        resting: dict[str, float] = {}
        assert library_probe.write_facts(batch, {"facts": facts}, resting, 0.0) == 3
        assert sorted(resting) == sorted([by_name["moved.mp4"], by_name["far.mp4"]])  # sent again later, not skipped
        assert library_probe.decide_waiting() == 3
        rows = {r.path.rsplit("/", 1)[1]: r for r in db.session.execute(select(LibraryFile)).scalars()}
        assert rows["old.mp4"].state == "queued" and db.session.get(Job, rows["old.mp4"].job_id) is not None
        assert rows["new.mkv"].state == "skipped" and "already matches" in rows["new.mkv"].reason
        assert rows["bad.mkv"].state == "skipped" and "not readable" in rows["bad.mkv"].reason
        assert rows["moved.mp4"].state == "pending" and rows["far.mp4"].state == "pending"
        assert db.session.get(MediaFacts, by_name["far.mp4"]) is None
        assert db.session.get(MediaFacts, by_name["bad.mkv"]).video_codec is None


class Followers:
    """Stands in for the registry: which followers are lost (a pure stand-in, no Celery)."""

    def __init__(self, lost: set[str]) -> None:
        self.gone = lost

    def lost(self, name: str) -> bool:
        return name in self.gone


def test_a_batch_on_a_lost_follower_is_dropped_and_its_files_wait_again(app, media):
    with app.app_context():
        library_with(media, ["a.mp4"])
        files = library_probe.waiting_files(10)
        prober = library_probe.Prober()
        prober.inflight["t-lost"] = library_probe.Batch("t-lost", "gone@h", files, time.monotonic())
        prober.inflight["t-alive"] = library_probe.Batch("t-alive", "here@h", files, time.monotonic())
        prober.collect(get_celery(app), Followers({"gone@h"}), time.monotonic())
        assert list(prober.inflight) == ["t-alive"]  # no result yet, follower alive: still waited for
        prober.collect(get_celery(app), Followers(set()), time.monotonic() + library_probe.BATCH_DEADLINE + 1)
        assert prober.inflight == {}
        assert [p for p, _, _ in library_probe.waiting_files(10)] == [p for p, _, _ in files]
