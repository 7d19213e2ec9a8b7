"""extensions.core (fix 40): a Core statement in the session's transaction, without the ORM's execution path. It
must read what the session would: pending ORM changes flushed first (as autoflush does), its own uncommitted
writes seen, and nothing ended by it (the caller's commit or rollback still decides). Real database, both kinds."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import core, db
from app.models import Job
from app.services.jobs import create_jobs

pytestmark = pytest.mark.both_databases


def test_core_reads_pending_changes_in_the_sessions_transaction_and_a_rollback_undoes_them(app, clips):
    with app.app_context():
        job = create_jobs([str(clips["short"])], {"split": "never"})[0]
        job_id = job.id
        job.priority = 7  # pending in the session, not flushed
        assert core(select(Job.priority).where(Job.id == job_id)).scalar() == 7
        count = core(select(func.count()).select_from(Job)).scalar()
        db.session.add(Job(name="pending", input_path=job.input_path, output_path=job.output_path + ".2", spec={}))
        assert core(select(func.count()).select_from(Job)).scalar() == count + 1
        db.session.rollback()
        assert core(select(func.count()).select_from(Job)).scalar() == count
        assert core(select(Job.priority).where(Job.id == job_id)).scalar() != 7
        db.session.rollback()
