"""Media facts read by real followers for a library, through the real monitor (app/monitor/library_probe.py)."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.library import LibraryFile, MediaFacts
from app.services.libraries import create_library
from tests.e2e.conftest import Stack
from tests.media import make_clip, make_hevc_clip
from tests.support import RedisServer, wait_for


@pytest.fixture
def system(app, media, tmp_path):
    """A Redis of its own (the session's is shared with long-lived stacks) and the test's database."""
    (tmp_path / "redis").mkdir()
    private = RedisServer(tmp_path / "redis").start()
    stack = Stack(tmp_path, private, media)
    stack.data = tmp_path / "data"  # the same database as `app`
    yield stack
    stack.stop()
    private.stop()


def rows_by_name() -> dict[str, LibraryFile]:
    db.session.expire_all()
    return {Path(r.path).name: r for r in db.session.execute(select(LibraryFile)).scalars()}


def test_default_rules_queue_the_h264_file_and_skip_the_hevc_one_from_a_followers_facts(app, media, system):
    folder = media / "Films"
    folder.mkdir()
    make_clip(folder / "old.mp4", seconds=3)
    make_hevc_clip(folder / "new.mkv", seconds=2)
    (folder / "broken.mkv").write_bytes(b"\x1aE\xdf\xa3 this is not really a video" * 100)
    outside = media.parent / "outside"
    outside.mkdir()
    make_clip(outside / "secret.ts", seconds=2)
    (folder / "trap.mp4").write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n{outside / 'secret.ts'}\n")
    system.start_worker("probe1")
    system.start_monitor(LIBRARY_HOLD_SECONDS="1")
    with app.app_context():
        # Default rules (skip_matching on): nothing can be decided before a follower has read the files.
        create_library({"name": "Films", "folder": str(folder), "spec": {"video_codec": "libx265", "container": "mkv"}})

        def decided():
            rows = rows_by_name()
            return len(rows) == 4 and all(r.state != "pending" for r in rows.values()) and rows

        rows = wait_for(decided, 180, 0.5, what="every library file to be decided from its facts")
        assert rows["old.mp4"].state in ("queued", "converted") and rows["old.mp4"].job_id
        assert rows["new.mkv"].state == "skipped" and "already matches" in rows["new.mkv"].reason
        assert rows["broken.mkv"].state == "skipped" and "not readable" in rows["broken.mkv"].reason
        assert rows["trap.mp4"].state == "skipped" and "not readable" in rows["trap.mp4"].reason
        facts = {Path(f.path).name: f for f in db.session.execute(select(MediaFacts)).scalars()}
        old, new = facts["old.mp4"], facts["new.mkv"]
        assert (old.video_codec, old.bit_depth, old.width, old.height, old.audio_codec) == ("h264", 8, 160, 120, "aac")
        assert "mp4" in old.container.split(",") and abs(old.duration - 3) < 0.2 and old.bitrate > 0
        assert (new.video_codec, new.bit_depth, new.audio_codec) == ("hevc", 10, "opus")
        assert "matroska" in new.container.split(",")
        assert (old.size, old.mtime_ns) == (
            (folder / "old.mp4").stat().st_size,
            (folder / "old.mp4").stat().st_mtime_ns,
        )
        assert facts["broken.mkv"].error and facts["trap.mp4"].error and facts["trap.mp4"].video_codec is None


def parent_of(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def probe_children(ancestor: int) -> list[int]:
    """The probe children (tasks/probe_child.py) below a process: reading a batch right now."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if b"probe_child.py" not in Path(f"/proc/{name}/cmdline").read_bytes():
                continue
        except OSError:
            continue
        pid = int(name)
        while pid > 1 and pid != ancestor:
            pid = parent_of(pid)
        if pid == ancestor:
            found.append(int(name))
    return found


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_follower_sigkilled_during_a_probe_batch_loses_nothing(app, media, system, clips):
    folder = media / "Many"
    folder.mkdir()
    for i in range(240):
        shutil.copy(clips["short"], folder / f"clip{i:03}.mp4")
    first = system.start_worker("probe1")
    monitor = system.start_monitor(LIBRARY_HOLD_SECONDS="1", LIBRARY_PROBE_BATCH="60")
    with app.app_context():
        # The clips are h264 in mp4: with this spec every file already matches and is skipped (nothing to encode).
        create_library({"name": "Many", "folder": str(folder), "spec": {"video_codec": "libx264", "container": "mp4"}})
        children = wait_for(lambda: probe_children(first.pid), 120, 0.01, what="a probe batch on the first follower")
        # The whole follower: the worker and its pool process (the child follows by its parent-death signal).
        os.killpg(first.pid, signal.SIGKILL)
        first.proc.wait(10)
        wait_for(lambda: all(gone(pid) for pid in children), 10, 0.05, what="the probe child to die with its follower")
        time.sleep(1)
        db.session.expire_all()
        done_before = db.session.execute(select(func.count()).select_from(MediaFacts)).scalar()
        assert done_before < 240, "every file was read before the kill: nothing was tested"
        system.start_worker("probe2")

        def all_decided():
            rows = rows_by_name()
            return len(rows) == 240 and all(r.state == "skipped" for r in rows.values())

        wait_for(all_decided, 240, 0.5, what="every file to get its facts after the follower was lost")
        assert db.session.execute(select(func.count()).select_from(MediaFacts)).scalar() == 240
        assert "was lost; its" in monitor.output(), "the batch on the killed follower was never given up"
