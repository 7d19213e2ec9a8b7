"""The dispatcher's give-back after a failed publish batch, on a real database and a real Redis."""

from __future__ import annotations

import pytest

from app.extensions import redis_store
from app.monitor.dispatcher import give_back
from tasks import keys


@pytest.fixture
def jobs(dispatched_jobs):
    """Two jobs dispatched to w@h, inside an app context."""
    return dispatched_jobs(["short", "other"], "dispatch-test")


def test_after_a_failed_send_only_jobs_no_follower_can_start_go_back_to_the_queue(jobs):
    unsent, taken = jobs
    unsent_task = unsent.task_id
    redis_store.client.set(keys.claim(taken.task_id), "w@h")  # its message got through and it started
    give_back(jobs, "could not reach the broker: down")
    assert unsent.status == "queued" and unsent.attempts[0].status == "abandoned"
    assert unsent.waiting_reason == "could not reach the broker: down"
    assert redis_store.client.get(keys.claim(unsent_task)) == keys.LEADER_CLAIM.encode()  # never starts now
    assert taken.status == "dispatched"  # its events (or the reaper) settle it
