"""Page views without a browser: filters, bad arguments, settings stored and refused (Flask client, real DB)."""

from __future__ import annotations

import re

import pytest


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


def test_a_job_that_ends_between_the_two_reads_of_the_queue_is_listed_once(app, client, jobs, monkeypatch):
    """The queue reads the running jobs, then the others: a job running at the first read and failed at the second was
    listed in both lists, both times as the first read's object ("running" twice: a UI test caught it)."""
    from sqlalchemy import update

    from app.extensions import db
    from app.models import Job
    from app.services import jobs as job_service
    from app.views.jobs import RUNNING

    with app.app_context():
        db.session.get(Job, jobs[0]["id"]).status = "running"
        db.session.commit()
    real = job_service.list_jobs

    def ends_after_the_first_read(statuses, **kwargs):
        found = real(statuses, **kwargs)
        if statuses == RUNNING:  # another process ends the job right after the running jobs were read
            db.session.execute(update(Job).where(Job.id == jobs[0]["id"]).values(status="failed"))
        return found

    monkeypatch.setattr(job_service, "list_jobs", ends_after_the_first_read)
    page = client.get("/").get_data(as_text=True)
    assert page.count(f'data-job-id="{jobs[0]["id"]}"') == 1, "listed twice"


def test_queue_and_api_show_one_page_of_ten_thousand_jobs(app, client):
    """10,000 jobs: pages of 50, counts from the whole table, the last page reachable (timings: bench/)."""
    from sqlalchemy import insert

    from app.extensions import db
    from app.models import Job

    statuses = ["queued"] * 4010 + ["succeeded"] * 3000 + ["failed"] * 1990 + ["cancelled"] * 1000
    rows = [
        {
            "name": f"many-{n:05d}.mp4",
            "input_path": f"/nowhere/many-{n:05d}.mp4",
            "output_path": f"/nowhere/many-{n:05d}_converted.mkv",
            "spec": {"video_codec": "libx264", "container": "mkv"},
            "status": status,
            "position": float(n),
        }
        for n, status in enumerate(statuses)
    ]
    with app.app_context():
        db.session.execute(insert(Job), rows)  # one executemany in one transaction
        db.session.commit()
        first_id, last_id = db.session.query(db.func.min(Job.id), db.func.max(Job.id)).one()
    assert last_id - first_id == 9999

    def ids(html: str) -> list[int]:
        return [int(i) for i in re.findall(r'<li class="job [^"]*" data-job-id="(\d+)"', html)]

    page = client.get("/").get_data(as_text=True)
    assert ids(page) == list(range(last_id, last_id - 50, -1))  # one page, newest first
    assert re.search(r'data-count="all">10000<', page) and re.search(r'data-count="queued">4010<', page)
    assert re.search(r'data-count="succeeded">3000<', page) and re.search(r'data-count="failed">1990<', page)
    assert re.search(r'data-count="cancelled">1000<', page) and re.search(r'data-count="active">0<', page)
    assert "Page 1 of 200 · 10000 jobs" in page and 'rel="next" href="/?page=2"' in page
    assert len(ids(client.get("/queue/list").get_data(as_text=True))) == 50

    last = client.get("/?page=200").get_data(as_text=True)
    assert ids(last) == list(range(first_id + 49, first_id - 1, -1))
    assert (
        "Page 200 of 200 · 10000 jobs" in last and 'rel="next"' not in last and 'rel="prev" href="/?page=199"' in last
    )

    waiting_last = client.get("/?status=queued&page=81").get_data(as_text=True)
    assert ids(waiting_last) == list(range(first_id + 4000, first_id + 4010))  # queue order: the last ten
    assert "#4010 in queue" in waiting_last and "Page 81 of 81 · 4010 jobs" in waiting_last

    api = client.get("/api/jobs").get_json()
    assert len(api["jobs"]) == 50 and api["total"] == 10000 and api["page"] == 1
    assert api["counts"] == {
        "queued": 4010,
        "dispatched": 0,
        "running": 0,
        "succeeded": 3000,
        "failed": 1990,
        "cancelled": 1000,
    }
    api_last = client.get("/api/jobs?page=200").get_json()
    assert [j["id"] for j in api_last["jobs"]] == list(range(first_id + 49, first_id - 1, -1))
    assert client.get("/api/jobs?page=201").get_json()["jobs"] == []
