"""File-browser state: cached durations and the server-side selection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.job import utcnow


class MediaProbe(db.Model):
    """ffprobe's duration for one file, valid while its size and mtime are unchanged."""

    __tablename__ = "media_probes"

    path: Mapped[str] = mapped_column(String(4096), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    duration: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    probed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Selection(db.Model):
    """The files a browser session picked, kept on the server so the configure page survives reloads."""

    __tablename__ = "selections"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    paths: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow, index=True)
