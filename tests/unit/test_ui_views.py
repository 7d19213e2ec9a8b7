"""Page views without a browser: filters, bad arguments, settings stored and refused (Flask client, real DB)."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def jobs(client, clips):
    """Three queued jobs on the short clips (nothing dispatches them: no monitor runs here)."""
    inputs = [str(clips["short"]), str(clips["other"]), str(clips["short"])]
    response = client.post("/api/jobs", json={"inputs": inputs, "spec": {"video_codec": "libx264", "container": "mp4"}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["jobs"]


def alert(response) -> str:
    found = re.findall(r'role="alert"[^>]*>([^<]+)<', response.get_data(as_text=True))
    return found[-1].strip() if found else ""


def test_queue_tabs_count_and_filter(client, jobs):
    client.post(f"/api/jobs/{jobs[0]['id']}/cancel")
    page = client.get("/?status=queued").get_data(as_text=True)
    assert re.search(r'data-count="queued">2<', page) and re.search(r'data-count="cancelled">1<', page)
    assert re.search(r'data-count="all">3<', page)
    assert page.count('class="job ') == 2 and "#1 in queue" in page and "#2 in queue" in page
    running = client.get("/queue/list?status=active").get_data(as_text=True)
    assert 'class="job ' not in running and "No jobs here." in running


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/?status=bogus", 400, "'bogus' is not a queue filter"),
        ("/?page=0", 400, "page: must be between 1 and"),
        ("/?per_page=x", 400, "per_page: must be a whole number"),
        ("/jobs/424242", 404, "job 424242 does not exist"),
    ],
)
def test_bad_page_arguments_say_what_is_wrong(client, url, status, message):
    response = client.get(url)
    assert response.status_code == status
    assert message in alert(response).replace("&#39;", "'")
    assert "Traceback" not in response.get_data(as_text=True)


def test_job_page_shows_argv_and_sizes(client, jobs, clips):
    page = client.get(f"/jobs/{jobs[1]['id']}").get_data(as_text=True)
    assert "libx264" in page and str(clips["other"]) in page
    assert "Size before" in page and "Not dispatched yet." in page


def test_retry_policy_setting_wins_over_the_environment(app, client):
    from app.services.preferences import auto_retry

    with app.app_context():
        assert auto_retry() == app.config["AUTO_RETRY"] == 0
    assert client.post("/settings/retry", data={"auto_retry": "11"}).status_code == 400
    assert client.post("/settings/retry", data={"auto_retry": "3"}).status_code == 302
    with app.app_context():
        assert auto_retry() == 3


def test_job_defaults_are_validated_as_a_spec(app, client, clips):
    from app.services.preferences import job_defaults

    bad = client.post("/settings/defaults", data={"video_codec": "libx265", "container": "webm"})
    assert bad.status_code == 400 and "video_codec" in alert(bad)
    outside = client.post("/settings/defaults", data={"output_dir": "/etc"})
    assert outside.status_code == 400 and "outside the media folders" in alert(outside)
    good = client.post(
        "/settings/defaults",
        data={
            "video_codec": "libx264",
            "crf": "19",
            "container": "mp4",
            "output_dir": str(clips["root"]),
            "if_exists": "fail",
        },
    )
    assert good.status_code == 302
    with app.app_context():
        stored = job_defaults()
    assert (stored["video_codec"], stored["crf"], stored["container"], stored["if_exists"]) == (
        "libx264",
        19,
        "mp4",
        "fail",
    )
    assert stored["output_dir"] == str(clips["root"])


def test_all_tab_keeps_running_jobs_on_top_of_page_one(app, client, jobs):
    from app.extensions import db
    from app.models import Job

    with app.app_context():
        db.session.get(Job, jobs[0]["id"]).status = "running"
        db.session.commit()
    page = client.get("/?per_page=1").get_data(as_text=True)
    running, _, rest = page.partition('id="other-jobs"')
    assert "Running now" in running and f'data-job-id="{jobs[0]["id"]}"' in running
    assert f'data-job-id="{jobs[2]["id"]}"' in rest  # newest of the others, one per page
    assert page.count("data-job-id=") == 2
    second = client.get("/?per_page=1&page=2").get_data(as_text=True)
    assert "Running now" not in second and f'data-job-id="{jobs[1]["id"]}"' in second
