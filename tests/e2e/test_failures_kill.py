"""Followers killed mid-job (SIGKILL of the worker, of a pool process): nothing stuck, nothing run twice.

Each scenario runs a whole system of its own (see test_failures_harness); these tests check what it saw.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime, timezone

from tests.e2e.test_failures_harness import FAST, REALTIME, System, needs, outcome, parent_pid, scenario
from tests.media import ffmpeg_pids
from tests.support import wait_for

LOST_AFTER = 6
VISIBILITY = 5


@scenario(
    "sigkill",
    FOLLOWER_LOST_AFTER=str(LOST_AFTER),
    CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY),
    CELERY_UNACKED_RESTORE_INTERVAL="1",
)
def sigkill_worker(system: System) -> dict:
    a, b = system.worker("ka"), system.worker("kb")
    system.start_monitor()
    # 60 s: the bystander must still be running when the restarted follower is offered new work (with 30 s it
    # had finished by then once in CI, and the new job went to its free follower instead).
    victim, bystander = system.submit("rt60", REALTIME, count=2)
    victim, bystander = system.wait_running(victim["id"]), system.wait_running(bystander["id"])
    if victim["follower"] != system.full("ka"):
        victim, bystander = bystander, victim
    marker = victim["task_id"][:8]
    seen = {"ffmpeg_before": bool(ffmpeg_pids(marker)), "victim_before": victim, "bystander_before": bystander}
    killed_at, killed_wall = time.monotonic(), time.time()
    a.signal(signal.SIGKILL)
    failed = system.wait_job(victim["id"], lambda d: d["status"] == "failed", 30, "failed after SIGKILL")
    # When the monitor decided (the job's finished_at, written with the decision), not when this test's own
    # polling, slowed by the other scenarios' load, happened to read it.
    decided = datetime.fromisoformat(failed["finished_at"].removesuffix("Z")).replace(tzinfo=timezone.utc)
    seen.update(victim=failed, seconds_to_fail=decided.timestamp() - killed_wall, ffmpeg_left=ffmpeg_pids(marker))
    seen["killed_wall"] = killed_wall
    # The Followers API after the reap (the monitor writes follower rows twice a second: allow it a moment).
    lost = system.full("ka")
    try:
        seen["followers_after_reap"] = wait_for(
            lambda: (f := system.followers()).get(lost, {}).get("state") == "lost" and f, 15, what="ka shown lost"
        )
    except AssertionError:
        seen["followers_after_reap"] = system.followers()
    seen["partial_files"] = [p.name for p in system.media.glob(f".*frameshift-{marker}*")]
    seen["bystander_during"] = system.job(bystander["id"])
    # Past the broker's redelivery window (visibility timeout, restored every second), with the follower back.
    system.worker("ka")
    deadline = killed_at + VISIBILITY * 3
    reruns: set[int] = set()
    while time.monotonic() < deadline:
        reruns.update(ffmpeg_pids(marker))
        time.sleep(0.2)
    seen["reruns"] = sorted(reruns)
    seen["unacked"] = system.redis.hlen("unacked")
    seen["victim_after_window"] = system.job(victim["id"])
    # The restarted follower takes new work while the other one is still busy.
    fresh = system.submit("short", FAST)[0]
    seen["fresh"] = system.wait_final(fresh["id"], 60)
    seen["bystander"] = system.wait_final(bystander["id"], 90)
    seen["b_alive"] = b.alive()
    seen["followers_at_end"] = system.followers()
    return seen


@needs("sigkill")
def test_sigkilled_follower_fails_its_job_within_2_s_and_leaves_no_ffmpeg(request, clips):
    """The kernel closes the dead worker's named Redis connection at once: the monitor sees the crash on its
    next polls (twice a second), long before FOLLOWER_LOST_AFTER (6 s here) of silence."""
    seen = outcome(request, clips)
    assert seen["ffmpeg_before"], "the victim's FFmpeg was not running before the kill"
    victim = seen["victim"]
    crashed = f"follower {seen['victim_before']['follower']} was lost: it crashed (its connection to Redis closed)"
    assert victim["error"] == crashed
    assert seen["seconds_to_fail"] < 2, seen["seconds_to_fail"]
    assert seen["ffmpeg_left"] == [], "FFmpeg of the lost job still runs"
    assert seen["partial_files"] == [], "the lost attempt's partial output was left behind"
    assert [a["status"] for a in victim["attempts"]] == ["failed"]


@needs("sigkill")
def test_other_followers_job_is_untouched_and_restarted_follower_takes_work(request, clips):
    seen = outcome(request, clips)
    before, during, final = seen["bystander_before"], seen["bystander_during"], seen["bystander"]
    assert during["status"] == "running" and during["task_id"] == before["task_id"]
    assert during["follower"] == before["follower"] and during["attempt"] == 1
    assert final["status"] == "succeeded" and final["attempt"] == 1, final
    assert seen["b_alive"]
    fresh = seen["fresh"]
    assert fresh["status"] == "succeeded", fresh
    assert fresh["follower"] == seen["victim_before"]["follower"], "the restarted follower did not take the new job"


@needs("sigkill")
def test_the_lost_attempt_never_runs_again_after_the_redelivery_window(request, clips):
    seen = outcome(request, clips)
    assert seen["reruns"] == [], f"FFmpeg started again for the given-up attempt: {seen['reruns']}"
    assert seen["unacked"] == 0
    after = seen["victim_after_window"]
    assert after["status"] == "failed" and after["attempt"] == 1 and len(after["attempts"]) == 1


@needs("sigkill")
def test_followers_api_shows_the_killed_follower_lost_with_its_failed_job_and_the_other_online(request, clips):
    seen = outcome(request, clips)
    killed, other = seen["victim_before"]["follower"], seen["bystander_before"]["follower"]
    after = seen["followers_after_reap"]
    lost = after[killed]
    assert lost["online"] is False and lost["state"] == "lost", lost
    assert lost["jobs_failed"] == 1 and lost["jobs_done"] == 0, lost
    assert lost["busy"] == 0 and lost["current_jobs"] == [] and lost["free"] == 0, lost
    heard = datetime.fromisoformat(lost["last_heartbeat"].removesuffix("Z")).replace(tzinfo=timezone.utc)
    assert heard.timestamp() < seen["killed_wall"] + 1, (lost["last_heartbeat"], seen["killed_wall"])
    assert lost["state"] == "lost" and not lost["online"], lost
    alive = after[other]
    assert alive["online"] is True and alive["state"] == "busy", alive
    assert [j["id"] for j in alive["current_jobs"]] == [seen["bystander_before"]["id"]], alive
    assert alive["busy"] == 1 and alive["jobs_done"] == 0 and alive["jobs_failed"] == 0, alive
    assert alive["heartbeat_age"] < LOST_AFTER, alive
    # Once everything ended: the restarted follower is online again and keeps its history.
    end = seen["followers_at_end"]
    assert end[killed]["online"] and (end[killed]["jobs_done"], end[killed]["jobs_failed"]) == (1, 1), end[killed]
    assert end[other]["online"] and (end[other]["jobs_done"], end[other]["jobs_failed"]) == (1, 0), end[other]


@scenario("sigkill_retry", FOLLOWER_LOST_AFTER=str(LOST_AFTER), AUTO_RETRY="1")
def sigkill_with_retry(system: System) -> dict:
    workers = {"ra": system.worker("ra"), "rb": system.worker("rb")}
    system.start_monitor()
    job = system.wait_running(system.submit("rt8", REALTIME)[0]["id"])
    first = job["follower"]
    workers[first.split("@")[0]].signal(signal.SIGKILL)
    marker = job["task_id"][:8]
    final = system.wait_final(job["id"], 60)
    return {"first": first, "final": final, "ffmpeg_left": ffmpeg_pids(marker)}


@needs("sigkill_retry")
def test_with_auto_retry_the_job_finishes_on_another_follower(request, clips):
    seen = outcome(request, clips)
    final = seen["final"]
    assert final["status"] == "succeeded", final
    assert final["follower"] != seen["first"]
    attempts = final["attempts"]
    assert [a["status"] for a in attempts] == ["failed", "succeeded"]
    assert attempts[0]["follower"] == seen["first"] and attempts[0]["error"].startswith(
        f"follower {seen['first']} was lost: "
    )
    assert seen["ffmpeg_left"] == []
    assert os.path.getsize(final["output_path"]) == final["output_size"]


@scenario("pool_kill", FOLLOWER_LOST_AFTER=str(LOST_AFTER))
def pool_process_killed(system: System) -> dict:
    worker = system.worker("pa")
    system.start_monitor()
    job = system.wait_running(system.submit("rt30", REALTIME)[0]["id"])
    marker = job["task_id"][:8]
    ffmpeg = ffmpeg_pids(marker)
    pool_process = parent_pid(ffmpeg[0])
    # Read before the kill (afterwards the process has no parent to read): the process killed must be
    # one of the worker's pool processes, FFmpeg's parent, not the worker itself.
    pool_parent = parent_pid(pool_process)
    os.kill(pool_process, signal.SIGKILL)  # what the OOM killer does
    final = system.wait_final(job["id"], 30)
    partial_files = [p.name for p in system.media.glob(f".*frameshift-{marker}*")]
    try:
        gone = wait_for(lambda: not ffmpeg_pids(marker), 5, what="FFmpeg to die with its pool process")
    except AssertionError:
        gone = False  # recorded, and asserted by the test: FFmpeg outlived its pool process
    fresh = system.wait_final(system.submit("short", FAST)[0]["id"], 60)
    return {
        "job": final,
        "pool_was_worker_child": pool_parent == worker.pid and pool_process != worker.pid,
        "gone": gone,
        "partial_files": partial_files,
        "fresh": fresh,
        "worker_alive": worker.alive(),
    }


@needs("pool_kill")
def test_pool_process_killed_fails_the_job_with_a_reason_and_takes_ffmpeg_along(request, clips):
    seen = outcome(request, clips)
    job = seen["job"]
    assert job["status"] == "failed", job
    assert "worker process" in job["error"] and "died" in job["error"], job["error"]
    assert "out-of-memory killer" in job["error"], job["error"]  # what a pool process killed mid-encode means
    assert seen["pool_was_worker_child"], "the process killed was not one of the worker's pool processes"
    assert seen["gone"] and seen["partial_files"] == []
    assert seen["worker_alive"] and seen["fresh"]["status"] == "succeeded", seen["fresh"]


@scenario("hung_pool", FOLLOWER_LOST_AFTER=str(LOST_AFTER), JOB_LEASE_SECONDS="4")
def hung_pool_process(system: System) -> dict:
    worker = system.worker("ha")
    system.start_monitor()
    job = system.wait_running(system.submit("rt30", REALTIME)[0]["id"])
    marker = job["task_id"][:8]
    pool_process = parent_pid(ffmpeg_pids(marker)[0])
    os.kill(pool_process, signal.SIGSTOP)  # hung: no progress, no lease, while the worker keeps its heartbeat
    try:
        final = system.wait_final(job["id"], 40)
        follower_state = system.followers()[job["follower"]]
    finally:
        os.kill(pool_process, signal.SIGCONT)
    gone = wait_for(lambda: not ffmpeg_pids(marker), 10, what="FFmpeg of the given-up attempt to stop")
    return {"job": final, "follower": follower_state, "gone": gone, "worker_alive": worker.alive()}


@needs("hung_pool")
def test_an_attempt_that_stops_reporting_is_given_up_and_stopped(request, clips):
    seen = outcome(request, clips)
    job = seen["job"]
    assert job["status"] == "failed", job
    assert job["error"] == f"follower {job['follower']} stopped reporting on this job"
    assert seen["follower"]["online"], "the follower itself was alive"
    assert seen["gone"] and seen["worker_alive"]
