"""Failure reports: the error's new field through the result backend, the bounded stderr, the header's
input facts, keeping the report on the job and downloading it from the job page."""

from __future__ import annotations

from app.extensions import db
from app.models import Job
from app.models.failure_report import FailureReport
from tasks.celery_app import celery_app
from tasks.errors import NotHere, TranscodeCancelled, TranscodeError
from tasks.stderr_log import BoundedLog, InputFacts

REPORT = {
    "argv": ["ffmpeg", "-hide_banner", "-i", "/media/a b.mkv", "-c:v", "libx264", "/media/.a.frameshift-1/output.mp4"],
    "input": {"duration": 1.0, "video_codec": "ffv1", "width": 161, "height": 121},
    "input_from_log": {"format": "matroska,webm", "video_codec": "ffv1", "audio_codec": None},
    "stderr": "Input #0, matroska,webm, from 'a b.mkv':\n[libx264] width not divisible by 2 (161x121)\nConversion failed!\n",
}


def through_backend(exc: BaseException) -> BaseException:
    """Store an exception as the result backend does (JSON) and read it back as the leader does."""
    backend = celery_app.backend
    raw = backend.encode({"status": "FAILURE", "result": backend.prepare_exception(exc), "task_id": "t"})
    return backend.decode_result(raw)["result"]


def test_the_report_travels_through_the_result_backend_and_old_results_still_read():
    back = through_backend(TranscodeError("FFmpeg exited with code 1", 1, ["Conversion failed!"], False, REPORT))
    assert isinstance(back, TranscodeError) and back.report == REPORT and back.exit_code == 1
    assert back.log_tail == ["Conversion failed!"] and back.retryable is False
    # Errors without a report keep their four args, so a leader of either age reads them.
    plain = TranscodeCancelled("cancelled", None, ["x"])
    assert len(plain.args) == 4 and through_backend(plain).report is None
    old = TranscodeError(*["FFmpeg exited with code 1", 1, ["old"], False])  # a result stored before reports
    assert old.report is None and old.message == "FFmpeg exited with code 1"
    assert through_backend(NotHere("cannot see it")).retryable is True


def test_the_bounded_log_keeps_the_start_and_the_end_and_says_what_it_left_out():
    log = BoundedLog(limit=1000)
    for n in range(200):
        log.add(f"line {n:03d} " + "x" * 40)
    text = log.text()
    assert len(text.encode()) <= 1000 + 100
    assert text.startswith("line 000 ") and text.rstrip().endswith("line 199 " + "x" * 40)
    assert "lines (" in text and "left out" in text and "line 100 " not in text
    small = BoundedLog()
    for line in ("a", "b"):
        small.add(line)
    assert small.text() == "a\nb\n"


def test_input_facts_come_from_the_first_inputs_header_lines():
    facts = InputFacts()
    for line in (
        "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'clip.mp4':",
        "  Duration: 00:00:03.00, start: 0.000000, bitrate: 300 kb/s",
        "  Stream #0:0[0x1](und): Video: hevc (Main 10) (hvc1 / 0x31637668), yuv420p10le(tv), 1920x1080, 25 fps",
        "  Stream #0:1[0x2](eng): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, 128 kb/s",
        "Output #0, matroska, to 'out.mkv':",
        "  Stream #0:0: Video: h264, yuv420p",
    ):
        facts.feed(line)
    assert facts.to_dict() == {"format": "mov,mp4,m4a,3gp,3g2,mj2", "video_codec": "hevc", "audio_codec": "aac"}


def failed_job(app, client, clips) -> int:
    job = client.post("/api/jobs", json={"inputs": [str(clips["short"])]}).get_json()["jobs"][0]
    with app.app_context():
        row = db.session.get(Job, job["id"])
        row.status, row.attempt, row.follower, row.task_id = "running", 1, "w1@box", f"t-{job['id']}"
        db.session.commit()
    return job["id"]


def test_a_failed_job_keeps_its_report_and_the_job_page_offers_it_as_a_text_file(app, client, clips):
    from app.services.outcomes import mark_exception

    job_id = failed_job(app, client, clips)
    with app.app_context():
        job = db.session.get(Job, job_id)
        mark_exception(job, through_backend(TranscodeError("FFmpeg exited with code 1", 1, ["x"], False, REPORT)))
        db.session.commit()
        assert job.status == "failed"
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "Download the failure report" in page
    download = client.get(f"/jobs/{job_id}/failure-report.txt")
    assert download.status_code == 200 and download.mimetype == "text/plain"
    assert "attachment" in download.headers["Content-Disposition"]
    text = download.get_data(as_text=True)
    assert "ffmpeg -hide_banner -i '/media/a b.mkv' -c:v libx264" in text
    assert "video_codec: ffv1" in text and "width: 161" in text and "format: matroska,webm" in text
    assert text.index("== FFmpeg command ==") < text.index("== Input (ffprobe) ==") < text.index("== FFmpeg stderr ==")
    assert text.rstrip().endswith("Conversion failed!")
    # Deleting the job deletes its report.
    assert client.delete(f"/api/jobs/{job_id}").status_code == 200
    with app.app_context():
        assert db.session.get(FailureReport, job_id) is None
    assert client.get(f"/jobs/{job_id}/failure-report.txt").status_code == 404


def test_a_failure_without_a_report_shows_no_link_and_stderr_is_bounded(app, client, clips):
    from app.services import failure_reports
    from app.services.outcomes import mark_exception

    job_id = failed_job(app, client, clips)
    with app.app_context():
        mark_exception(db.session.get(Job, job_id), TranscodeError("cannot read the input as video"))
        db.session.commit()
    assert "Download the failure report" not in client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert client.get(f"/jobs/{job_id}/failure-report.txt").status_code == 404
    with app.app_context():
        job = db.session.get(Job, job_id)
        kept = failure_reports.keep(job, "boom", 1, {**REPORT, "stderr": "y" * 3_000_000, "argv": "not a list"})
        db.session.commit()
        assert len(kept.stderr) == failure_reports.STDERR_LIMIT and kept.argv is None
