"""Jobs and their attempts: the queue lives here, not in Redis."""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db


def utcnow() -> datetime:
    """Return the current time in UTC (naive, as stored)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class JobStatus(str, enum.Enum):
    """Where a job is in its life."""

    QUEUED = "queued"
    DISPATCHED = "dispatched"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """Return True for the three final states."""
        return self in FINISHED


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
ACTIVE = frozenset({JobStatus.DISPATCHED, JobStatus.RUNNING})
ACTIVE_VALUES = tuple(sorted(status.value for status in ACTIVE))  # the same, as stored: for queries


class Job(db.Model):
    """One input file to convert with one spec."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_queue", "status", "priority", "position"),
        Index("ix_jobs_follower_status", "follower", "status"),
        Index("ix_jobs_updated_at", "updated_at"),  # statistics read what changed since their last refresh
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    batch_id: Mapped[str | None] = mapped_column(String(36), index=True)
    input_path: Mapped[str] = mapped_column(Text)
    output_path: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    argv: Mapped[list[str] | None] = mapped_column(JSON)
    required_encoder: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value, index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[float] = mapped_column(Float, default=0.0)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    task_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    follower: Mapped[str | None] = mapped_column(String(255))
    waiting_reason: Mapped[str | None] = mapped_column(Text)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    percent: Mapped[float] = mapped_column(Float, default=0.0)
    fps: Mapped[float | None] = mapped_column(Float)
    speed: Mapped[float | None] = mapped_column(Float)
    eta: Mapped[float | None] = mapped_column(Float)
    out_size: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column(Float)
    input_size: Mapped[int | None] = mapped_column(Integer)
    output_size: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    log_tail: Mapped[list[str] | None] = mapped_column(JSON)
    # Split jobs (docs/split.md): None = not decided yet, "whole", "split" (pieces in the pieces table), "done".
    split_state: Mapped[str | None] = mapped_column(String(8))
    split_note: Mapped[str | None] = mapped_column(Text)  # why it runs whole, or how its pieces stand
    split_plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # split.plan's result, minus the pieces
    cleared: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    progress_at: Mapped[datetime | None] = mapped_column(DateTime)

    attempts: Mapped[list[Attempt]] = relationship(
        back_populates="job", order_by="Attempt.number", cascade="all, delete-orphan"
    )
    pieces: Mapped[list[Piece]] = relationship(viewonly=True, order_by="Piece.id")

    @property
    def status_enum(self) -> JobStatus:
        """Return the status as an enum."""
        return JobStatus(self.status)

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        """Return the job as JSON values (full adds spec, argv, log and attempts)."""
        data = {
            "id": self.id,
            "name": self.name,
            "batch_id": self.batch_id,
            "status": self.status,
            "input_path": self.input_path,
            "output_path": self.output_path,
            "priority": self.priority,
            "position": self.position,
            "attempt": self.attempt,
            "follower": self.follower,
            "task_id": self.task_id,
            "percent": round(self.percent or 0.0, 2),
            "fps": self.fps,
            "speed": self.speed,
            "eta": self.eta,
            "out_size": self.out_size,
            "input_size": self.input_size,
            "output_size": self.output_size,
            "duration": self.duration,
            "exit_code": self.exit_code,
            "error": self.error,
            "waiting_reason": self.waiting_reason,
            "split": self.split_state == "split" or self.split_state == "done",
            "split_note": self.split_note,
            "cancel_requested": self.cancel_requested_at is not None,
            "created_at": _iso(self.created_at),
            "dispatched_at": _iso(self.dispatched_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
        }
        if full:
            data.update(
                spec=self.spec,
                argv=self.argv,
                required_encoder=self.required_encoder,
                result=self.result,
                log_tail=self.log_tail or [],
                attempts=[a.to_dict() for a in self.attempts],
                pieces=[p.to_dict() for p in sorted(self.pieces, key=lambda p: p.order)] if self.split_state else [],
                updated_at=_iso(self.updated_at),
            )
        return data


class Attempt(db.Model):
    """One try at running a job: its own Celery task id, follower and outcome."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    task_id: Mapped[str] = mapped_column(String(64), unique=True)
    follower: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.DISPATCHED.value)
    error: Mapped[str | None] = mapped_column(Text)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    dispatched_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    job: Mapped[Job] = relationship(back_populates="attempts")

    def to_dict(self) -> dict[str, Any]:
        """Return the attempt as JSON values."""
        return {
            "number": self.number,
            "task_id": self.task_id,
            "follower": self.follower,
            "status": self.status,
            "error": self.error,
            "exit_code": self.exit_code,
            "dispatched_at": _iso(self.dispatched_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


from app.models.piece import Piece  # noqa: E402,F401  (registered with the jobs it belongs to)
