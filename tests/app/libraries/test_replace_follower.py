"""Replace the original in real processes: a monitor finds two libraries' files, a real follower converts them;
one output replaces its original (then undone through the API), one is not smaller enough and is thrown away, and
the monitor purges a third original whose recycle period is over."""

from __future__ import annotations

import shutil
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from app.extensions import db
from app.models import Job, utcnow
from app.models.library import Library, LibraryFile, Replacement
from app.services.libraries import create_library
from tests.e2e.conftest import Stack
from tests.media import ffprobe
from tests.support import RedisServer, wait_for

SMALL = {
    "video_codec": "libx264",
    "bit_depth": 8,
    "crf": 45,
    "preset": "ultrafast",
    "audio_quality": "low",
    "container": "mkv",
    "split": "never",
}


def _row(folder: Path) -> LibraryFile | None:
    db.session.expire_all()
    rows = db.session.execute(select(LibraryFile).where(LibraryFile.path.startswith(str(folder)))).scalars().all()
    return rows[0] if len(rows) == 1 and rows[0].state in ("converted", "skipped") else None


def test_a_real_follower_replaces_keeps_undoes_and_purges(app, client, media, tmp_path, clips):
    replace, keep, purge = media / "Replace", media / "Keep", media / "Purge"
    for folder in (replace, keep, purge):
        folder.mkdir()
        shutil.copy(clips["short"], folder / "episode.mp4")
    before = (replace / "episode.mp4").read_bytes()
    (tmp_path / "redis").mkdir()
    private = RedisServer(tmp_path / "redis").start()  # its own: the session's is heard by other stacks
    stack = Stack(tmp_path, private, media)
    stack.data = tmp_path / "data"  # the same database as `app`
    try:
        stack.start_worker("rep1")
        stack.start_monitor(LIBRARY_HOLD_SECONDS="2")
        with app.app_context():
            common = {"spec": SMALL, "rules": {"skip_matching": False}, "output_policy": "replace", "watch": "events"}
            create_library({"name": "Replace", "folder": str(replace), **common})
            create_library({"name": "Keep", "folder": str(keep), "min_saving_percent": 99, **common})
            create_library({"name": "Purge", "folder": str(purge), "recycle_days": 1, **common})

            replaced = wait_for(lambda: _row(replace), 300, 0.5, what="the replacement")  # slow under load
            kept = wait_for(lambda: _row(keep), 300, 0.5, what="the output not smaller to be refused")
            wait_for(lambda: _row(purge), 300, 0.5, what="the third replacement")

            # Replaced: the output (a real H.264 Matroska file) at the original's place, the original recycled.
            assert replaced.state == "converted" and replaced.path == str(replace / "episode.mkv")
            assert ffprobe(replace / "episode.mkv")["streams"][0]["codec_name"] == "h264"
            assert not (replace / "episode.mp4").exists()
            rep = db.session.execute(select(Replacement).where(Replacement.library_id == replaced.library_id)).scalar()
            assert rep.state == "replaced" and Path(rep.recycled_path).read_bytes() == before
            # Not smaller by 99 %: the original untouched byte for byte, the output gone, the file skipped.
            assert kept.state == "skipped" and kept.reason.startswith("output not smaller"), kept.reason
            assert (keep / "episode.mp4").read_bytes() == before
            assert sorted(p.name for p in keep.iterdir()) == ["episode.mp4"]
            note = client.get(f"/api/jobs/{kept.job_id}").get_json()["replacement"]
            assert note["outcome"] == "kept original" and "output not smaller" in note["note"]

            answer = client.post(f"/api/jobs/{replaced.job_id}/undo-replace")
            assert answer.status_code == 200, answer.get_json()
            assert (replace / "episode.mp4").read_bytes() == before
            assert (replace / "episode_converted.mkv").is_file() and not (replace / "episode.mkv").exists()

            # The monitor process purges an original whose recycle period is over.
            doomed = db.session.execute(select(Replacement).where(Replacement.original_path.startswith(str(purge))))
            doomed = doomed.scalar()
            recycled = Path(doomed.recycled_path)
            assert recycled.read_bytes() == before
            doomed.expires_at = utcnow() - timedelta(seconds=1)
            db.session.commit()

            def purged():
                db.session.expire_all()
                return db.session.get(Replacement, doomed.id).state == "purged" and not recycled.exists()

            wait_for(purged, 60, 0.5, what="the monitor to purge the expired original")
            assert (purge / "episode.mkv").is_file()

            jobs = db.session.execute(select(func.count(Job.id))).scalar()
            asked = utcnow() - timedelta(seconds=1)
            for name in ("Replace", "Keep", "Purge"):
                library = db.session.execute(select(Library).where(Library.name == name)).scalar()
                assert client.post(f"/api/libraries/{library.id}/rescan", json={}).status_code == 200

            def scanned():
                db.session.expire_all()
                libraries = db.session.execute(select(Library)).scalars().all()
                return all(lib.last_scan_at and lib.last_scan_at > asked for lib in libraries)

            wait_for(scanned, 60, 0.5, what="the libraries scanned again")
            time.sleep(5)  # the hold time (2 s) of anything the scans found, and a round to queue it
            db.session.expire_all()
            assert db.session.execute(select(func.count(Job.id))).scalar() == jobs, "a file was queued again"
    finally:
        stack.stop()
        private.stop()
