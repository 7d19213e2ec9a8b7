"""One conversion end to end: web API -> database -> monitor -> Celery worker -> FFmpeg."""

from __future__ import annotations

import threading
from pathlib import Path

import redis as redis_lib

from app.services.live import unpack
from tasks import keys
from tests.media import ffmpeg_pids, ffprobe
from tests.support import wait_for

FAST_HEVC = {
    "video_codec": "libx265",
    "preset": "ultrafast",
    "crf": 30,
    "container": "mkv",
    "audio_codec": "libopus",
    "bit_depth": 8,
}


def job_json(client, job_id: int) -> dict:
    return client.get(f"/api/jobs/{job_id}").get_json()


def watch_live(redis_url: str, job_id: int, seen: list, stop: threading.Event) -> threading.Thread:
    """Record every live message about job_id (what the browser's stream would carry)."""
    pubsub = redis_lib.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.LIVE_CHANNEL)

    def run():
        while not stop.is_set():
            message = pubsub.get_message(timeout=0.2)
            if message:
                seen.extend(data for data in unpack(message["data"]) if data.get("id") == job_id)
        pubsub.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_job_goes_queued_running_succeeded_with_progress(leader, stack, clips):
    client = leader.test_client()
    # A slower preset on one thread: a few seconds of encoding, so progress is observable.
    spec = {**FAST_HEVC, "preset": "fast", "threads": 1}
    seen: list[dict] = []
    stop = threading.Event()
    # Subscribe before submitting so no message is missed.
    created = client.post("/api/jobs", json={"inputs": [str(clips["long"])], "spec": spec})
    assert created.status_code == 201, created.get_json()
    job = created.get_json()["jobs"][0]
    assert job["status"] == "queued"
    thread = watch_live(stack.redis_server.url, job["id"], seen, stop)
    statuses = set()

    def finished():
        data = job_json(client, job["id"])
        statuses.add(data["status"])
        return data if data["status"] in ("succeeded", "failed", "cancelled") else None

    final = wait_for(finished, 90, 0.05, what="job to finish")
    stop.set()
    thread.join(2)
    assert final["status"] == "succeeded", final
    assert "running" in statuses or any(m.get("status") == "running" for m in seen)
    percents = [m["percent"] for m in seen if m.get("type") == "progress" and m.get("percent") is not None]
    assert any(0 < p < 100 for p in percents), f"no progress between 0 and 100 seen: {percents}"
    assert final["follower"].startswith("w1@")
    assert final["argv"][0].endswith("ffmpeg") and "-progress" in final["argv"]
    assert [a["status"] for a in final["attempts"]] == ["succeeded"]
    output = Path(final["output_path"])
    assert output.name == "long_converted.mkv" and output.exists()
    info = ffprobe(output)
    assert info["format"]["format_name"].startswith("matroska")
    assert [s["codec_name"] for s in info["streams"] if s["codec_type"] == "video"] == ["hevc"]
    assert [s["codec_name"] for s in info["streams"] if s["codec_type"] == "audio"] == ["opus"]
    assert final["output_size"] == output.stat().st_size
    assert abs(final["duration"] - 20) < 1
    assert not list(output.parent.glob(".*frameshift-*")), "temporary file left behind"
    output.unlink()


def test_corrupt_input_fails_with_a_readable_reason(leader, stack, clips):
    client = leader.test_client()
    job = client.post("/api/jobs", json={"inputs": [str(clips["corrupt"])], "spec": FAST_HEVC}).get_json()["jobs"][0]
    final = wait_for(
        lambda: (d := job_json(client, job["id"]))["status"] in ("succeeded", "failed") and d,
        60,
        what="corrupt job to end",
    )
    assert final["status"] == "failed"
    assert "cannot read the input as video" in final["error"]
    assert not Path(final["output_path"]).exists()


def test_cancel_running_job_leaves_nothing(leader, stack, clips):
    client = leader.test_client()
    # -vf realtime makes FFmpeg run at wall-clock speed: a 20 s clip takes 20 s.
    spec = {"mode": "custom", "custom_args": "-c:v libx264 -preset ultrafast -vf realtime -an", "container": "mp4"}
    job = client.post("/api/jobs", json={"inputs": [str(clips["long"])], "spec": spec}).get_json()["jobs"][0]
    wait_for(lambda: job_json(client, job["id"])["percent"] > 0, 30, 0.05, what="job to make progress")
    running = job_json(client, job["id"])
    assert running["status"] == "running"
    marker = running["task_id"][:8]
    assert ffmpeg_pids(marker), "ffmpeg for the job is not running"
    response = client.post(f"/api/jobs/{job['id']}/cancel")
    assert response.status_code == 200
    final = wait_for(
        lambda: (d := job_json(client, job["id"]))["status"] in ("cancelled", "failed", "succeeded") and d,
        5,
        0.05,
        what="cancel within 5 s",
    )
    assert final["status"] == "cancelled", final
    assert not ffmpeg_pids(marker), "ffmpeg still running after cancel"
    folder = Path(final["output_path"]).parent
    assert not Path(final["output_path"]).exists()
    assert not list(folder.glob(f".*frameshift-{marker}*")), "partial file left behind"


def test_cancel_waiting_job_and_retry_it(leader, stack, clips):
    client = leader.test_client()
    from app.services.settings import QUEUE_PAUSED, set_setting

    with leader.app_context():
        set_setting(QUEUE_PAUSED, True)
    try:
        job = client.post("/api/jobs", json={"inputs": [str(clips["other"])], "spec": FAST_HEVC}).get_json()["jobs"][0]
        cancelled = client.post(f"/api/jobs/{job['id']}/cancel").get_json()
        assert cancelled["status"] == "cancelled"
        again = client.post(f"/api/jobs/{job['id']}/retry")
        assert again.status_code == 200 and again.get_json()["status"] == "queued"
    finally:
        with leader.app_context():
            set_setting(QUEUE_PAUSED, False)
    final = wait_for(
        lambda: (d := job_json(client, job["id"]))["status"] in ("succeeded", "failed") and d,
        60,
        what="retried job to finish",
    )
    assert final["status"] == "succeeded", final
    assert final["attempt"] == 1  # the cancelled one never ran
    Path(final["output_path"]).unlink()


def test_ffmpeg_error_gives_exit_code_and_log_tail(leader, stack, clips):
    client = leader.test_client()
    # Valid for our checks, rejected by FFmpeg itself: the encoder does not accept this preset.
    spec = {"mode": "custom", "custom_args": "-c:v libx264 -preset not-a-preset", "container": "mkv"}
    job = client.post("/api/jobs", json={"inputs": [str(clips["other"])], "spec": spec}).get_json()["jobs"][0]
    final = wait_for(
        lambda: (d := job_json(client, job["id"]))["status"] in ("succeeded", "failed") and d,
        60,
        what="failing job to end",
    )
    assert final["status"] == "failed"
    assert final["exit_code"] not in (None, 0)
    assert f"FFmpeg exited with code {final['exit_code']}" in final["error"]
    assert final["log_tail"] and any("preset" in line.lower() for line in final["log_tail"])
    assert not Path(final["output_path"]).exists()
    assert not list(Path(final["output_path"]).parent.glob(f".*frameshift-{final['task_id'][:8]}*"))
