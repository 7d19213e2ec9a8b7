"""No false loss: a follower whose machine is saturated for a minute (both cores busy with FFmpeg and more)
is never declared lost, and its jobs finish. The crash signal (its named Redis connection) does not
depend on its CPU; the silence bound (FOLLOWER_LOST_AFTER) stays long. A hung follower (SIGSTOP) is
still seen within FOLLOWER_LOST_AFTER, and the reason says it stopped answering, not that it crashed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.e2e.test_failures_harness import REALTIME, System, needs, outcome, scenario
from tests.e2e.test_failures_stale import process_tree

LOAD_SECONDS = 60
LOST_AFTER = 6


@scenario("saturated", exclusive=True, FOLLOWER_LOST_AFTER=str(LOST_AFTER))
def saturated(system: System) -> dict:
    system.worker("busy", concurrency=2)
    system.start_monitor()
    jobs = system.submit("rt30", REALTIME, count=2) + system.submit("rt30", REALTIME, count=2)
    system.wait_running(jobs[0]["id"])
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range((os.cpu_count() or 2) * 2)]
    states: list[str] = []
    statuses: set[str] = set()
    started = time.monotonic()
    try:
        while time.monotonic() - started < LOAD_SECONDS:
            follower = system.followers().get(system.full("busy"), {})
            states.append(str(follower.get("state")))
            statuses.update(system.job(j["id"])["status"] for j in jobs)
            time.sleep(0.5)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    finals = [system.wait_final(j["id"], 240) for j in jobs]
    return {"states": states, "statuses": statuses, "finals": finals}


@pytest.mark.serial  # a minute of full CPU: `make test` runs it after the rest, alone
@needs("saturated")
def test_a_saturated_follower_is_never_declared_lost(request, clips):
    seen = outcome(request, clips)
    assert seen["states"], "the follower was never observed"
    assert "lost" not in seen["states"], f"the follower was shown lost under load: {sorted(set(seen['states']))}"
    assert "failed" not in seen["statuses"]
    assert [f["status"] for f in seen["finals"]] == ["succeeded"] * 4, [
        (f["status"], f["error"]) for f in seen["finals"]
    ]


@scenario("hung_follower", FOLLOWER_LOST_AFTER=str(LOST_AFTER))
def hung_follower(system: System) -> dict:
    worker = system.worker("hung")
    system.start_monitor()
    job = system.wait_running(system.submit("rt30", REALTIME)[0]["id"])
    tree = process_tree(worker.pid)  # main and pool processes with FFmpeg: alive, silent, connections open
    stopped_at = time.monotonic()
    for pid in tree:
        os.kill(pid, signal.SIGSTOP)
    try:
        failed = system.wait_job(job["id"], lambda d: d["status"] == "failed", 60, "failed while hung")
        seconds = time.monotonic() - stopped_at
    finally:
        for pid in tree:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    return {"job": failed, "seconds": seconds}


@needs("hung_follower")
def test_a_hung_follower_is_lost_after_its_silence_with_the_reason(request, clips):
    seen = outcome(request, clips)
    assert seen["job"]["error"].startswith(f"follower {seen['job']['follower']} was lost: it stopped answering for ")
    # Its last word came up to a progress interval before the stop; then FOLLOWER_LOST_AFTER of silence.
    assert LOST_AFTER - 1 <= seen["seconds"] < LOST_AFTER + 10, seen["seconds"]
