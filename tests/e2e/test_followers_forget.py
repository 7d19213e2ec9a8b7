"""Followers that are gone: `stopped` after a clean shutdown (not `lost`), their own last heartbeat kept
through a Redis restart, forgotten by DELETE /api/followers/NAME (refused while online or holding jobs);
and the FFmpeg sandbox state each follower advertises, with a red warning where it is off.

Real processes: a monitor, followers stopped with SIGTERM and SIGKILL, a Redis restart, a paused monitor.
"""

from __future__ import annotations

import re
import signal

from tests.e2e.test_failures_harness import REALTIME, System, needs, outcome, scenario
from tests.support import wait_for

LOST_AFTER = 6
MONITOR_LAG = 5  # app/services/liveness.py: the web allows the monitor this much lag
SANDBOX_OFF = "FFmpeg runs without its sandbox on this follower (FFMPEG_SANDBOX=off)"


def delete(system: System, name: str) -> tuple[int, dict]:
    response = system.app.test_client().delete(f"/api/followers/{name}")
    return response.status_code, response.get_json()


def card(page: str, name: str) -> str:
    """The Followers page's card of one follower (from its <li> to the next card's, or the end)."""
    found = re.search(
        rf'<li class="card follower-card[^"]*" data-follower="{re.escape(name)}">(.*?)(?=<li class="card|$)', page, re.S
    )
    assert found, f"no card for {name}"
    return found.group(0)


@scenario("forget", FOLLOWER_LOST_AFTER=str(LOST_AFTER))
def forget(system: System) -> dict:
    system.worker("keep")
    system.worker("gone")
    system.worker("killed")
    system.worker("nobox", FFMPEG_SANDBOX="off")
    system.start_monitor()
    system.wait_monitor_sees("keep", "gone", "killed", "nobox")
    keep, gone, killed, nobox = (system.full(n) for n in ("keep", "gone", "killed", "nobox"))
    seen: dict = {"names": (keep, gone, killed, nobox)}
    seen["start"] = system.followers()
    seen["page_start"] = system.app.test_client().get("/followers/").get_data(as_text=True)
    seen["delete_online"] = delete(system, keep)

    # A clean shutdown (SIGTERM, warm): `stopped`, and it stays so after the lost window.
    system.workers["gone"].stop()
    seen["stopped"] = wait_for(
        lambda: system.followers()[gone]["state"] == "stopped" and system.followers()[gone], 30, what="gone stopped"
    )
    seen["stopped_later"] = wait_for(
        lambda: (f := system.followers()[gone])["heartbeat_age"] > LOST_AFTER + MONITOR_LAG + 1 and f,
        60,
        what="gone silent past the lost window",
    )
    # A Redis restart makes the monitor give every follower a fresh window: not a new heartbeat.
    monitor = system.procs[-1]
    system.redis_server.stop()
    system.redis_server.start()
    wait_for(lambda: "event stream back" in monitor.output(), 60, what="the monitor to reconnect (and grant its grace)")
    before = system.followers()[keep]["last_heartbeat"]
    wait_for(lambda: system.followers()[keep]["last_heartbeat"] != before, 30, what="the monitor writing again")
    seen["after_redis"] = system.followers()

    # A follower killed mid-job while the monitor is paused: gone from view, yet its job is unfinished.
    system.api("post", f"/api/followers/{keep}/drain")
    system.api("post", f"/api/followers/{nobox}/drain")
    job = system.submit("rt30", REALTIME)[0]
    running = system.wait_running(job["id"])
    seen["job_follower"] = running["follower"]
    monitor.signal(signal.SIGSTOP)
    try:
        system.workers["killed"].signal(signal.SIGKILL)
        wait_for(lambda: not system.followers()[killed]["online"], 60, what="killed shown offline")
        seen["killed_with_job"] = system.followers()[killed]
        seen["delete_with_job"] = delete(system, killed)
    finally:
        monitor.signal(signal.SIGCONT)
    seen["job_final"] = system.wait_final(job["id"], 60)
    seen["killed_lost"] = wait_for(
        lambda: system.followers()[killed]["state"] == "lost"
        and not system.followers()[killed]["current_jobs"]
        and system.followers()[killed],
        30,
        what="killed lost with no job",
    )
    seen["page_gone"] = system.app.test_client().get("/followers/").get_data(as_text=True)
    seen["delete_killed"] = delete(system, killed)
    seen["delete_gone"] = delete(system, gone)
    seen["delete_unknown"] = delete(system, "nobody@nowhere")
    # The monitor writes the follower table twice a second: forgotten ones must not come back.
    samples = []
    for _ in range(3):
        before = system.followers()[keep]["last_heartbeat"]
        wait_for(lambda b=before: system.followers()[keep]["last_heartbeat"] != b, 30, what="a new heartbeat of keep")
        samples.append(sorted(system.followers()))
    seen["listed_after_forget"] = samples
    return seen


