"""A text playlist saved under a video name inside the media root, listing a segment outside it.

The read detector is a FIFO outside the root used as the segment: opening it for writing with
O_NONBLOCK succeeds (instead of ENXIO) only while some process has it open for reading, so a test
can prove that nothing opened it. A second trap lists a real .ts outside, which unconfined ffprobe
really reads (its duration comes back), to show what the trap does when nothing stops it.

Two walls stand in the way, and each is tested alone: the demuxer allowlist (-format_whitelist,
which the boundary's off switch does not touch) and the boundary (tasks/sandbox.py).
"""

from __future__ import annotations

import subprocess
import time

import pytest

from tasks import sandbox
from tasks.errors import TranscodeError
from tasks.ffmpeg_lib import NOT_MEDIA, ProbeError, probe
from tests.conftest import TOKEN
from tests.tasks.security.detectors import FifoDetector
from tests.tasks.security.harness import MARKER, convert


def playlist(segment: str) -> str:
    return f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n{segment}\n#EXT-X-ENDLIST\n"


@pytest.fixture(scope="module")
def traps(world):
    """trap.mp4 lists the FIFO detector outside the root; trap-real.mp4 lists a real .ts outside it."""
    fifo = world.media / "trap.mp4"
    fifo.write_text(playlist(str(world.outside / "fifos" / "trap.ts")))
    real = world.media / "trap-real.mp4"
    real.write_text(playlist(str(world.outside / "secret.ts")))
    return {"fifo": fifo, "real": real}


def raw_ffprobe(path) -> subprocess.CompletedProcess:
    """ffprobe as it was before issue 11: no whitelists."""
    return subprocess.run(["ffprobe", "-v", "error", "-show_format", "-of", "json", str(path)], capture_output=True)


def test_detector_sees_a_real_reader_and_nothing_else(tmp_path):
    """The detector's own control: silent with no reader, and it sees (and releases) a reader blocked in open()."""
    detector = FifoDetector(tmp_path, ("pipe",))
    pipe = tmp_path / "pipe"
    with detector.watching():
        time.sleep(0.1)
    assert detector.opened == []
    with detector.watching():
        reader = subprocess.run(["cat", str(pipe)], capture_output=True, timeout=10)
    assert detector.opened == ["pipe"]
    assert MARKER.encode() in reader.stdout  # the reader got the payload and EOF: nothing hangs
    # A reader that holds its end a moment after EOF (as a slow `cat` on a loaded machine did in CI) is one reader.
    with detector.watching():
        held = subprocess.run(
            ["sh", "-c", 'exec 3<"$0"; cat <&3; sleep 0.3', str(pipe)], capture_output=True, timeout=10
        )
    assert detector.opened == ["pipe"]
    assert MARKER.encode() in held.stdout


def test_control_unconfined_ffprobe_without_whitelists_reads_outside(world, traps):
    """Why the walls matter: plain ffprobe follows the playlist out of the root (FFmpeg 5.1 does)."""
    with world.fifos.watching() as seen:
        raw_ffprobe(traps["fifo"])
    assert "trap.ts" in seen.opened
    done = raw_ffprobe(traps["real"])
    assert done.returncode == 0 and b'"duration": "1.0' in done.stdout, done


def test_format_whitelist_alone_refuses_the_playlist(world, traps, monkeypatch):
    """The first wall alone (FFMPEG_SANDBOX=off): 'not a video file Frame Shift can read', segment never opened.
    Fails without the whitelist: the control above opens it."""
    monkeypatch.setenv("FFMPEG_SANDBOX", "off")
    for trap in traps.values():
        with world.fifos.watching() as seen, pytest.raises(ProbeError, match=NOT_MEDIA):
            probe(str(trap))
        assert seen.opened == []


