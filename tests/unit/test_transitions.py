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


@pytest.mark.parametrize("current", list(S))
def test_every_illegal_move_is_refused(current):
    for target in S:
        job = make_job(current)
        if target in ALLOWED[current]:
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
