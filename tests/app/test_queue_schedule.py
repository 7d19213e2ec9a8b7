"""The hours grids through the API: a malformed grid is a clear 400 naming `schedule`; a good one is kept and said in words."""

from __future__ import annotations

import pytest

NIGHTS = [(day < 5 and 1 <= hour < 6) for day in range(7) for hour in range(24)]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"schedule": [True] * 24}, "has 24 flags; give 168 true/false flags, one per hour of the week"),
        ({"schedule": [True] * 100 + [1] + [True] * 67}, "the flag of Fri 04:00 (number 100) is not true or false"),
        ({"schedule": "nights"}, "give 168 true/false flags"),
        ({}, "is required"),
    ],
)
def test_a_malformed_queue_grid_is_refused_with_what_to_give(client, body, says):
    response = client.put("/api/queue/schedule", json=body)
    assert response.status_code == 400
    assert response.get_json()["field"] == "schedule" and says in response.get_json()["error"]
    assert client.get("/api/queue/schedule").get_json()["schedule"] is None  # nothing was stored


def test_the_queue_grid_is_kept_said_in_words_and_reset(client):
    response = client.put("/api/queue/schedule", json={"schedule": NIGHTS})
    assert response.status_code == 200
    state = client.get("/api/queue/schedule").get_json()
    assert state["text"] == "Mon-Fri 01:00-06:00" and state["schedule"] == [1 if f else 0 for f in NIGHTS]
    assert state["time_zone"]
    every = client.put("/api/queue/schedule", json={"schedule": [True] * 168}).get_json()
    assert every["schedule"] is None and every["text"] == "any time" and every["open_now"] is True


def test_a_library_grid_of_the_wrong_shape_is_refused(client, clips):
    created = client.post("/api/libraries", json={"name": "Films", "folder": str(clips["root"]), "enabled": False})
    assert created.status_code == 201
    bad = client.patch(f"/api/libraries/{created.get_json()['id']}", json={"schedule": [False] * 167})
    assert bad.status_code == 400 and bad.get_json()["field"] == "schedule"
    assert "has 167 flags" in bad.get_json()["error"]
    good = client.patch(f"/api/libraries/{created.get_json()['id']}", json={"schedule": NIGHTS})
    assert good.status_code == 200 and sum(good.get_json()["schedule"]) == 25
