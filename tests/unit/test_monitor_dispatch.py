"""The dispatcher's give-back after a failed publish batch, on a real database and a real Redis."""

from __future__ import annotations

import time

import pytest

from app.extensions import db, redis_store
from app.models import Attempt, Job, JobStatus
from app.monitor.dispatcher import give_back
from app.services.transitions import transition
from tasks import keys


@pytest.fixture
def jobs(app, client, clips):
    """Two jobs dispatched to w@h, inside an app context."""
    inputs = [str(clips["short"]), str(clips["other"])]
    created = client.post("/api/jobs", json={"inputs": inputs, "spec": {}}).get_json()["jobs"]
    with app.app_context():
        found = []
        for row in created:
            job = db.session.get(Job, row["id"])
            job.attempt, job.follower = 1, "w@h"
            job.task_id = f"dispatch-test-{job.id}-{time.time_ns()}"
            job.attempts.append(Attempt(number=1, task_id=job.task_id, follower="w@h"))
            transition(job, JobStatus.DISPATCHED)
            found.append(job)
        db.session.commit()
        yield found


def test_after_a_failed_send_only_jobs_no_follower_can_start_go_back_to_the_queue(jobs):
    unsent, taken = jobs
    unsent_task = unsent.task_id
    redis_store.client.set(keys.claim(taken.task_id), "w@h")  # its message got through and it started
    give_back(jobs, "could not reach the broker: down")
    assert unsent.status == "queued" and unsent.attempts[0].status == "abandoned"
    assert unsent.waiting_reason == "could not reach the broker: down"
    assert redis_store.client.get(keys.claim(unsent_task)) == keys.LEADER_CLAIM.encode()  # never starts now
    assert taken.status == "dispatched"  # its events (or the reaper) settle it
