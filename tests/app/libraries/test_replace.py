"""Output policy replace in the monitor, on real files and a real database: the original to the recycle folder,
the output at its place, "keep only if smaller", a failed job, recycle_days = 0, purge, a crash midway.

What a follower does is played by copying a real clip to the job's output path (a follower's real run is in
test_replace_follower.py); everything after that is the monitor's own code (record_outcomes, housekeep).
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Job, utcnow
from app.models.library import Library, LibraryFile, Replacement
from app.monitor.library_files import record_outcomes, take_files
from app.monitor.library_scan import LibraryScanner
from app.services import library_replace, recycle
from app.services.libraries import create_library, request_rescan
from app.services.library_walk import RECYCLE, Seen, fingerprint
from tests.support import wait_for


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def queue_one(media: Path, source: Path, name: str = "movie.mp4", **settings) -> tuple[Library, Path, Job]:
    """A library with output policy replace whose one file was queued by the scanner's own code."""
    folder = media / "Films"
    folder.mkdir(exist_ok=True)
    original = folder / name
    shutil.copy(source, original)
    values = {
        "name": "Films",
        "folder": str(folder),
        "spec": {"video_codec": "libx264", "container": "mkv"},
        "rules": {"skip_matching": False},
        "output_policy": "replace",
        "watch": "none",
        **settings,
    }
    library = create_library(values)
    st = original.stat()
    take_files(library, [Seen(str(original), name, st.st_size, st.st_mtime_ns)])
    db.session.commit()
    row = db.session.execute(select(LibraryFile).where(LibraryFile.path == str(original))).scalar()
    assert row is not None and row.state == "queued", row and row.reason
    return library, original, db.session.get(Job, row.job_id)


def succeed(job: Job, output_source: Path) -> bytes:
    """What a follower leaves behind: a verified output at the job's output path, and the job succeeded."""
    shutil.copy(output_source, job.output_path)
    job.status, job.output_size = "succeeded", os.path.getsize(job.output_path)
    job.result = {"output": job.output_path, "output_size": job.output_size}
    db.session.commit()
    return Path(job.output_path).read_bytes()


def only_replacement() -> Replacement:
    rows = db.session.execute(select(Replacement)).scalars().all()
    assert len(rows) == 1, rows
    return rows[0]


def job_count() -> int:
    return db.session.execute(select(func.count(Job.id))).scalar()


def rescan_until_quiet(app, library: Library) -> None:
    """A full scan and the hold time after it, by the monitor's scanner: whatever it takes, it has taken."""
    scanner = LibraryScanner(app, 1.0)
    request_rescan(library.id, None)

    def quiet():
        scanner.last_round = scanner.last_outcomes = 0.0
        scanner.tick()
        db.session.expire_all()
        return db.session.get(Library, library.id).scan_requested_at is None and not scanner.held

    try:
        wait_for(quiet, 30, 0.3, what="a full scan and its hold time")
    finally:
        scanner.close()


@pytest.mark.both_databases
def test_replace_puts_the_original_in_the_recycle_folder_and_the_output_at_its_place(ctx, media, clips):
    library, original, job = queue_one(media, clips["short"])
    before = original.read_bytes()
    output = succeed(job, clips["other"])
    assert len(output) < len(before) * 0.95, "the test needs an output smaller by more than 5 %"
    record_outcomes()
    db.session.commit()

    placed = original.with_suffix(".mkv")  # movie.mp4 -> movie.mkv: the output container's extension
    assert placed.read_bytes() == output
    assert not original.exists() and not Path(job.output_path).exists()
    rep = only_replacement()
    assert rep.state == "replaced" and rep.output_path == str(placed) and rep.original_path == str(original)
    assert Path(rep.recycled_path).read_bytes() == before
    assert Path(rep.recycled_path).is_relative_to(Path(library.folder) / RECYCLE)
    assert timedelta(days=6.9) < rep.expires_at - utcnow() <= timedelta(days=7)
    row = db.session.execute(select(LibraryFile)).scalar()
    assert (row.path, row.state, row.size) == (str(placed), "converted", len(output))
    assert row.fingerprint == fingerprint(str(placed))
    assert db.session.get(Job, job.id).result["library"]["outcome"] == "replaced"

    jobs = job_count()
    rescan_until_quiet(ctx, library)
    assert job_count() == jobs, "the output at the original's place was queued again"
    assert [r.path for r in db.session.execute(select(LibraryFile)).scalars()] == [str(placed)]


