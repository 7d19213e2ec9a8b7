"""The JSON API's validation and error shapes (real database, no worker)."""

from __future__ import annotations


def test_create_list_detail_move_delete(client, clips):
    created = client.post(
        "/api/jobs",
        json={"inputs": [str(clips["short"]), "other.mp4"], "spec": {"container": "mp4", "video_codec": "libx264"}},
    )
    assert created.status_code == 201
    first, second = created.get_json()["jobs"]
    assert first["output_path"].endswith("short clip_converted.mp4") and first["status"] == "queued"
    listed = client.get("/api/jobs?status=queued&per_page=1").get_json()
    assert listed["total"] >= 2 and len(listed["jobs"]) == 1 and listed["counts"]["queued"] >= 2
    detail = client.get(f"/api/jobs/{second['id']}").get_json()
    assert detail["spec"]["container"] == "mp4" and detail["attempts"] == []
    # Nothing ran yet: no argv of its own, only the one its spec plans (the follower writes argv once it runs).
    assert detail["argv"] is None and detail["planned_argv"][0] == "ffmpeg" and "-i" in detail["planned_argv"]
    moved = client.post(f"/api/jobs/{second['id']}/move", json={"where": "top"}).get_json()
    queue = client.get("/api/jobs?status=queued").get_json()["jobs"]
    assert queue[0]["id"] == moved["id"] == second["id"]
    assert client.delete(f"/api/jobs/{first['id']}").status_code == 200
    assert client.get(f"/api/jobs/{first['id']}").status_code == 404


def test_two_jobs_never_share_an_output(client, clips):
    body = {"inputs": [str(clips["short"]), str(clips["short"])], "spec": {}}
    outputs = [j["output_path"] for j in client.post("/api/jobs", json=body).get_json()["jobs"]]
    assert len(set(outputs)) == 2


def test_errors_are_json_with_a_message(client, clips):
    cases = [
        (client.post("/api/jobs", json={"inputs": ["/etc/passwd"]}), 400, "outside the media folders"),
        (client.post("/api/jobs", json={"inputs": ["../../etc/passwd"]}), 400, "outside the media folders"),
        (client.post("/api/jobs", json={"inputs": ["nope.mkv"]}), 400, "does not exist"),
        (client.post("/api/jobs", json={"inputs": []}), 400, "inputs"),
        (client.post("/api/jobs", json={"inputs": [str(clips["short"])], "spec": {"crf": 99}}), 400, "crf"),
        (client.post("/api/jobs", data="{not json", content_type="application/json"), 400, "not valid JSON"),
        (client.get("/api/jobs/999999"), 404, "does not exist"),
        (client.get("/api/jobs?status=bogus"), 400, "status"),
        (client.get("/api/jobs?page=x"), 400, "page"),
        (client.post("/api/jobs/999999/cancel"), 404, "does not exist"),
        (client.get("/api/nothing-here"), 404, "not found"),
    ]
    for response, status, text in cases:
        body = response.get_json()
        assert response.status_code == status, body
        assert text.lower() in body["error"].lower(), body


def test_state_rules_answer_409(client, clips):
    job = client.post("/api/jobs", json={"inputs": [str(clips["short"])]}).get_json()["jobs"][0]
    assert client.post(f"/api/jobs/{job['id']}/retry").status_code == 409
    assert client.post(f"/api/jobs/{job['id']}/cancel").get_json()["status"] == "cancelled"
    again = client.post(f"/api/jobs/{job['id']}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.get_json()["error"]
    assert client.post("/api/jobs/clear", json={"statuses": ["queued"]}).status_code == 400
    assert client.post("/api/jobs/clear", json={}).get_json()["cleared"] >= 1
