"""Fixtures for the page-view tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def jobs(client, clips):
    """Three queued jobs on the short clips (nothing dispatches them: no monitor runs here)."""
    inputs = [str(clips["short"]), str(clips["other"]), str(clips["short"])]
    response = client.post("/api/jobs", json={"inputs": inputs, "spec": {"video_codec": "libx264", "container": "mp4"}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["jobs"]


@pytest.fixture
def dispatched_jobs(app, client, clips):
    """Make dispatched jobs for the given clips (attempt 1 on follower w@h, never started), in an app context."""
    import time

    from app.extensions import db
    from app.models import Attempt, Job, JobStatus
    from app.services.transitions import transition

    def make(names: list[str], tag: str) -> list:
        inputs = [str(clips[name]) for name in names]
        created = client.post("/api/jobs", json={"inputs": inputs, "spec": {}}).get_json()["jobs"]
        found = []
        for row in created:
            job = db.session.get(Job, row["id"])
            job.attempt, job.follower = 1, "w@h"
            job.task_id = f"{tag}-{job.id}-{time.time_ns()}"
            job.attempts.append(Attempt(number=1, task_id=job.task_id, follower="w@h"))
            transition(job, JobStatus.DISPATCHED)
            found.append(job)
        db.session.commit()
        return found

    with app.app_context():
        yield make
