"""Signed payloads are bound to their task id and an expiry: a replayed or expired one runs nothing.

Real processes throughout: a private redis-server, the leader's monitor (which dispatches and signs),
a real Celery worker, real FFmpeg. The attack is the one found in issue 11: a payload the leader
signed, copied from the result backend, sent again under a new task id.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery
from celery.utils import worker_direct

from tasks import keys
from tests.conftest import TOKEN
from tests.e2e.conftest import Stack
from tests.media import ffmpeg_pids
from tests.support import HOSTNAME, RedisServer, wait_for

FAST = {"video_codec": "libx264", "preset": "ultrafast", "crf": 30, "container": "mkv", "audio_codec": "aac"}
FOLLOWER = f"replay@{HOSTNAME}"


class ReplaySystem(Stack):
    """A monitor and one follower on their own Redis, a leader app, and a sender that can address the follower."""

    def __init__(self, tmp: Path, redis_server: RedisServer, media: Path) -> None:
        super().__init__(tmp, redis_server, media)
        from app import create_app

        self.leader_config = {
            "FRAME_SHIFT_HOME": str(media),
            "DATA_DIR": str(self.data),
            "REDIS_URL": redis_server.url,
            "SHARED_TOKEN": TOKEN,
            "TESTING": True,
            "AUTH_DISABLED": True,
        }
        self.app = create_app(self.leader_config)
        self.sender = Celery("replay-probe")
        self.sender.config_from_object("celeryconfig")
        self.sender.conf.update(broker_url=redis_server.url, result_backend=redis_server.url)

    def log(self) -> str:
        return self.procs[0].output()

    def send(self, payload: dict, task_id: str) -> dict:
        """Send payload to the follower under task_id, watching for any FFmpeg on the media folder meanwhile."""
        stop = threading.Event()
        seen: set[int] = set()

        def watch() -> None:
            while not stop.is_set():
                seen.update(ffmpeg_pids(str(self.media)))
                stop.wait(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            result = self.sender.send_task(
                "transcode.run", args=[payload], task_id=task_id, queue=worker_direct(FOLLOWER)
            )
            result.get(timeout=60, propagate=False)
            # The refusal is logged before the result is stored; give the log file a moment to show it.
            wait_for(lambda: task_id in self.log(), 10, what=f"the follower's log line about {task_id}")
        finally:
            stop.set()
            watcher.join(5)
        return {
            "state": result.state,
            "message": str(result.result),
            "ffmpeg": sorted(seen),
            "claimed": bool(self.redis.exists(keys.claim(task_id))),
        }


@pytest.fixture(scope="module")
def system(tmp_path_factory, clips):
    root = tmp_path_factory.mktemp("replay")
    (root / "redis").mkdir()
    server = RedisServer(root / "redis").start()
    media = root / "media"
    media.mkdir()
    for name in ("short", "other"):
        (media / clips[name].name).hardlink_to(clips[name])
    made = ReplaySystem(root, server, media)
    try:
        made.start_worker("replay", concurrency=1)
        made.start_monitor()
        yield made
    finally:
        made.stop()
        server.stop()
        from app.extensions import db

        with made.app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def real_job(system):
    """A job the leader dispatched and the follower ran: its record and the signed payload from the result backend."""
    client = system.app.test_client()
    created = client.post("/api/jobs", json={"inputs": [str(system.media / "short clip.mp4")], "spec": FAST})
    assert created.status_code == 201, created.get_json()
    job_id = created.get_json()["jobs"][0]["id"]
    job = wait_for(
        lambda: (d := client.get(f"/api/jobs/{job_id}").get_json())["status"] in ("succeeded", "failed") and d,
        120,
        what=f"job {job_id} to finish",
    )
    assert job["status"] == "succeeded", job
    stored = system.sender.AsyncResult(job["task_id"])
    payload = stored.args[0]  # result_extended: the backend keeps the arguments, as an attacker would find them
    assert payload["task_id"] == job["task_id"] and payload["sig"]
    return job, payload


def test_a_real_payload_replayed_under_a_new_task_id_is_refused_and_runs_nothing(system, real_job):
    """Copy the leader's signed payload from the result backend and send it again under a new task id.

    Without the task-id binding the signature still verifies, the follower claims the new id, runs
    FFmpeg on the input and writes the output again: the test then sees FFmpeg, the claim and the file.
    """
    job, payload = real_job
    output = Path(job["output_path"])
    assert output.exists()
    output.unlink()  # so that a second run would show by writing it again
    replay_id = str(uuid.uuid4())
    sent = system.send(payload, replay_id)
    assert sent["state"] == "FAILURE", sent
    assert f"signed for task {payload['task_id']!r}, not for this one" in sent["message"], sent
    log = system.log()
    assert f"refused task {replay_id}: the payload was signed for task" in log, log[-3000:]
    assert sent["ffmpeg"] == [], "FFmpeg ran for a replayed payload"
    assert not sent["claimed"], "the replayed attempt took a claim: it got past the check"
    assert not output.exists(), "the replayed payload wrote its output again"
    assert not list(output.parent.glob(f"*{replay_id[:8]}*")), "the replay left a temporary output"
    again = system.app.test_client().get(f"/api/jobs/{job['id']}").get_json()
    assert (again["status"], again["attempt"], again["task_id"]) == ("succeeded", 1, job["task_id"])


def test_a_payload_sent_after_its_expiry_is_refused_and_runs_nothing(system):
    """The leader's own payload_for with TASK_PAYLOAD_TTL=1, sent under its own task id once it has expired.

    The control (the same payload built with the default lifetime) converts, so the payload is
    otherwise good. Without the expiry check the expired one converts too: the test then sees FFmpeg,
    the claim and the output file.
    """
    from app import create_app
    from app.models import Job
    from app.monitor.dispatcher import payload_for

    def build(name: str, ttl: int | None) -> tuple[dict, str, Path]:
        config = {**system.leader_config, **({"TASK_PAYLOAD_TTL": ttl} if ttl else {})}
        leader = create_app(config)
        output = system.media / f"{name}.mkv"
        job = Job(id=900 + len(name), attempt=1, input_path=str(system.media / "other.mp4"), output_path=str(output))
        job.spec = FAST
        task_id = str(uuid.uuid4())
        with leader.app_context():
            return payload_for(job, task_id), task_id, output

    fresh, fresh_id, fresh_out = build("control", None)
    assert fresh["expires"] - time.time() > 23 * 3600, "the default lifetime is 24 h"
    control = system.send(fresh, fresh_id)
    assert control["state"] == "SUCCESS" and fresh_out.exists(), control
    assert control["ffmpeg"], "the watch saw no FFmpeg even for the payload that converts, so it proves nothing"

    stale, stale_id, stale_out = build("expired", 1)
    assert stale["expires"] <= time.time() + 1
    wait_for(lambda: time.time() > stale["expires"] + 1, 5, what="the payload to expire")
    sent = system.send(stale, stale_id)
    assert sent["state"] == "FAILURE" and "the payload expired" in sent["message"], sent
    assert f"refused task {stale_id}: the payload expired" in system.log()
    assert sent["ffmpeg"] == [], "FFmpeg ran for an expired payload"
    assert not sent["claimed"], "the expired attempt took a claim: it got past the check"
    assert not stale_out.exists(), "the expired payload wrote an output"
