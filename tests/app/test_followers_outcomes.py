"""Retry policy on a real database: what counts against AUTO_RETRY, interruptions, never-started attempts."""

from __future__ import annotations

import json

import pytest

from app.extensions import db
from app.models import Attempt, Job, JobStatus
from app.services.outcomes import MAX_INTERRUPTIONS, fail_or_retry, mark_exception, mark_lost
from app.services.transitions import transition
from tasks.errors import NotHere, TranscodeError, TranscodeInterrupted


@pytest.fixture
def job(app, client, clips):
    """A job, returned inside an app context."""
    created = client.post("/api/jobs", json={"inputs": [str(clips["short"])], "spec": {}}).get_json()["jobs"][0]
    with app.app_context():
        yield db.session.get(Job, created["id"])


def start_attempt(job: Job, follower: str = "w@h", running: bool = True) -> None:
    job.attempt += 1
    job.task_id = f"task-{job.id}-{job.attempt}"
    job.follower = follower
    job.attempts.append(Attempt(number=job.attempt, task_id=job.task_id, follower=follower))
    transition(job, JobStatus.DISPATCHED)
    if running:
        transition(job, JobStatus.RUNNING)
    db.session.commit()


def test_interrupted_attempts_requeue_without_using_auto_retries_then_give_up(app, job):
    app.config["AUTO_RETRY"] = 0
    for n in range(1, MAX_INTERRUPTIONS + 1):
        start_attempt(job)
        mark_exception(job, TranscodeInterrupted("interrupted: follower w@h was shut down while converting"))
        assert job.status == "queued", n
        assert job.attempts[-1].status == "interrupted"
        assert job.attempts[-1].error == "interrupted: follower w@h was shut down while converting"
    start_attempt(job)
    mark_exception(job, TranscodeInterrupted("interrupted: follower w@h was shut down while converting"))
    assert job.status == "failed" and "giving up" in job.error


def test_only_real_failures_use_up_auto_retries(app, job):
    app.config["AUTO_RETRY"] = 1
    start_attempt(job, running=False)
    mark_lost(job, "w@h", started=False)  # never ran: re-queued, costs nothing
    assert job.status == "queued" and job.attempts[-1].status == "abandoned"
    assert job.attempts[-1].error == "follower w@h was lost before the job started"
    start_attempt(job)
    mark_lost(job, "w@h")  # ran and was lost: the one automatic retry
    assert job.status == "queued" and job.attempts[-1].status == "failed"
    start_attempt(job)
    mark_lost(job, "w@h")
    assert job.status == "failed" and job.error == "follower w@h was lost"
    assert [a.status for a in job.attempts] == ["abandoned", "failed", "failed"]


def test_ffmpeg_errors_are_not_retried_automatically(app, job):
    app.config["AUTO_RETRY"] = 3
    start_attempt(job)
    mark_exception(job, TranscodeError("FFmpeg exited with code 1: bad option", 1, ["bad option"]))
    assert job.status == "failed" and job.exit_code == 1


def test_a_lost_job_that_was_being_cancelled_ends_cancelled(app, job):
    start_attempt(job)
    from app.models import utcnow

    job.cancel_requested_at = utcnow()
    mark_lost(job, "w@h")
    assert job.status == "cancelled"


def test_fail_or_retry_fails_when_not_retryable(app, job):
    app.config["AUTO_RETRY"] = 2
    start_attempt(job)
    fail_or_retry(job, "refused: bad signature", None, None, retryable=False)
    assert job.status == "failed" and job.error == "refused: bad signature"


def test_what_another_follower_might_fix_is_retried_and_a_bad_file_is_not(app, job):
    app.config["AUTO_RETRY"] = 1
    start_attempt(job)
    mark_exception(job, NotHere("input not usable on this follower: /m/a.mp4 does not exist; ..."))
    assert job.status == "queued"
    start_attempt(job)
    mark_exception(job, TranscodeError("cannot read the input as video: Invalid data found when processing input"))
    assert job.status == "failed" and job.error.startswith("cannot read the input as video")


def test_the_retry_decision_reads_the_errors_flag_never_its_wording(app, job):
    app.config["AUTO_RETRY"] = 2
    start_attempt(job)
    mark_exception(job, TranscodeError("FFmpeg says: not found on this follower"))  # wording alone: no retry
    assert job.status == "failed"


def test_retryable_survives_the_result_backend(app):
    """The follower's exception is stored as JSON in the result backend and rebuilt on the leader."""
    from app.extensions import get_celery

    backend = get_celery(app).backend
    for exc, expected in ((NotHere("output folder missing here"), True), (TranscodeError("bad file", 1), False)):
        stored = json.loads(json.dumps(backend.prepare_exception(exc)))  # what Redis holds
        rebuilt = backend.exception_to_python(stored)
        assert type(rebuilt) is type(exc) and rebuilt.retryable is expected and rebuilt.message == exc.message