def test_the_same_extension_takes_the_original_name_in_one_rename(ctx, media, clips):
    library, original, job = queue_one(media, clips["short"], name="movie.mkv")
    before = original.read_bytes()
    output = succeed(job, clips["other"])
    record_outcomes()
    db.session.commit()
    assert original.read_bytes() == output
    rep = only_replacement()
    assert rep.state == "replaced" and rep.output_path == str(original)
    assert Path(rep.recycled_path).read_bytes() == before
    assert not Path(job.output_path).exists()


def test_an_output_not_smaller_enough_is_thrown_away_and_the_original_kept_byte_for_byte(ctx, media, clips, client):
    library, original, job = queue_one(media, clips["short"], min_saving_percent=99)
    before, stat_before = original.read_bytes(), original.stat()
    succeed(job, clips["other"])
    record_outcomes()
    db.session.commit()

    assert original.read_bytes() == before and original.stat().st_mtime_ns == stat_before.st_mtime_ns
    assert not Path(job.output_path).exists(), "the output not smaller enough was kept"
    assert not original.with_suffix(".mkv").exists()
    assert db.session.execute(select(Replacement)).first() is None
    assert not (Path(library.folder) / RECYCLE).exists()
    row = db.session.execute(select(LibraryFile)).scalar()
    assert row.state == "skipped" and row.reason.startswith("output not smaller"), row.reason
    shown = client.get(f"/api/jobs/{job.id}").get_json()
    assert shown["replacement"]["outcome"] == "kept original"
    assert "output not smaller" in shown["replacement"]["note"] and "99% smaller" in shown["replacement"]["note"]
    assert "Output not smaller" in client.get(f"/jobs/{job.id}").get_data(as_text=True)
    answer = client.post(f"/api/jobs/{job.id}/undo-replace")
    assert answer.status_code == 409 and "replaced no original" in answer.get_json()["error"]

    jobs = job_count()
    rescan_until_quiet(ctx, library)
    assert job_count() == jobs, "a file skipped as 'output not smaller' was queued again"


def test_a_bigger_output_is_refused_even_at_zero_percent(ctx, media, clips):
    library, original, job = queue_one(media, clips["other"], min_saving_percent=0)
    before = original.read_bytes()
    succeed(job, clips["short"])  # the longer clip: bigger than the original
    assert os.path.getsize(job.output_path) > len(before)
    record_outcomes()
    db.session.commit()
    assert original.read_bytes() == before and not Path(job.output_path).exists()
    row = db.session.execute(select(LibraryFile)).scalar()
    assert row.state == "skipped" and "not bigger" in row.reason


def test_a_failed_job_replaces_nothing(ctx, media, clips):
    library, original, job = queue_one(media, clips["short"])
    before = original.read_bytes()
    job.status, job.error = "failed", "the output failed verification: 0 frames"
    db.session.commit()
    record_outcomes()
    db.session.commit()
    assert original.read_bytes() == before
    assert db.session.execute(select(Replacement)).first() is None
    row = db.session.execute(select(LibraryFile)).scalar()
    assert row.state == "failed" and "verification" in row.reason


def test_recycle_days_zero_deletes_the_original_at_once(ctx, media, clips, client):
    library, original, job = queue_one(media, clips["short"], recycle_days=0)
    output = succeed(job, clips["other"])
    record_outcomes()
    db.session.commit()
    assert original.with_suffix(".mkv").read_bytes() == output and not original.exists()
    rep = only_replacement()
    assert rep.state == "purged" and not Path(rep.recycled_path).exists()
    assert not any((Path(library.folder) / RECYCLE).iterdir())
    answer = client.post(f"/api/jobs/{job.id}/undo-replace")
    assert answer.status_code == 409 and "recycle period ended" in answer.get_json()["error"]


