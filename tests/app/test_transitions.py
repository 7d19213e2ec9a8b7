"""Job lifecycle: one function, illegal moves refused."""

from __future__ import annotations

import pytest

from app.models import Attempt, Job, JobStatus
from app.services.transitions import ALLOWED, TransitionError, transition

S = JobStatus


def make_job(status: JobStatus) -> Job:
    return Job(
        name="a",
        input_path="/a",
        output_path="/b",
        spec={},
        status=status.value,
        attempt=1,
        attempts=[Attempt(number=1, task_id="t1", follower="w1", status="dispatched")],
    )


def test_the_happy_path():
    job = make_job(S.QUEUED)
    for target in (S.DISPATCHED, S.RUNNING, S.SUCCEEDED):
        transition(job, target)
    assert job.status == "succeeded" and job.percent == 100.0 and job.finished_at is not None
    assert job.attempts[-1].status == "succeeded"


# The lifecycle as DESIGN.md and docs/architecture.md describe it, written out here by hand (not read from
# the table under test): retry requeues a finished failure or cancel; an active job can be requeued
# (lost follower, interruption) or end; a waiting one can fail (nothing can run it) or be cancelled.
LEGAL = {
    ("queued", "dispatched"), ("queued", "cancelled"), ("queued", "failed"),
    ("dispatched", "running"), ("dispatched", "succeeded"), ("dispatched", "failed"),
    ("dispatched", "cancelled"), ("dispatched", "queued"),
    ("running", "succeeded"), ("running", "failed"), ("running", "cancelled"), ("running", "queued"),
    ("failed", "queued"), ("cancelled", "queued"),
}  # fmt: skip


def test_the_table_is_the_documented_lifecycle():
    assert {(a.value, b.value) for a, targets in ALLOWED.items() for b in targets} == LEGAL


@pytest.mark.parametrize("current", list(S))
def test_every_illegal_move_is_refused(current):
    for target in S:
        job = make_job(current)
        if (current.value, target.value) in LEGAL:
            transition(job, target)
            assert job.status == target.value
        else:
            with pytest.raises(TransitionError):
                transition(job, target)
            assert job.status == current.value


def test_requeue_clears_the_attempt_fields():
    job = make_job(S.RUNNING)
    job.follower, job.task_id, job.percent = "w1", "t1", 50.0
    transition(job, S.QUEUED, attempt_outcome="failed", error="lost")
    assert (job.follower, job.task_id, job.percent, job.status) == (None, None, 0.0, "queued")
    assert job.attempts[-1].status == "failed" and job.attempts[-1].finished_at is not None
