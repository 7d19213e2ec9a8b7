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
