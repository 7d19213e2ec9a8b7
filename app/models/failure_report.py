"""What a failed job leaves for a person to read: the FFmpeg command, the input's facts and the whole stderr."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.job import utcnow


class FailureReport(db.Model):
    """The last failure of one job (replaced by a later one; deleted with the job)."""

    __tablename__ = "failure_reports"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    follower: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    argv: Mapped[list[str] | None] = mapped_column(JSON)
    input_facts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    stderr: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
