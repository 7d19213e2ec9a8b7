"""A follower with a wrong SHARED_TOKEN: shown as `wrong token` with the fix, given no job, and no job fails.

Real processes: a monitor, a follower with the right token and one with another (long enough to start).
"""

from __future__ import annotations

import json
import threading

from tasks import keys
from tasks.signing import proof
from tests.conftest import TOKEN
from tests.e2e.test_failures_harness import FAST, System, needs, outcome, scenario
from tests.support import wait_for

OTHER_TOKEN = "another-shared-token-not-the-leaders-0123"
FIX = (
    "this follower's SHARED_TOKEN differs from the leader's; set the same SHARED_TOKEN on both and restart the follower"
)


def forge_proof(system: System, name: str, stop: threading.Event) -> None:
    """Keep rewriting name's advertisement with a valid proof, as if it held the leader's token (it does not)."""
    while not stop.is_set():
        info = json.loads(system.redis.get(keys.follower(name)) or "{}")
        if info:
            info["token_proof"] = proof(name, info["proof_at"], TOKEN)
            system.redis.set(keys.follower(name), json.dumps(info), ex=60)
        stop.wait(0.2)


@scenario("token")
def wrong_token(system: System) -> dict:
    system.worker("good", 1)
    # Two slots: the dispatcher offers the follower with the most free slots first, so a dispatcher
    # that ignored the proof would send the first job here.
    system.worker("bad", 2, SHARED_TOKEN=OTHER_TOKEN)
    system.start_monitor()
    good, bad = system.full("good"), system.full("bad")
    seen: dict = {"names": (good, bad)}
    system.wait_monitor_sees("good")
    seen["bad_listed"] = wait_for(
        lambda: system.followers().get(bad, {}).get("state") == "wrong token" and system.followers()[bad],
        60,
        what="the bad follower shown as wrong token",
    )
    seen["advert"] = system.follower_info("bad")
    # 1. The proof alone keeps jobs away from it.
    first = system.submit("short", FAST, count=4)
    seen["first"] = [system.wait_final(job["id"], 120) for job in first]
    seen["bad_log_first"] = system.workers["bad"].output()
    # 2. A follower that passed the proof check but refuses the signature anyway (here: its proof
    #    forged by the test) costs each job it got one refused attempt, never the job.
    stop = threading.Event()
    forger = threading.Thread(target=forge_proof, args=(system, bad, stop), daemon=True)
    forger.start()
    seen["trusted_while_forged"] = wait_for(
        lambda: system.followers()[bad]["state"] == "idle" and system.followers()[bad],
        30,
        what="the monitor to trust the forged proof",
    )
    second = system.submit("other", FAST, count=4)
    seen["second"] = [system.wait_final(job["id"], 120) for job in second]
    stop.set()
    forger.join(5)
    seen["after"] = wait_for(
        lambda: system.followers()[bad]["state"] == "wrong token" and system.followers(),
        60,
        what="the bad follower shown as wrong token again",
    )
    seen["bad_log"] = system.workers["bad"].output()
    return seen


@needs("token")
def test_a_follower_with_a_wrong_token_is_shown_as_such_with_the_fix(request, clips):
    seen = outcome(request, clips)
    good, bad = seen["names"]
    listed = seen["bad_listed"]
    assert listed["online"] is True and listed["token"] == "wrong"
    assert listed["problem"] == FIX
    assert listed["free"] == 0
    assert TOKEN not in json.dumps(seen["advert"]) and OTHER_TOKEN not in json.dumps(seen["advert"])
    assert seen["advert"]["token_proof"] and seen["advert"]["proof_at"]
    end = seen["after"]
    assert end[good]["state"] == "idle" and end[good]["problem"] is None and end[good]["token"] == "ok"
    assert end[bad]["state"] == "wrong token" and end[bad]["problem"] == FIX


@needs("token")
def test_no_job_is_dispatched_to_a_follower_without_a_valid_proof(request, clips):
    """Without the proof check the first job goes to `bad` (most free slots) and is refused there."""
    seen = outcome(request, clips)
    good, bad = seen["names"]
    for job in seen["first"]:
        assert job["status"] == "succeeded" and job["follower"] == good, job
        assert [a["follower"] for a in job["attempts"]] == [good], job["attempts"]
    assert "refused task" not in seen["bad_log_first"], "a job reached the follower that cannot verify it"


@needs("token")
def test_a_job_a_follower_refused_goes_back_to_the_queue_and_never_fails(request, clips):
    """Without the requeue a refused signature ends the job `failed` (a refusal is not retried)."""
    seen = outcome(request, clips)
    good, bad = seen["names"]
    assert seen["trusted_while_forged"]["state"] == "idle"
    refused = [a for job in seen["second"] for a in job["attempts"] if a["follower"] == bad]
    assert refused, "no job reached the follower with the forged proof, so this proves nothing"
    for attempt in refused:
        assert attempt["status"] == "refused" and "signature is missing or wrong" in attempt["error"], attempt
    for job in seen["second"]:
        assert job["status"] == "succeeded" and job["follower"] == good, job
    # It refused once, then got nothing more while its (forged) proof still passed.
    assert len(refused) <= 2, refused
    assert seen["after"][bad]["jobs_failed"] == 0 and seen["after"][good]["jobs_failed"] == 0
    assert "refused task" in seen["bad_log"] and "signature is missing or wrong" in seen["bad_log"]
