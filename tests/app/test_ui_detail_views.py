"""The job and followers pages show every fact a person looks for, escaped (Flask client, real DB)."""

from __future__ import annotations

import re


def fact(page: str, label: str) -> str:
    """The text of the <dd> after <dt>label</dt> on a page (tags inside it removed)."""
    found = re.search(rf"<dt>{re.escape(label)}</dt>\s*<dd[^>]*>(.*?)</dd>", page, re.S)
    assert found, f"no {label!r} on the page"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_failed_job_page_shows_exit_code_error_and_escaped_log_tail(app, client, jobs):
    from datetime import datetime

    from app.extensions import db
    from app.models import Attempt, Job

    log = [
        "frame=   12 fps=0.0 q=0.0 size=0kB",
        "<script>alert('log')</script> Invalid data found when processing input",
    ]
    with app.app_context():
        job = db.session.get(Job, jobs[0]["id"])
        job.status, job.attempt, job.follower = "failed", 1, "enc1@host"
        job.exit_code, job.error, job.log_tail = 187, "FFmpeg failed: <b>moov atom</b> not found", log
        job.started_at, job.finished_at = datetime(2024, 5, 1, 10, 0, 5), datetime(2024, 5, 1, 10, 0, 9)
        job.attempts.append(
            Attempt(
                number=1, task_id="t-failed-1", follower="enc1@host", status="failed", exit_code=187, error=job.error
            )
        )
        db.session.commit()
    page = client.get(f"/jobs/{jobs[0]['id']}").get_data(as_text=True)
    assert fact(page, "Exit code") == "187"
    assert "FFmpeg exit code: <code>187</code>" in page
    assert "Why it failed" in page
    assert "FFmpeg failed: &lt;b&gt;moov atom&lt;/b&gt; not found" in page and "<b>moov atom" not in page
    tail = re.search(r'<pre class="log">(.*?)</pre>', page, re.S).group(1)
    assert tail.split("\n") == [
        "frame=   12 fps=0.0 q=0.0 size=0kB",
        "&lt;script&gt;alert(&#39;log&#39;)&lt;/script&gt; Invalid data found when processing input",
    ]
    assert "<script>alert" not in page
    attempts = re.search(r'<table class="attempts">(.*?)</table>', page, re.S).group(1)
    assert "enc1@host" in attempts and re.search(r"<td[^>]*>187</td>", attempts) and "&lt;b&gt;moov atom" in attempts
    assert fact(page, "Converting took") == "4s"


def test_succeeded_job_page_shows_timings_sizes_and_output(app, client, jobs, clips):
    from datetime import datetime

    from app.extensions import db
    from app.models import Job

    with app.app_context():
        job = db.session.get(Job, jobs[1]["id"])
        job.status, job.attempt, job.percent, job.exit_code = "succeeded", 1, 100.0, 0
        job.created_at = datetime(2024, 5, 1, 10, 0, 0)
        job.dispatched_at = datetime(2024, 5, 1, 10, 0, 20)
        job.started_at = datetime(2024, 5, 1, 10, 0, 30)
        job.finished_at = datetime(2024, 5, 1, 10, 2, 35)
        job.input_size, job.output_size, job.duration = 2_500_000, 1_000_000, 125.0
        output = job.output_path
        db.session.commit()
    page = client.get(f"/jobs/{jobs[1]['id']}").get_data(as_text=True)
    assert output.startswith(str(clips["root"])) and fact(page, "Output") == output
    assert fact(page, "Input") == str(clips["other"])
    assert fact(page, "Created") == "2024-05-01 10:00:00 UTC"
    assert fact(page, "Dispatched") == "2024-05-01 10:00:20 UTC"
    assert fact(page, "Started") == "2024-05-01 10:00:30 UTC"
    assert fact(page, "Finished") == "2024-05-01 10:02:35 UTC"
    assert fact(page, "Waited") == "30s"
    assert fact(page, "Converting took") == "2m 05s"
    assert fact(page, "Size before") == "2.5 MB"
    assert fact(page, "Size after") == "1.0 MB"
    assert fact(page, "Space saved") == "1.5 MB (60.0%)"
    assert fact(page, "Duration") == "2m 05s"
    assert fact(page, "Exit code") == "0"
    assert "Why it failed" not in page and "FFmpeg exit code" not in page


def test_followers_page_shows_busy_slots_current_jobs_heartbeat_and_lost(app, client, jobs):
    from datetime import timedelta

    from app.extensions import db
    from app.models import Follower, Job, utcnow

    with app.app_context():
        now = utcnow()
        db.session.add_all(
            [
                Follower(
                    name="enc1@host",
                    online=True,
                    concurrency=4,
                    encoders=["libx264", "libx265"],
                    ffmpeg_version="6.1.1",
                    last_heartbeat=now - timedelta(seconds=2),
                ),
                # Marked online, but silent for two hours: the page must call it lost.
                Follower(
                    name="old@host",
                    online=True,
                    concurrency=2,
                    encoders=["libx264"],
                    ffmpeg_version="5.1",
                    last_heartbeat=now - timedelta(hours=2, minutes=5),
                ),
            ]
        )
        job = db.session.get(Job, jobs[1]["id"])
        job.status, job.follower, job.percent, job.task_id = "running", "enc1@host", 42.7, "t-running-1"
        db.session.commit()
    page = client.get("/followers/").get_data(as_text=True)
    # Each card runs from its <li> to the next card's (the last one to the end of the page).
    cards = dict(
        re.findall(
            r'<li class="card follower-card[^"]*" data-follower="([^"]+)">(.*?)(?=<li class="card|$)', page, re.S
        )
    )
    assert set(cards) == {"enc1@host", "old@host"}, cards.keys()
    online, lost = cards["enc1@host"], cards["old@host"]

    assert re.search(r'data-field="state">online<', online)
    assert re.search(r'data-field="busy">1</span> busy of <span data-field="concurrency">4<', online)
    assert "Current jobs (1)" in online
    link = re.search(r'<ul class="current-jobs">\s*<li><a href="([^"]+)">([^<]+)</a> — ([^<]+)</li>', online)
    assert link and link.groups() == (f"/jobs/{jobs[1]['id']}", "other.mp4", "running, 42%")
    age = re.fullmatch(r"(\d+)s ago", fact(online, "Last heartbeat"))
    assert age and 2 <= int(age.group(1)) <= 15  # online means a heartbeat younger than FOLLOWER_LOST_AFTER + lag

    assert re.search(r'class="badge badge-bad" data-field="state">lost<', lost)
    assert re.search(r'data-field="busy">0</span> busy of <span data-field="concurrency">2<', lost)
    assert "Current jobs (0)" in lost and "Idle." in lost
    assert fact(lost, "Last heartbeat") == "2h 05m ago"
    assert re.search(r'data-field="summary">1 of 2 online · 1 of 4 slots busy<', page)
