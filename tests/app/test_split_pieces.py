"""Piece state logic of split jobs on a real database: lifecycle, retries, failure naming the piece, progress, resume."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Job
from app.models.piece import Piece
from app.services.pieces import PieceTransitionError, end_piece, move, piece_lost, piece_running
from app.services.split_jobs import advance, apply_plan, decide, pieces_of, start_split
from tasks.errors import TranscodeCancelled, TranscodeError

PLAN = {
    "reason": None,
    "pieces": [{"index": 0, "start": 0.0, "end": 4.0, "frames": 100}, {"index": 1, "start": 4.0, "end": None}],
    "frames": 200,
    "video_duration": 8.0,
    "frame_duration": 0.04,
    "video_start": 0.0,
    "start_time": 0.0,
    "audio": True,
}


@pytest.fixture
def job(app, client, clips):
    """A split job whose plan has run: two video pieces and the audio piece queued, in an app context."""
    spec = {"split": "always", "video_codec": "libx264"}
    created = client.post("/api/jobs", json={"inputs": [str(clips["short"])], "spec": spec}).get_json()["jobs"][0]
    with app.app_context():
        row = db.session.get(Job, created["id"])
        (plan,) = start_split(row)
        db.session.flush()
        run(plan, "p")
        end_piece(plan, "SUCCESS", PLAN)
        advance(row, pieces_of(row.id))
        db.session.flush()
        yield row


def run(piece: Piece, tag: str, follower: str = "w1@h") -> None:
    move(piece, "dispatched", task_id=f"{tag}-{piece.kind}-{piece.index}-{piece.attempts}", follower=follower)
    piece_running(piece)


def video(job: Job) -> list[Piece]:
    return [p for p in pieces_of(job.id) if p.kind == "video"]


def test_the_plan_becomes_pieces_and_the_join_comes_when_all_are_done(job):
    kinds = [(p.kind, p.index, p.status) for p in pieces_of(job.id)]
    assert kinds == [("plan", 0, "succeeded"), ("video", 0, "queued"), ("video", 1, "queued"), ("audio", 0, "queued")]
    first, second = video(job)
    run(first, "a")
    first.percent, first.fps, first.speed = 50.0, 30.0, 1.5
    advance(job, pieces_of(job.id))
    assert job.status == "running" and job.percent == pytest.approx(25.0) and job.fps == 30.0
    assert job.eta == pytest.approx(6.0 / 1.5)
    assert "piece 0 on w1" in job.split_note
    for piece in (first, second, pieces_of(job.id)[-1]):
        if piece.status == "queued":
            run(piece, "b")
        end_piece(piece, "SUCCESS", {"index": piece.index})
    advance(job, pieces_of(job.id))
    db.session.flush()
    assert pieces_of(job.id)[-1].kind == "join"
    join = pieces_of(job.id)[-1]
    run(join, "c")
    end_piece(join, "SUCCESS", {"output": job.output_path, "output_size": 10})
    advance(job, pieces_of(job.id))
    assert job.status == "succeeded" and job.split_state == "done"


def test_illegal_piece_moves_are_refused(job):
    piece = video(job)[0]
    with pytest.raises(PieceTransitionError):
        move(piece, "running")
    with pytest.raises(PieceTransitionError):
        move(piece, "succeeded")


def test_a_lost_follower_requeues_only_its_piece_while_retries_remain(app, job):
    app.config["AUTO_RETRY"] = 1
    first, second = video(job)
    run(first, "a")
    run(second, "a", follower="w2@h")
    piece_lost(first, "w1@h", started=True)
    assert first.status == "queued" and first.failures == 1 and second.status == "running"
    advance(job, pieces_of(job.id))
    assert job.status == "running"
    run(first, "b")
    piece_lost(first, "w1@h", started=True)
    assert first.status == "failed"
    stop = advance(job, pieces_of(job.id))
    assert job.status == "failed" and job.error.startswith("piece 0 failed: follower w1@h was lost")
    assert stop == [second]
    assert pieces_of(job.id)[-1].status == "cancelled"  # the audio piece never ran


def test_an_ffmpeg_error_fails_the_job_naming_the_piece_and_a_cancel_is_not_a_failure(app, job):
    app.config["AUTO_RETRY"] = 3
    first, second = video(job)
    run(first, "a")
    end_piece(first, "FAILURE", TranscodeError("FFmpeg failed (exit 1)", 1, []))
    assert first.status == "failed"  # FFmpeg's verdict is not retried
    run(second, "a")
    end_piece(second, "FAILURE", TranscodeCancelled("cancelled", None, []))
    assert second.status == "cancelled"
    advance(job, pieces_of(job.id))
    assert job.status == "failed" and "piece 0 failed: FFmpeg failed" in job.error


def test_resume_keeps_succeeded_pieces_whose_file_exists(job, tmp_path):
    from app.services.split_jobs import folder_of
    from tasks.split_run import piece_name

    first, second = video(job)
    run(first, "a")
    end_piece(first, "SUCCESS", {"index": 0})
    run(second, "a")
    end_piece(second, "FAILURE", TranscodeError("boom", 1, []))
    advance(job, pieces_of(job.id))
    assert job.status == "failed"
    folder = folder_of(job)
    folder.mkdir()
    (folder / piece_name(0)).write_bytes(b"x")
    try:
        from app.services.transitions import transition

        transition(job, job.status_enum.__class__("queued"))
        start_split(job)
        first, second = video(job)
        assert (first.status, first.attempts) == ("succeeded", 1)
        assert (second.status, second.attempts) == ("queued", 1)
        assert pieces_of(job.id)[-1].status == "queued"  # the audio piece had not run
    finally:
        (folder / piece_name(0)).unlink()
        folder.rmdir()


def test_decide_runs_whole_with_a_reason_a_user_would_not_guess(app, job):
    with app.test_request_context():
        job.spec = {**job.spec, "mode": "custom", "custom_args": "-c:v libx264 -vf fps=10", "split": "auto"}
        split, note = decide(job, 4, lambda: 900.0)
        assert not split and note.startswith("runs whole:") and "fps" in note
        job.spec = {**job.spec, "mode": "basic", "custom_args": ""}
        assert decide(job, 4, lambda: 900.0) == (True, None)
        assert decide(job, 4, lambda: 100.0) == (False, None)  # shorter than SPLIT_MIN_SECONDS
        assert decide(job, 1, lambda: 900.0) == (False, None)  # one slot: nothing to share
        job.spec = {**job.spec, "split": "never"}
        assert decide(job, 4, lambda: 900.0) == (False, None)


def test_a_plan_that_cannot_cut_runs_the_job_whole(job):
    other = Piece(
        job_id=job.id, kind="plan", index=0, status="succeeded", result={**PLAN, "pieces": PLAN["pieces"][:1]}
    )
    for piece in pieces_of(job.id):
        if piece.kind != "plan":
            db.session.delete(piece)
    db.session.add(other)
    db.session.flush()
    apply_plan(job, other)
    assert job.status == "queued" and job.split_state == "whole" and "too few keyframes" in job.split_note


def test_one_probe_sees_a_queued_piece_or_a_queued_job(job):
    """The dispatch round's first look (split_dispatch.work_queued): one statement for both kinds of work."""
    from app.monitor.split_dispatch import work_queued

    assert job.status != "queued" and any(p.status == "queued" for p in pieces_of(job.id))
    assert work_queued(), "queued pieces were not seen"
    for piece in pieces_of(job.id):
        if piece.status == "queued":
            run(piece, "x")
    db.session.flush()
    assert not work_queued(), "nothing is queued, yet the probe saw work"
    job.status = "queued"
    db.session.flush()
    assert work_queued(), "a queued job was not seen"
