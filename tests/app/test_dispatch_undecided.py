"""A job the web commits between the two dispatch calls of one monitor round (dispatch_split, then
dispatch_ready) has no split decision yet; dispatch_ready must decide it as dispatch_split would, never
send it whole. Seen in bench/split.py: a split=always job ran whole on one follower."""

from __future__ import annotations

import pytest

from app.extensions import db, get_celery
from app.models import Job
from app.models.piece import Piece
from app.monitor.dispatcher import dispatch_ready
from app.services.jobs import create_jobs
from tests.app.test_schedule_dispatch import registry

pytestmark = pytest.mark.both_databases


def test_an_undecided_split_job_is_split_by_dispatch_ready_not_sent_whole(app, clips):
    with app.app_context():
        split = create_jobs([str(clips["long"])], {"split": "always"})[0]
        whole = create_jobs([str(clips["short"])], {"split": "never"})[0]
        # The web decides only what the spec alone settles (split=never: whole); the rest is the monitor's.
        assert split.split_state is None and whole.split_state == "whole"
        sent: dict[str, int] = {}
        assert dispatch_ready(get_celery(app), registry(slots=2), sent) == 1
        db.session.expire_all()
        split, whole = db.session.get(Job, split.id), db.session.get(Job, whole.id)
        assert whole.status == "dispatched" and whole.split_state == "whole" and sent == {whole.task_id: whole.id}
        assert split.status == "dispatched" and split.split_state == "split", (split.status, split.split_state)
        assert split.task_id.startswith("split-") and split.follower is None
        kinds = [p.kind for p in db.session.query(Piece).filter(Piece.job_id == split.id)]
        assert kinds == ["plan"], kinds


def test_one_round_counts_the_free_slots_once_and_fills_them_with_pieces_first(app, clips):
    """Fix 19: a monitor round (the split dispatcher, then the whole jobs) counts the free slots once; the slots
    the split job's first piece takes are not offered again to the whole jobs behind it."""
    from app.monitor.loop import Monitor

    with app.app_context():
        split = create_jobs([str(clips["long"])], {"split": "always"})[0]
        wholes = create_jobs([str(clips["short"])] * 3, {"split": "never"})
        monitor = Monitor(app)
        monitor.registry = registry(slots=2)
        counts = []
        original = monitor.registry.busy_counts
        monitor.registry.busy_counts = lambda: counts.append(1) or original()
        monitor.dispatch()
        assert len(counts) == 2, counts  # once for the round, once more after the split job started (its plan)
        db.session.expire_all()
        pieces = db.session.query(Piece).filter(Piece.job_id == split.id).all()
        assert [(p.kind, p.status) for p in pieces] == [("plan", "dispatched")]
        statuses = sorted(db.session.get(Job, job.id).status for job in wholes)
        assert statuses == ["dispatched", "queued", "queued"], statuses  # two slots: the plan and one whole job
        counts.clear()
        monitor.dispatch()  # no free slot left: counted once, nothing sent
        assert len(counts) == 1 and sorted(db.session.get(Job, job.id).status for job in wholes) == statuses


def test_the_web_records_at_creation_only_what_the_spec_alone_decides(app, clips):
    """split=never and a video that is copied run whole whatever the fleet: recorded with the job (with the note a
    user would not guess), so no dispatch round loads the job to decide it; auto and always are left undecided."""
    with app.app_context():
        never = create_jobs([str(clips["short"])], {"split": "never"})[0]
        copied = create_jobs([str(clips["short"])], {"split": "auto", "video_codec": "copy", "if_exists": "rename"})[0]
        auto = create_jobs([str(clips["short"])], {"split": "auto", "if_exists": "rename"})[0]
        always = create_jobs([str(clips["long"])], {"split": "always"})[0]
        db.session.expire_all()
        rows = {j.id: (j.split_state, j.split_note) for j in db.session.query(Job)}
        assert rows[never.id] == ("whole", None)
        assert rows[copied.id][0] == "whole" and "copied" in rows[copied.id][1]
        assert rows[auto.id] == (None, None) and rows[always.id] == (None, None)


