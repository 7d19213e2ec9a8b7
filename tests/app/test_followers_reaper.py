"""The reaper's decisions on a real database and a real Redis (no worker): claims settle every race."""

from __future__ import annotations

import time

import pytest

from app.extensions import db, get_celery, redis_store
from app.models import Attempt, Job, JobStatus
from app.monitor.reaper import reap_lost
from app.monitor.registry import FollowerState, Registry
from app.services.transitions import transition
from tasks import keys


@pytest.fixture
def job(app, client, clips):
    """A job dispatched to w@h (never started), inside an app context."""
    created = client.post("/api/jobs", json={"inputs": [str(clips["short"])], "spec": {}}).get_json()["jobs"][0]
    with app.app_context():
        job = db.session.get(Job, created["id"])
        job.attempt, job.follower = 1, "w@h"
        job.task_id = f"reaper-test-{job.id}-{time.time_ns()}"
        job.attempts.append(Attempt(number=1, task_id=job.task_id, follower="w@h"))
        transition(job, JobStatus.DISPATCHED)
        db.session.commit()
        yield job


def registry(offline: bool, silent_for: float = 0.0) -> Registry:
    reg = Registry(lost_after=10)
    reg.followers["w@h"] = FollowerState(name="w@h", last_seen=time.time() - silent_for, offline=offline)
    return reg


def test_a_follower_that_stopped_cleanly_gives_back_its_untaken_job_at_once(job):
    task_id = job.task_id
    assert reap_lost(get_celery(), registry(offline=True)) == 1
    assert job.status == "queued" and job.attempts[0].status == "abandoned"
    assert job.attempts[0].error == "follower w@h stopped before taking the job"
    # The leader holds the claim: the old message can never start.
    assert redis_store.client.get(keys.claim(task_id)) == keys.LEADER_CLAIM.encode()


def test_a_job_the_follower_already_claimed_is_not_given_back_while_it_may_report(job):
    redis_store.client.set(keys.claim(job.task_id), "w@h")
    assert reap_lost(get_celery(), registry(offline=True)) == 0
    assert job.status == "dispatched"


def test_a_lost_follower_with_a_started_attempt_fails_it(job):
    redis_store.client.set(keys.claim(job.task_id), "w@h")
    assert reap_lost(get_celery(), registry(offline=False, silent_for=30)) == 1
    assert job.status == "failed" and job.error == "follower w@h was lost: it stopped answering for 30 s"


def test_a_live_follower_keeps_its_fresh_dispatch(job):
    assert reap_lost(get_celery(), registry(offline=False)) == 0
    assert job.status == "dispatched"


def test_leases_are_read_every_few_seconds_and_a_silent_attempt_is_still_given_up(job, monkeypatch):
    """Fix 45: the reaper reads the running attempts' leases at most every LEASE_CHECK_EVERY, not at every
    once-a-second housekeeping, and judges no attempt by its lease in between; an attempt whose lease stays missing
    for LEASE_GRACE is still given up (its follower alive, its lease gone: it stopped reporting on the job)."""
    from app.monitor import reaper

    redis_store.client.set(keys.claim(job.task_id), "w@h")
    transition(job, JobStatus.RUNNING)
    db.session.commit()
    reads = []
    real = reaper.leases_present
    monkeypatch.setattr(reaper, "leases_present", lambda ids: reads.append(list(ids)) or real(ids))
    reg = registry(offline=False)
    for _ in range(3):  # three housekeepings within a second: one read
        assert reap_lost(get_celery(), reg) == 0
    assert reads == [[job.task_id]], reads
    assert job.task_id in reg.lease_missing  # no lease in Redis: missing since the read
    reg.lease_missing[job.task_id] = time.time() - reaper.LEASE_GRACE  # ... for the whole grace
    assert reap_lost(get_celery(), reg) == 0 and len(reads) == 1  # not read again yet: nothing judged by it
    reg.lease_checked_at -= reaper.LEASE_CHECK_EVERY
    assert reap_lost(get_celery(), reg) == 1 and len(reads) == 2
    assert job.status == "failed" and job.error == "follower w@h stopped reporting on this job", job.error
