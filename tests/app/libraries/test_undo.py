"""Undo a replacement through POST /api/jobs/<id>/undo-replace: the original back byte for byte, not queued again;
409 with a clear message when it is too late, already done, or the files were changed since."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Job, utcnow
from app.models.library import LibraryFile, Replacement
from app.monitor.library_files import record_outcomes
from tests.app.libraries.test_replace import queue_one, rescan_until_quiet, succeed

pytestmark = pytest.mark.both_databases  # the claim (a conditional UPDATE) on both


@pytest.fixture
def replaced(app, media, clips):
    """A library file replaced by its output: (library, original path, job, original bytes, output bytes)."""
    with app.app_context():
        library, original, job = queue_one(media, clips["short"])
        before = original.read_bytes()
        output = succeed(job, clips["other"])
        record_outcomes()
        db.session.commit()
        assert original.with_suffix(".mkv").read_bytes() == output
        yield library, original, job, before, output


def test_undo_restores_the_original_byte_for_byte_and_the_library_does_not_queue_it_again(app, client, replaced):
    library, original, job, before, output = replaced
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert 'data-action="undo-replace"' in page

    answer = client.post(f"/api/jobs/{job.id}/undo-replace")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["state"] == "undone" and not body["can_undo"]
    assert original.read_bytes() == before
    assert not original.with_suffix(".mkv").exists()
    kept = Path(body["kept"])
    assert kept.name == "movie_converted.mkv" and kept.read_bytes() == output  # the output is kept, not deleted
    rep = db.session.execute(select(Replacement)).scalar()
    assert rep.state == "undone" and rep.undone_at is not None
    row = db.session.execute(select(LibraryFile)).scalar()
    assert (row.path, row.state, row.size) == (str(original), "skipped", len(before))
    assert "undone" in row.reason and "requeue=skipped" in row.reason
    assert 'data-action="undo-replace"' not in client.get(f"/jobs/{job.id}").get_data(as_text=True)

    jobs = db.session.execute(select(func.count(Job.id))).scalar()
    rescan_until_quiet(app, library)
    assert db.session.execute(select(func.count(Job.id))).scalar() == jobs, "the restored original was queued again"

    again = client.post(f"/api/jobs/{job.id}/undo-replace")
    assert again.status_code == 409
    assert "already undone" in again.get_json()["error"] and str(original) in again.get_json()["error"]


def test_undo_after_the_recycle_period_is_refused(client, replaced):
    library, original, job, before, output = replaced
    rep = db.session.execute(select(Replacement)).scalar()
    rep.expires_at = utcnow() - timedelta(minutes=1)  # over, and the monitor has not purged it yet
    db.session.commit()
    answer = client.post(f"/api/jobs/{job.id}/undo-replace")
    assert answer.status_code == 409
    error = answer.get_json()["error"]
    assert "recycle period ended" in error and "cannot be brought back" in error
    assert original.with_suffix(".mkv").read_bytes() == output and Path(rep.recycled_path).read_bytes() == before


def test_undo_is_refused_when_the_output_was_changed_since(client, replaced):
    library, original, job, before, output = replaced
    placed = original.with_suffix(".mkv")
    with placed.open("ab") as handle:
        handle.write(b"edited by someone")
    answer = client.post(f"/api/jobs/{job.id}/undo-replace")
    assert answer.status_code == 409
    error = answer.get_json()["error"]
    assert "changed since the replacement" in error and "by hand" in error
    assert placed.read_bytes() == output + b"edited by someone" and not original.exists()
    assert db.session.execute(select(Replacement)).scalar().state == "replaced"


def test_undo_of_a_job_that_replaced_nothing_or_does_not_exist(client, replaced):
    assert client.post("/api/jobs/999999/undo-replace").status_code == 404
    assert "/api/jobs/{job_id}/undo-replace" in client.get("/api/openapi.json").get_json()["paths"]