def test_one_round_reads_whether_the_queue_is_paused_once_and_a_paused_queue_sends_nothing(app, clips):
    """Fix 44: the split dispatcher and the whole jobs of one round read the queue's pause setting once (it was
    read by each); the setting still holds both back."""
    from sqlalchemy import event as orm_event

    from app.monitor.loop import Monitor
    from app.services.settings import QUEUE_PAUSED, set_setting

    with app.app_context():
        jobs = create_jobs([str(clips["short"])] * 2, {"split": "never"})
        monitor = Monitor(app)
        monitor.registry = registry(slots=1)
        reads = []

        def executed(_conn, _cursor, statement, params, _context, _many):
            if "FROM settings" in statement and QUEUE_PAUSED in str(params):
                reads.append(statement)

        orm_event.listen(db.engine, "before_cursor_execute", executed)
        try:
            set_setting(QUEUE_PAUSED, True)
            reads.clear()
            monitor.dispatch()
            paused_reads = len(reads)
            db.session.expire_all()
            assert [db.session.get(Job, job.id).status for job in jobs] == ["queued", "queued"]
            set_setting(QUEUE_PAUSED, False)
            reads.clear()
            monitor.dispatch()
        finally:
            orm_event.remove(db.engine, "before_cursor_execute", executed)
        assert (paused_reads, len(reads)) == (1, 1), (paused_reads, reads)
        db.session.expire_all()
        assert sorted(db.session.get(Job, job.id).status for job in jobs) == ["dispatched", "queued"]


def test_a_job_that_runs_whole_silently_is_decided_in_the_transaction_that_sends_it(app, clips):
    """Fix 50: with one slot a split=auto job runs whole with nothing to say; the round's split step left it
    undecided and the whole jobs' step decides it as it sends it: one write of its row and one live message (it was
    decided, committed and published first, then written and published again as it was sent). A job whose decision
    says something (a note) or that is split is still written by the split step, as before."""
    from sqlalchemy import event as orm_event

    from app.extensions import redis_store
    from app.monitor.loop import Monitor
    from app.services.live import unpack
    from tasks import keys

    with app.app_context():
        auto = create_jobs([str(clips["short"])], {"split": "auto", "if_exists": "rename"})[0]
        always = create_jobs([str(clips["long"])], {"split": "always"})[0]
        assert (auto.split_state, always.split_state) == (None, None)
        auto_id, always_id = auto.id, always.id
        monitor = Monitor(app)
        monitor.registry = registry(slots=1)
        pubsub = redis_store.client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(keys.LIVE_CHANNEL)
        pubsub.get_message(timeout=0.5)
        writes: list[str] = []

        def executed(_conn, _cursor, statement, params, *_):
            values = list(params.values()) if isinstance(params, dict) else list(params or ())  # PostgreSQL: named
            if statement.lstrip().upper().startswith("UPDATE JOBS") and auto_id in values:
                writes.append(statement)

        orm_event.listen(db.engine, "before_cursor_execute", executed)
        try:
            monitor.dispatch()
        finally:
            orm_event.remove(db.engine, "before_cursor_execute", executed)
        db.session.expire_all()
        auto, always = db.session.get(Job, auto_id), db.session.get(Job, always_id)
        assert (auto.status, auto.split_state, auto.split_note) == ("dispatched", "whole", None)
        assert always.status == "queued" and always.split_state is None  # no slot left for it this round
        messages = []
        while message := pubsub.get_message(timeout=0.5):
            messages.extend(m for m in unpack(message["data"]) if m.get("id") == auto_id)
        assert [m["status"] for m in messages] == ["dispatched"], messages  # (the other says why it waits)
        assert len(writes) == 1, writes  # the dispatch's own write of the row
        pubsub.close()
