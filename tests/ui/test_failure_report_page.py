"""A failed job's report (full command, the input's facts, FFmpeg's whole stderr) downloaded from the job page in
real Chromium, after a real follower failed it."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.ui.conftest import shot

QUICK = {"video_codec": "libx264", "preset": "ultrafast", "container": "mkv", "bit_depth": 8}


def test_the_job_page_offers_the_failure_report_of_a_failed_job(page, api, ui_media):
    broken = str(ui_media["broken"])
    job = api.post("/api/jobs", {"inputs": [broken], "spec": QUICK}, status=201)["jobs"][0]
    failed = api.wait_status(job["id"], "failed", timeout=90)
    assert "cannot read the input as video" in failed["error"]
    page.goto(f"/jobs/{job['id']}")
    link = page.get_by_role("link", name="Download the failure report")
    expect(link).to_be_visible()
    shot(page, "job-failure-report")
    with page.expect_download() as caught:
        link.click()
    download = caught.value
    assert download.suggested_filename == f"frameshift-job-{job['id']}-failure.txt"
    text = open(download.path(), encoding="utf-8").read()
    assert f"Input:  {broken}" in text and "cannot read the input as video" in text
    command = text.split("== FFmpeg command ==\n", 1)[1].split("\n", 1)[0]
    assert "ffmpeg" in command and "libx264" in command and "'" + broken + "'" in command
    assert "error: cannot read the input as video" in text.split("== Input (ffprobe) ==", 1)[1]
    stderr = text.split("== FFmpeg stderr ==\n", 1)[1]
    assert "zz broken.mkv" in stderr and "Invalid data found when processing input" in stderr
