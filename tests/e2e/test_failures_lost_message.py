"""A dispatched message that its (live) follower never takes (as when a broker restart loses it):
the leader takes the attempt's claim, queues the job again, and the old message can never run."""

from __future__ import annotations

from celery import Celery
from celery.utils import worker_direct

from tests.e2e.test_failures_harness import FAST, System, needs, outcome, scenario
from tests.support import wait_for


@scenario("lost_message")
def lost_message(system: System) -> dict:
    system.worker("la")
    system.start_monitor()
    name = system.full("la")
    system.wait_monitor_sees("la")
    control = Celery("probe")
    control.config_from_object("celeryconfig")
    control.conf.update(broker_url=system.redis_server.url, result_backend=system.redis_server.url)
    queue = worker_direct(name).name
    # The follower stays online (heartbeats) but stops reading its own queue.
    replies = control.control.cancel_consumer(queue, destination=[name], reply=True, timeout=5)
    job = system.submit("short", FAST)[0]
    dispatched = system.wait_job(job["id"], lambda d: d["status"] == "dispatched", 60, "dispatched")
    requeued = system.wait_job(job["id"], lambda d: d["attempt"] >= 2, 40, "given up and dispatched again")
    # Restarted, the follower has forgotten the leader's revoke (it is kept in memory only): only the
    # claim the leader took stops the old message, which is still first in the queue.
    system.workers["la"].stop()
    system.worker("la")
    final = system.wait_final(job["id"], 60)
    wait_for(lambda: dispatched["task_id"] in system.workers["la"].output(), 10, what="the old message to arrive")
    log = system.workers["la"].output()
    return {
        "replies": replies,
        "dispatched": dispatched,
        "requeued": requeued,
        "final": final,
        "log": log,
        "followers": system.followers(),
    }


@needs("lost_message")
def test_a_message_nobody_took_is_given_up_requeued_and_never_run(request, clips):
    seen = outcome(request, clips)
    assert seen["replies"], "the follower did not confirm it stopped consuming"
    final = seen["final"]
    assert final["status"] == "succeeded", final
    first, *between, last = final["attempts"]
    assert first["status"] == "abandoned" and first["started_at"] is None
    assert first["error"].startswith(f"follower {first['follower']} did not take the job within")
    # While the follower restarts, a second attempt sent to it may be given up too: never run, never counted.
    assert all(a["status"] == "abandoned" and a["started_at"] is None for a in between), between
    assert last["status"] == "succeeded"
    old = seen["dispatched"]["task_id"]
    assert f"task {old} was given up by the leader before it started; not running it" in seen["log"]
    assert seen["followers"][first["follower"]]["online"], "the follower was wrongly treated as lost"
