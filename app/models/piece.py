"""The pieces of a split job: its plan, each video piece, the audio piece and the join, one row each."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.job import Job, JobStatus, _iso, utcnow


class PieceKind(str, enum.Enum):
    """What a piece's task does (its Celery task is split.<kind>, video: split.piece)."""

    PLAN = "plan"
    VIDEO = "video"
    AUDIO = "audio"
    JOIN = "join"

    @property
    def task_name(self) -> str:
        """Return the Celery task that runs this kind of piece."""
        return "split.piece" if self is PieceKind.VIDEO else f"split.{self.value}"


# Pieces use the job statuses: queued -> dispatched -> running -> succeeded | failed | cancelled.
PIECE_ACTIVE = (JobStatus.DISPATCHED.value, JobStatus.RUNNING.value)
PIECE_FINAL = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)
KIND_ORDER = {"plan": 0, "video": 1, "audio": 2, "join": 3}


class Piece(db.Model):
    """One task of a split job, dispatched just in time like a job."""

    __tablename__ = "pieces"
    __table_args__ = (
        Index("ix_pieces_job", "job_id", "kind", "index"),
        Index("ix_pieces_status_follower", "status", "follower"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    index: Mapped[int] = mapped_column(Integer, default=0)
    start: Mapped[float | None] = mapped_column(Float)
    end: Mapped[float | None] = mapped_column(Float)
    frames: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    follower: Mapped[str | None] = mapped_column(String(255))
    task_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # times dispatched
    failures: Mapped[int] = mapped_column(Integer, default=0)  # failed attempts (automatic retries used)
    percent: Mapped[float] = mapped_column(Float, default=0.0)
    fps: Mapped[float | None] = mapped_column(Float)
    speed: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    progress_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    job: Mapped[Job] = relationship()

    @property
    def kind_enum(self) -> PieceKind:
        """Return the kind as an enum."""
        return PieceKind(self.kind)

    @property
    def order(self) -> tuple[int, int]:
        """Return the piece's place in its job: plan, video pieces, audio, join."""
        return KIND_ORDER[self.kind], self.index

    @property
    def seconds(self) -> float | None:
        """Return the media seconds a video piece covers (None for the last piece before its end is known)."""
        if self.start is None or self.end is None:
            return None
        return max(self.end - self.start, 0.0)

    @property
    def label(self) -> str:
        """Return how the UI and error messages name the piece."""
        return f"piece {self.index}" if self.kind == PieceKind.VIDEO.value else f"the {self.kind} piece"

    def to_dict(self) -> dict[str, Any]:
        """Return the piece as JSON values."""
        return {
            "kind": self.kind,
            "index": self.index,
            "label": self.label,
            "start": self.start,
            "end": self.end,
            "frames": self.frames,
            "status": self.status,
            "follower": self.follower,
            "task_id": self.task_id,
            "attempts": self.attempts,
            "failures": self.failures,
            "percent": round(self.percent or 0.0, 2),
            "fps": self.fps,
            "speed": self.speed,
            "error": self.error,
            "dispatched_at": _iso(self.dispatched_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
        }