def test_boundary_alone_stops_the_segment(world, traps, monkeypatch):
    """The second wall alone: ffprobe WITHOUT whitelists inside the boundary cannot open the segment outside.
    Fails without the boundary: the control above opens it (same argv, unconfined)."""
    monkeypatch.delenv("FFMPEG_SANDBOX", raising=False)
    for trap in traps.values():
        argv = ["ffprobe", "-v", "error", "-show_format", "-of", "json", str(trap)]
        with world.fifos.watching() as seen:
            done = sandbox.run(argv, reads=[str(trap)], timeout=20)
        assert seen.opened == []
        assert done.returncode != 0 and b"duration" not in done.stdout, done


def test_follower_conversion_refuses_the_playlist(world, traps, no_arg_check, monkeypatch):
    """run_attempt (boundary and whitelist): the job fails saying why, and the FIFO segment is never opened."""
    monkeypatch.delenv("FFMPEG_SANDBOX", raising=False)
    for name, trap in traps.items():
        outcome = convert(world, "-c:v libx264 -preset ultrafast", tag=f"playlist-{name}", source=trap)
        assert isinstance(outcome.error, TranscodeError), outcome.describe()
        assert NOT_MEDIA in outcome.error.message, outcome.describe()
        assert outcome.escapes == [], outcome.describe()


@pytest.fixture
def leader_app(tmp_path, world, redis_server):
    """A leader app whose only media root is the world's media folder."""
    from app import create_app

    app = create_app(
        {
            "DATABASE_URL": "",
            "FRAME_SHIFT_HOME": str(world.media),
            "DATA_DIR": str(tmp_path / "data"),
            "REDIS_URL": redis_server.url,
            "SHARED_TOKEN": TOKEN,
            "TESTING": True,
            "AUTH_DISABLED": True,
        }
    )
    yield app
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_leader_durations_api_refuses_the_playlist(world, traps, leader_app, monkeypatch):
    """POST /api/files/durations (the leader's ffprobe): no duration, the remembered error says why, and the
    outside segment is never opened. A real clip beside it still gets its duration (the API works)."""
    monkeypatch.delenv("FFMPEG_SANDBOX", raising=False)
    from sqlalchemy import select

    from app.extensions import db
    from app.models import MediaProbe

    paths = [str(traps["fifo"]), str(traps["real"]), str(world.clip)]
    with world.fifos.watching() as seen:
        answer = leader_app.test_client().post("/api/files/durations", json={"paths": paths})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    durations = answer.get_json()["durations"]
    assert durations[str(traps["fifo"])] is None and durations[str(traps["real"])] is None, durations
    assert durations[str(world.clip)] == pytest.approx(1.0, abs=0.1)
    assert seen.opened == []
    with leader_app.app_context():
        rows = {r.path: r for r in db.session.execute(select(MediaProbe)).scalars()}
    for trap in traps.values():
        assert NOT_MEDIA in (rows[str(trap)].error or ""), rows[str(trap)].error
        assert MARKER not in (rows[str(trap)].error or "")


def test_real_stack_job_on_the_playlist_fails_with_the_reason(world, stack, leader, clips):
    """One job through the real system (web API -> monitor -> Celery follower -> FFmpeg in its boundary): the
    job fails with 'not a video file Frame Shift can read' and the FIFO segment outside is never opened."""
    from tests.support import wait_for

    trap = clips["root"] / "security-trap.mp4"
    trap.write_text(playlist(str(world.outside / "fifos" / "trap.ts")))
    client = leader.test_client()
    spec = {"video_codec": "libx264", "preset": "ultrafast", "container": "mkv", "audio_codec": "aac"}
    try:
        with world.fifos.watching() as seen:
            created = client.post("/api/jobs", json={"inputs": [str(trap)], "spec": spec})
            assert created.status_code == 201, created.get_json()
            job_id = created.get_json()["jobs"][0]["id"]

            def finished():
                data = client.get(f"/api/jobs/{job_id}").get_json()
                return data if data["status"] in ("succeeded", "failed", "cancelled") else None

            final = wait_for(finished, 90, 0.1, what="the trap job to finish")
        assert final["status"] == "failed", final
        assert final["attempts"] and final["follower"], final  # it ran on the follower, not refused up front
        assert NOT_MEDIA in str(final.get("error")), final
        assert seen.opened == []
    finally:
        trap.unlink()
