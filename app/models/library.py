"""Libraries: watched folders with a spec, rules and an output policy, and what is remembered of their files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.job import utcnow


class Library(db.Model):
    """A folder inside the media roots that Frame Shift keeps converted."""

    __tablename__ = "libraries"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    folder: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    preset: Mapped[str | None] = mapped_column(String(120))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    output_policy: Mapped[str] = mapped_column(String(16), default="beside")
    output_dir: Mapped[str | None] = mapped_column(Text)
    recycle_days: Mapped[int] = mapped_column(Integer, default=7)
    min_saving_percent: Mapped[float] = mapped_column(Float, default=5.0)  # 0: keep any smaller-or-equal output
    scan_minutes: Mapped[int] = mapped_column(Integer, default=60)
    watch: Mapped[str] = mapped_column(String(16), default="events")
    enabled: Mapped[bool] = mapped_column(default=True)
    schedule: Mapped[list[int] | None] = mapped_column(JSON)  # 168 hour flags (Mon 00h first); None: any time
    problem: Mapped[str | None] = mapped_column(Text)  # the last scan's trouble (folder gone, unreadable)
    last_scan_at: Mapped[datetime | None] = mapped_column(DateTime)
    scan_requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    def to_dict(self) -> dict[str, Any]:
        """Return the library as JSON values."""
        return {
            "id": self.id,
            "name": self.name,
            "folder": self.folder,
            "spec": self.spec,
            "preset": self.preset,
            "rules": self.rules,
            "output_policy": self.output_policy,
            "output_dir": self.output_dir,
            "recycle_days": self.recycle_days,
            "min_saving_percent": self.min_saving_percent,
            "scan_minutes": self.scan_minutes,
            "watch": self.watch,
            "enabled": self.enabled,
            "schedule": self.schedule,
            "problem": self.problem,
            "last_scan_at": self.last_scan_at.isoformat() + "Z" if self.last_scan_at else None,
        }


class LibraryFile(db.Model):
    """One file a library has seen: where it is, what it looked like, and what became of it."""

    __tablename__ = "library_files"
    __table_args__ = (
        Index("ix_library_files_path", "library_id", "path", unique=True),
        Index("ix_library_files_fingerprint", "library_id", "fingerprint", "size"),
        Index("ix_library_files_state", "library_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    # pending (waiting for facts or the hold time) | queued | converted | skipped | failed
    state: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(Integer)
    seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class MediaFacts(db.Model):
    """What a follower's probe read from one file, valid while its size and mtime are unchanged."""

    __tablename__ = "media_facts"

    path: Mapped[str] = mapped_column(String(4096), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    container: Mapped[str | None] = mapped_column(String(64))
    video_codec: Mapped[str | None] = mapped_column(String(32))
    bit_depth: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column(Float)
    bitrate: Mapped[int | None] = mapped_column(BigInteger)
    audio_codec: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    probed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Replacement(db.Model):
    """An original that a library's output replaced: where it waits in the recycle folder, until when."""

    __tablename__ = "replacements"

    id: Mapped[int] = mapped_column(primary_key=True)
    library_id: Mapped[int | None] = mapped_column(Integer, index=True)
    job_id: Mapped[int] = mapped_column(Integer, index=True)
    original_path: Mapped[str] = mapped_column(Text)
    recycled_path: Mapped[str | None] = mapped_column(Text)
    output_path: Mapped[str] = mapped_column(Text)
    original_size: Mapped[int] = mapped_column(BigInteger)
    output_size: Mapped[int] = mapped_column(BigInteger)
    # replacing | replaced | undoing | undone | purged | failed (app/services/library_replace.py)
    state: Mapped[str] = mapped_column(String(16), default="replaced", index=True)
    replaced_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime)
    kept_path: Mapped[str | None] = mapped_column(Text)  # where an undo put the output (NAME_converted.EXT)
    note: Mapped[str | None] = mapped_column(Text)  # why it failed, or what the person should know
