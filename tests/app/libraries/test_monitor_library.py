"""The whole path in real processes: a monitor finds a library's file, a follower converts it, the outcome is kept."""

from __future__ import annotations

import shutil

from sqlalchemy import select

from app.extensions import db
from app.models import Job
from app.models.library import LibraryFile
from app.services.libraries import create_library
from tests.e2e.conftest import Stack
from tests.support import RedisServer, wait_for


def test_the_monitor_queues_a_library_file_and_records_its_conversion(app, media, tmp_path, redis_server, clips):
    folder = media / "Shows"
    folder.mkdir()
    shutil.copy(clips["short"], folder / "episode.mp4")
    # A Redis of its own: the session's is shared with the long-lived integration stacks, whose monitor and
    # followers would hear this test's tasks and events too.
    (tmp_path / "redis").mkdir()
    private = RedisServer(tmp_path / "redis").start()
    stack = Stack(tmp_path, private, media)
    stack.data = tmp_path / "data"  # the same database as `app`
    try:
        stack.start_worker("lib1")
        stack.start_monitor(LIBRARY_HOLD_SECONDS="2")
        with app.app_context():
            create_library(
                {
                    "name": "Shows",
                    "folder": str(folder),
                    "spec": {"video_codec": "libx264", "container": "mkv"},
                    "rules": {"skip_matching": False},
                    "watch": "events",
                }
            )

            def converted():
                db.session.expire_all()
                row = db.session.execute(select(LibraryFile)).scalar()
                return row is not None and row.state == "converted" and row

            row = wait_for(converted, 240, 0.5, what="the library file to be converted")  # slow under load, not wrong
            job = db.session.get(Job, row.job_id)
            assert job.status == "succeeded" and (folder / "episode_converted.mkv").is_file()
            assert len(db.session.execute(select(LibraryFile)).scalars().all()) == 1, "our output was picked up"
    finally:
        stack.stop()
        private.stop()