@pytest.mark.both_databases
def test_the_monitor_purges_originals_whose_recycle_period_is_over(ctx, media, clips):
    library, original, job = queue_one(media, clips["short"], recycle_days=2)
    succeed(job, clips["other"])
    record_outcomes()
    db.session.commit()
    rep = only_replacement()
    recycled = Path(rep.recycled_path)
    library_replace.housekeep()
    assert recycled.is_file(), "purged before its time"
    rep.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    library_replace.housekeep()
    db.session.expire_all()
    assert only_replacement().state == "purged" and not recycled.exists()
    assert original.with_suffix(".mkv").is_file()


@pytest.mark.both_databases
def test_a_crash_between_the_renames_is_finished_by_the_next_round(ctx, media, clips, monkeypatch):
    library, original, job = queue_one(media, clips["short"])
    before = original.read_bytes()
    output = succeed(job, clips["other"])
    monkeypatch.setattr(library_replace, "finish", lambda rep: None)  # the monitor dies after the first commit
    record_outcomes()
    db.session.commit()
    rep = only_replacement()
    assert rep.state == "replacing"
    os.makedirs(os.path.dirname(rep.recycled_path))
    os.link(original, rep.recycled_path)  # ... and after the first move
    monkeypatch.undo()
    library_replace.housekeep()  # the next monitor's first round
    db.session.expire_all()
    rep = only_replacement()
    assert rep.state == "replaced" and Path(rep.recycled_path).read_bytes() == before
    assert original.with_suffix(".mkv").read_bytes() == output and not original.exists()
    row = db.session.execute(select(LibraryFile)).scalar()
    assert (row.path, row.state) == (str(original.with_suffix(".mkv")), "converted")


def test_a_file_with_the_target_name_is_never_overwritten(ctx, media, clips):
    library, original, job = queue_one(media, clips["short"])
    other = original.with_suffix(".mkv")
    other.write_bytes(b"someone else's file")
    before = original.read_bytes()
    output = succeed(job, clips["other"])
    record_outcomes()
    db.session.commit()
    assert other.read_bytes() == b"someone else's file" and original.read_bytes() == before
    assert Path(job.output_path).read_bytes() == output  # kept beside, as NAME_converted.mkv
    assert db.session.execute(select(Replacement)).first() is None
    assert "already exists" in db.session.get(Job, job.id).result["library"]["note"]


@pytest.mark.parametrize("done", [0, 1, 2, 3, 4])
def test_replacing_and_undoing_resume_from_any_step(tmp_path, done):
    """The file moves alone: stopped after any step, running them again ends in the same place."""
    original, output = tmp_path / "a.avi", tmp_path / "a_converted.mkv"
    original.write_bytes(b"original")
    output.write_bytes(b"out")
    target, recycled = str(tmp_path / "a.mkv"), str(tmp_path / RECYCLE / "1" / "a.avi")
    os.makedirs(os.path.dirname(recycled))
    steps = [
        lambda: os.link(original, recycled),
        lambda: os.link(output, target),
        lambda: os.unlink(output),
        lambda: os.unlink(original),
    ]
    for step in steps[:done]:
        step()
    recycle.replace_forward(str(original), recycled, str(output), target)
    assert Path(target).read_bytes() == b"out" and Path(recycled).read_bytes() == b"original"
    assert not original.exists() and not output.exists()
    kept = recycle.kept_path(str(original), target)
    assert kept == str(output)
    recycle.undo_forward(str(original), recycled, target, kept)
    assert original.read_bytes() == b"original" and Path(kept).read_bytes() == b"out"
    assert not os.path.exists(target) and not os.path.exists(recycled)


def test_a_move_that_fails_replaces_nothing_and_says_why(ctx, media, clips):
    library, original, job = queue_one(media, clips["short"])
    before = original.read_bytes()
    output = succeed(job, clips["other"])
    (original.parent / RECYCLE).write_bytes(b"a file where the recycle folder goes")  # mkdir fails
    record_outcomes()
    db.session.commit()
    assert original.read_bytes() == before and Path(job.output_path).read_bytes() == output
    assert not original.with_suffix(".mkv").exists()
    rep = only_replacement()
    assert rep.state == "failed" and rep.note.startswith("not replaced: ") and RECYCLE in rep.note
    row = db.session.execute(select(LibraryFile)).scalar()
    assert (row.path, row.state, row.reason) == (str(original), "converted", rep.note)
    answer = ctx.test_client().post(f"/api/jobs/{job.id}/undo-replace")
    assert answer.status_code == 409 and answer.get_json()["error"] == rep.note
