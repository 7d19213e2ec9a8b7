"""Graceful follower stop, monitor restart, Redis restart, web restart: every job ends in its true state."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.e2e.test_failures_harness import (
    ACTIVE,
    FAST,
    FINAL,
    REALTIME,
    System,
    needs,
    outcome,
    scenario,
)
from tests.e2e.web_process import Web
from tests.media import ffmpeg_pids, ffprobe
from tests.support import wait_for


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
    # A clean shutdown says so: `stopped` (it may still show `stopping` for a moment), never `lost`.
    assert seen["followers"][seen["first"]]["state"] in ("stopping", "stopped")


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


def percent_moves(web: Web, ids: list[int], timeout: float) -> tuple[dict, dict]:
    """Return two readings of GET /api/jobs/<id> of a running job, the second with a higher percent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job_id in ids:
            first = web.job(job_id)
            if first["status"] != "running":
                continue
            start = first["percent"]
            later = web.wait_job(job_id, lambda d, p=start: d["status"] != "running" or d["percent"] > p, 20, "moving")
            if later["status"] == "running":
                return first, later
        time.sleep(0.2)
    raise AssertionError(f"no running job among {ids} showed its percent moving within {timeout} s")


@scenario("web_restart")
def web_restart(system: System) -> dict:
    system.worker("wa", concurrency=2)
    system.start_monitor()
    web = system.start_web()
    # Over HTTP, as the browser does: two long jobs fill both slots, two more wait behind them.
    running = web.submit("rt30", REALTIME, count=2)
    waiting = web.submit("rt8", REALTIME, count=2)
    for job in running:
        web.wait_job(job["id"], lambda d: d["status"] == "running" and d["percent"] > 0, 90, "running")
    seen: dict = {"before": {job["id"]: web.job(job["id"]) for job in running + waiting}}
    web.kill()
    seen["killed_pid"] = web.proc.pid
    # While no web process exists the conversions go on (read from the database, not over HTTP).
    during = system.job(running[0]["id"])
    later = system.wait_job(running[0]["id"], lambda d: d["percent"] > during["percent"], 30, "progressing, no web")
    seen["while_down"] = (during, later)
    web.start()
    seen["new_pid"] = web.proc.pid
    seen["listed"] = web.api("GET", "/api/jobs?per_page=100")
    # Live progress again from the new process: the stream, and the job's own page.
    live = {job["id"] for job in running + waiting}
    seen["stream"] = web.stream_until(lambda m: m["id"] in live and m["type"] == "progress" and m["percent"] > 0, 60)
    seen["polled"] = percent_moves(web, sorted(live), 90)
    after = web.submit("short", FAST)[0]
    seen["finals"] = {
        job["id"]: web.wait_job(job["id"], lambda d: d["status"] in FINAL, 150, "finished")
        for job in running + waiting + [after]
    }
    seen["after_id"] = after["id"]
    seen["files"] = {}
    for job_id, job in seen["finals"].items():
        path = Path(job["output_path"])
        seen["files"][job_id] = {"size": path.stat().st_size, "probe": ffprobe(path)} if path.exists() else None
    return seen


@needs("web_restart")
def test_web_process_killed_mid_queue_loses_nothing_and_serves_live_progress_again(request, clips):
    seen = outcome(request, clips)
    before = seen["before"]
    assert [d["status"] for d in before.values()] == ["running", "running", "queued", "queued"], before
    assert seen["new_pid"] != seen["killed_pid"]
    listed = {job["id"]: job for job in seen["listed"]["jobs"]}
    assert set(before) <= set(listed), "a job submitted before the restart is missing from the new process's list"
    assert seen["listed"]["total"] == len(before)
    during, later = seen["while_down"]
    assert later["percent"] > during["percent"] and later["status"] == "running", "nothing moved without the web"
    message = seen["stream"][-1]
    assert message["type"] == "progress" and message["id"] in before, message
    assert message["status"] == "running" and message["percent"] > 0, message
    first, later = seen["polled"]
    assert first["id"] == later["id"] and first["status"] == later["status"] == "running", (first, later)
    assert later["percent"] > first["percent"], (first, later)
    for job_id, job in seen["finals"].items():
        assert job["status"] == "succeeded", job
        assert [a["status"] for a in job["attempts"]] == ["succeeded"], job["attempts"]
        file = seen["files"][job_id]
        assert file is not None, f"job {job_id}: no output file"
        assert job["output_size"] == file["size"]
        assert file["probe"]["streams"][0]["codec_name"] == "h264"
    for job_id, seconds in zip(seen["finals"], (30, 30, 8, 8, 3)):
        assert abs(seen["finals"][job_id]["duration"] - seconds) < 1, seen["finals"][job_id]
    assert seen["after_id"] in seen["finals"] and seen["after_id"] not in before
