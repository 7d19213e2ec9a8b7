"""Followers and queue through the JSON API, against real followers: drain/resume, pause/resume,
waiting reasons, and the follower list's truth (state, slots, current jobs, heartbeat, encoders, counts)."""

from __future__ import annotations

from tests.e2e.test_failures_harness import REALTIME, System, needs, outcome, scenario

NVENC = {"mode": "custom", "custom_args": "-c:v h264_nvenc -b:v 2M", "container": "mkv"}


@scenario("drain")
def drain_and_pause(system: System) -> dict:
    system.worker("d1")
    system.worker("d2")
    system.start_monitor()
    system.wait_monitor_sees("d1", "d2")
    d1, d2 = system.full("d1"), system.full("d2")
    seen: dict = {}
    system.api("post", "/api/queue/pause")
    first, second = system.submit("rt4", REALTIME, count=2)
    seen["paused_reason"] = system.wait_job(second["id"], lambda d: d["waiting_reason"], 60, "waiting reason")
    seen["queue_paused"] = system.api("get", "/api/queue")
    from tests.support import wait_for

    wait_for(lambda: {d1, d2} <= set(system.followers()), 20, what="both followers listed")
    seen["drained"] = system.api("post", f"/api/followers/{d1}/drain")
    seen["queue_resumed"] = system.api("post", "/api/queue/resume")
    running = system.wait_running(first["id"])
    seen["second_while_first_runs"] = system.job(second["id"])
    seen["followers_mid"] = system.followers()
    seen["first_running"] = running
    seen["first"], seen["second"] = system.wait_final(first["id"], 60), system.wait_final(second["id"], 60)
    # Drain the follower that is working: its job finishes, nothing new starts anywhere.
    third = system.submit("rt8", REALTIME)[0]
    system.wait_running(third["id"])
    system.api("post", f"/api/followers/{d2}/drain")
    fourth = system.submit("rt4", REALTIME)[0]
    seen["fourth_waiting"] = system.wait_job(
        fourth["id"],
        lambda d: d["waiting_reason"] and "draining" in d["waiting_reason"],
        15,
        "waiting for a follower that is not draining",
    )
    seen["third"] = system.wait_final(third["id"], 60)
    seen["fourth_after_third"] = system.job(fourth["id"])
    system.api("post", f"/api/followers/{d1}/resume")
    seen["fourth"] = system.wait_final(fourth["id"], 60)
    nvenc = system.submit("rt4", NVENC)[0]
    seen["nvenc"] = system.wait_job(nvenc["id"], lambda d: d["waiting_reason"], 60, "waiting reason")
    seen["nvenc_cancelled"] = system.api("post", f"/api/jobs/{nvenc['id']}/cancel")
    seen["followers_end"] = system.followers()
    seen["unknown"] = system.app.test_client().post("/api/followers/nobody@nowhere/drain")
    seen["unknown"] = (seen["unknown"].status_code, seen["unknown"].get_json())
    seen["names"] = (d1, d2)
    return seen


@needs("drain")
def test_pause_keeps_jobs_waiting_with_a_reason_and_resume_starts_them(request, clips):
    seen = outcome(request, clips)
    assert seen["paused_reason"]["status"] == "queued"
    assert seen["paused_reason"]["waiting_reason"] == "waiting: the queue is paused"
    assert seen["queue_paused"]["paused"] is True and seen["queue_paused"]["counts"]["queued"] == 2
    assert seen["queue_resumed"]["paused"] is False
    assert seen["first"]["status"] == seen["second"]["status"] == "succeeded"


@needs("drain")
def test_a_drained_follower_gets_no_new_job(request, clips):
    seen = outcome(request, clips)
    d1, d2 = seen["names"]
    assert seen["drained"]["name"] == d1 and seen["drained"]["draining"] is True
    assert seen["drained"]["state"] == "draining"
    # d1 is draining, d2 has one slot: the second job waits for it instead of going to d1.
    assert seen["first"]["follower"] == seen["second"]["follower"] == d2
    assert seen["second_while_first_runs"]["status"] == "queued"
    assert seen["second_while_first_runs"]["waiting_reason"] == "waiting for a free slot on a follower with libx264"
    assert seen["followers_mid"][d1]["state"] == "draining" and seen["followers_mid"][d1]["busy"] == 0


@needs("drain")
def test_draining_a_busy_follower_lets_its_job_finish_and_resume_gives_work_again(request, clips):
    seen = outcome(request, clips)
    d1, d2 = seen["names"]
    third = seen["third"]
    assert third["status"] == "succeeded" and third["follower"] == d2 and third["attempt"] == 1
    assert seen["fourth_waiting"]["waiting_reason"] == "waiting: every follower with the libx264 encoder is draining"
    assert seen["fourth_after_third"]["status"] == "queued", "a draining follower took a new job"
    assert seen["fourth"]["status"] == "succeeded" and seen["fourth"]["follower"] == d1


@needs("drain")
def test_a_job_needing_an_encoder_nobody_has_waits_with_a_reason(request, clips):
    seen = outcome(request, clips)
    nvenc = seen["nvenc"]
    assert nvenc["status"] == "queued"
    assert nvenc["waiting_reason"] == "waiting: no follower online has the h264_nvenc encoder"
    assert seen["nvenc_cancelled"]["status"] == "cancelled"


@needs("drain")
def test_follower_list_shows_state_slots_jobs_heartbeat_encoders_and_counts(request, clips):
    seen = outcome(request, clips)
    d1, d2 = seen["names"]
    mid = seen["followers_mid"][d2]
    assert mid["state"] == "busy" and mid["busy"] == 1 and mid["free"] == 0 and mid["concurrency"] == 1
    assert [j["id"] for j in mid["current_jobs"]] == [seen["first_running"]["id"]]
    end = seen["followers_end"]
    for name, done in ((d1, 1), (d2, 3)):
        follower = end[name]
        assert follower["online"] is True and follower["heartbeat_age"] < 10
        assert "libx264" in follower["encoders"] and "h264_nvenc" not in follower["encoders"]
        assert follower["ffmpeg_version"] and follower["current_jobs"] == [] and follower["busy"] == 0
        assert (follower["jobs_done"], follower["jobs_failed"]) == (done, 0)
    assert seen["unknown"][0] == 404 and "nobody@nowhere" in seen["unknown"][1]["error"]


@needs("drain")
def test_advertised_encoders_are_those_that_really_encode_here_not_those_listed(request, clips):
    import subprocess

    from tasks.encoders import CANDIDATES, listed_encoders

    seen = outcome(request, clips)
    advertised = set(seen["followers_end"][seen["names"][0]]["encoders"])
    listed = listed_encoders()
    for encoder in (c for c in CANDIDATES if c in listed):
        # Our own one-frame encode, independent of the follower's trial.
        source = ["-f", "lavfi", "-i", "testsrc2=size=256x256:rate=10:duration=0.2"]
        if encoder.endswith("_vaapi"):
            source = ["-vaapi_device", "/dev/dri/renderD128", *source, "-vf", "format=nv12,hwupload"]
        ok = (
            subprocess.run(
                [
                    "ffmpeg",
                    "-hide_banner",
                    "-v",
                    "error",
                    *source,
                    "-frames:v",
                    "1",
                    "-c:v",
                    encoder,
                    "-f",
                    "null",
                    "-",
                ],
                capture_output=True,
                timeout=30,
            ).returncode
            == 0
        )
        assert (encoder in advertised) == ok, f"{encoder}: encodes here: {ok}, advertised: {encoder in advertised}"
    assert "libx264" in advertised
