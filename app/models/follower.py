"""Followers as the monitor last saw them (written by the monitor, read by the web)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.job import _iso, utcnow


class Follower(db.Model):
    """A Celery worker that runs conversions."""

    __tablename__ = "followers"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    online: Mapped[bool] = mapped_column(default=False)
    concurrency: Mapped[int] = mapped_column(Integer, default=1)
    busy: Mapped[int] = mapped_column(Integer, default=0)
    encoders: Mapped[list[str]] = mapped_column(JSON, default=list)
    ffmpeg_version: Mapped[str | None] = mapped_column(String(128))
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    draining: Mapped[bool] = mapped_column(default=False)
    jobs_done: Mapped[int] = mapped_column(Integer, default=0)
    jobs_failed: Mapped[int] = mapped_column(Integer, default=0)
    last_heartbeat: Mapped[datetime | None] = mapped_column(DateTime)
    first_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        """Return the follower as JSON values."""
        return {
            "name": self.name,
            "online": self.online,
            "concurrency": self.concurrency,
            "busy": self.busy,
            "encoders": self.encoders or [],
            "ffmpeg_version": self.ffmpeg_version,
            "draining": self.draining,
            "jobs_done": self.jobs_done,
            "jobs_failed": self.jobs_failed,
            "last_heartbeat": _iso(self.last_heartbeat),
            "info": self.info or {},
        }
