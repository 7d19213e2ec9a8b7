"""Graceful follower stop, monitor restart, Redis restart, web restart: every job ends in its true state."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.integration.test_failures_harness import ACTIVE, FAST, FINAL, REALTIME, System, needs, outcome, scenario
from tests.support import ffmpeg_pids, ffprobe, wait_for


@scenario("sigterm")
def sigterm_follower(system: System) -> dict:
    workers = {"ta": system.worker("ta"), "tb": system.worker("tb")}
    system.start_monitor()
    job = system.wait_running(system.submit("rt8", REALTIME)[0]["id"])
    first = job["follower"]
    stopped = workers[first.split("@")[0]]
    marker = job["task_id"][:8]
    stopped.signal(signal.SIGTERM)
    signalled = time.monotonic()
    wait_for(lambda: not stopped.alive(), 30, what="the follower to exit after SIGTERM")
    seen = {
        "first": first,
        "exit_seconds": time.monotonic() - signalled,
        "exit_code": stopped.proc.returncode,
        "ffmpeg_left": ffmpeg_pids(marker),
        "partial_files": [p.name for p in system.media.glob(f".*frameshift-{marker}*")],
    }
    seen["requeued"] = system.wait_job(
        job["id"], lambda d: d["attempt"] >= 2 or d["status"] in FINAL, 30, "re-queued after the interruption"
    )
    seen["final"] = system.wait_final(job["id"], 60)
    seen["followers"] = system.followers()
    return seen


@needs("sigterm")
def test_sigterm_stops_the_ffmpeg_reports_interrupted_and_the_job_runs_elsewhere(request, clips):
    seen = outcome(request, clips)
    assert seen["exit_seconds"] < 15, "the follower waited for its encode instead of stopping it"
    assert seen["exit_code"] == 0
    assert seen["ffmpeg_left"] == [] and seen["partial_files"] == []
    final = seen["final"]
    assert final["status"] == "succeeded", final
    assert final["follower"] != seen["first"]
    first, second = final["attempts"]
    assert first["follower"] == seen["first"] and first["status"] == "interrupted"
    assert first["error"] == f"interrupted: follower {seen['first']} was shut down while converting"
    assert second["status"] == "succeeded"
    assert seen["followers"][seen["first"]]["state"] in ("stopping", "lost")


@scenario("monitor_restart")
def monitor_restart(system: System) -> dict:
    system.worker("ma", concurrency=2)
    monitor = system.start_monitor()
    quick, slow = system.submit("rt8", REALTIME)[0], system.submit("rt30", REALTIME)[0]
    system.wait_running(quick["id"])
    system.wait_running(slow["id"])
    monitor.signal(signal.SIGKILL)
    quick_output = Path(system.job(quick["id"])["output_path"])
    # The quick job ends while nobody watches the events.
    wait_for(quick_output.exists, 30, what="the quick job to finish while the monitor is down")
    seen = {"slow_while_down": system.job(slow["id"]), "quick_while_down": system.job(quick["id"])}
    system.start_monitor()
    seen["quick"] = system.wait_final(quick["id"], 30)
    seen["slow"] = system.wait_final(slow["id"], 60)
    for key in ("quick", "slow"):
        path = Path(seen[key]["output_path"])
        seen[f"{key}_file"] = {"size": path.stat().st_size, "probe": ffprobe(path)} if path.exists() else None
    return seen


@needs("monitor_restart")
def test_monitor_restart_settles_every_job_with_its_output_details(request, clips):
    seen = outcome(request, clips)
    assert seen["quick_while_down"]["status"] == "running"  # nobody could record the end yet
    for key, seconds in (("quick", 8), ("slow", 30)):
        job, file = seen[key], seen[f"{key}_file"]
        assert job["status"] == "succeeded", job
        assert file is not None, f"{key}: no output file"
        assert job["output_size"] == file["size"]
        assert abs(job["duration"] - seconds) < 1
        assert [s["codec_name"] for s in file["probe"]["streams"]] == ["h264"]
        assert [a["status"] for a in job["attempts"]] == ["succeeded"]


@scenario("redis_restart", FOLLOWER_LOST_AFTER="6")
def redis_restart(system: System) -> dict:
    system.worker("xa", concurrency=2)
    system.worker("xb")
    system.start_monitor()
    running = system.submit("rt30", REALTIME, count=3)
    waiting = system.submit("short", FAST, count=2)
    for job in running:
        system.wait_running(job["id"])
    markers = [system.job(job["id"])["task_id"][:8] for job in running]
    # Down for longer than FOLLOWER_LOST_AFTER: silence during our own outage must not count against followers.
    system.redis_server.stop()
    down_until = time.monotonic() + 8
    encoding = []
    while time.monotonic() < down_until:
        encoding.append(sum(1 for m in markers if ffmpeg_pids(m)))
        time.sleep(0.2)
    # No persistence: the restarted Redis is empty (queues, results, claims, advertisements all gone).
    system.redis_server.start()
    finals = [system.wait_final(job["id"], 90) for job in running + waiting]
    return {
        "finals": finals,
        "encoding_during_outage": encoding,
        "ffmpeg_left": ffmpeg_pids(str(system.media)),
        "statuses": [system.job(j["id"])["status"] for j in running + waiting],
    }


@needs("redis_restart")
def test_redis_restart_leaves_no_job_running_and_fails_no_encode(request, clips):
    seen = outcome(request, clips)
    assert min(seen["encoding_during_outage"]) == 3, "an encode stopped while Redis was down"
    assert not any(status in ACTIVE for status in seen["statuses"])
    for job in seen["finals"]:
        assert job["status"] == "succeeded", job
        assert os.path.getsize(job["output_path"]) == job["output_size"]
    assert [job["attempt"] for job in seen["finals"][:3]] == [1, 1, 1], "a running encode was started again"
    assert seen["ffmpeg_left"] == []


@needs("monitor_restart")
def test_web_restart_loses_nothing(request, clips):
    seen = outcome(request, clips)
    # A second web process (a new app on the same database) sees every job as the first one did.
    from app import create_app
    from tests.conftest import TOKEN

    root = Path(seen["quick"]["input_path"]).parent.parent
    again = create_app(
        {
            "FRAME_SHIFT_HOME": str(root / "media"),
            "DATA_DIR": str(root / "data"),
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "SHARED_TOKEN": TOKEN,
            "TESTING": True,
            "AUTH_DISABLED": True,
        }
    )
    client = again.test_client()
    for key in ("quick", "slow"):
        shown = client.get(f"/api/jobs/{seen[key]['id']}").get_json()
        assert {k: shown[k] for k in ("status", "output_path", "output_size", "attempts")} == {
            k: seen[key][k] for k in ("status", "output_path", "output_size", "attempts")
        }
    assert client.get("/api/jobs").get_json()["total"] == 2