@needs("forget")
def test_a_follower_stopped_cleanly_shows_stopped_not_lost(request, clips):
    """Without the stopped mark a SIGTERMed follower reads `lost` once its heartbeats stop."""
    seen = outcome(request, clips)
    _, gone, killed, _ = seen["names"]
    for key in ("stopped", "stopped_later"):
        assert seen[key]["state"] == "stopped" and seen[key]["online"] is False, seen[key]
    assert seen["after_redis"][gone]["state"] == "stopped"
    assert seen["killed_lost"]["state"] == "lost", "a SIGKILLed follower is lost, not stopped"
    assert 'data-field="state">stopped<' in card(seen["page_gone"], gone)
    assert 'data-field="state">lost<' in card(seen["page_gone"], killed)


@needs("forget")
def test_the_last_heartbeat_shown_is_the_followers_own_even_after_a_redis_restart(request, clips):
    """Before: the monitor's grace after a Redis restart was written as the follower's last heartbeat."""
    seen = outcome(request, clips)
    _, gone, _, _ = seen["names"]
    # Its last words (the stopped advertisement, sent after its pool stopped) may come a moment after the
    # offline event; both are its own clock. After that, nothing the leader does may move it.
    stopped_at = seen["stopped_later"]["last_heartbeat"]
    assert stopped_at >= seen["stopped"]["last_heartbeat"]
    assert seen["after_redis"][gone]["last_heartbeat"] == stopped_at, (stopped_at, seen["after_redis"][gone])
    assert seen["after_redis"][gone]["heartbeat_age"] > LOST_AFTER + MONITOR_LAG


@needs("forget")
def test_forgetting_is_refused_while_online_or_holding_jobs_and_then_removes_the_follower(request, clips):
    """Without the checks the DELETEs of an online follower and of one holding a job succeed (not 409)."""
    seen = outcome(request, clips)
    keep, gone, killed, nobox = seen["names"]
    status, body = seen["delete_online"]
    assert status == 409 and "online" in body["error"] and body["field"] == "name", body
    assert seen["job_follower"] == killed
    assert seen["killed_with_job"]["online"] is False and seen["killed_with_job"]["current_jobs"]
    status, body = seen["delete_with_job"]
    assert status == 409 and "unfinished jobs" in body["error"], body
    assert seen["job_final"]["status"] == "failed" and f"follower {killed} was lost" in seen["job_final"]["error"]
    assert seen["delete_killed"] == (200, {"name": killed, "forgotten": True})
    assert seen["delete_gone"] == (200, {"name": gone, "forgotten": True})
    assert seen["delete_unknown"][0] == 404
    for listed in seen["listed_after_forget"]:
        assert listed == sorted([keep, nobox]), listed


@needs("forget")
def test_the_page_offers_forget_only_for_followers_that_are_gone(request, clips):
    seen = outcome(request, clips)
    keep, gone, killed, _ = seen["names"]
    assert 'data-action="forget"' not in card(seen["page_start"], keep)
    assert 'data-action="forget"' in card(seen["page_gone"], gone)
    assert 'data-action="forget"' in card(seen["page_gone"], killed)
    assert seen["start"][keep]["can_forget"] is False and seen["killed_lost"]["can_forget"] is True


@needs("forget")
def test_each_follower_advertises_its_sandbox_and_the_page_warns_where_it_is_off(request, clips):
    """Needs tasks/sandbox.py: without it every follower reads mode 'unknown' and this fails."""
    seen = outcome(request, clips)
    keep, _, _, nobox = seen["names"]
    boxed, unboxed = seen["start"][keep], seen["start"][nobox]
    assert boxed["sandbox"]["enabled"] is True and boxed["sandbox"]["mode"] == "landlock", boxed["sandbox"]
    assert boxed["sandbox_warning"] is None
    assert unboxed["sandbox"]["enabled"] is False and unboxed["sandbox"]["mode"] == "off", unboxed["sandbox"]
    assert unboxed["sandbox_warning"] == SANDBOX_OFF
    assert f'<p class="form-error" data-field="sandbox-warning">{SANDBOX_OFF}</p>' in card(seen["page_start"], nobox)
    assert "sandbox-warning" not in card(seen["page_start"], keep)
