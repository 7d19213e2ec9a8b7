"""Statistics: one fact row per finished job and a daily roll-up of them, so /api/stats never scans jobs."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class JobStat(db.Model):
    """What one finished job contributes to the statistics (kept when the job row is cleared or deleted)."""

    __tablename__ = "job_stats"
    __table_args__ = (
        Index("ix_job_stats_day", "day"),
        Index("ix_job_stats_reason", "reason", "job_id"),
    )

    job_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(16))
    folder: Mapped[str] = mapped_column(String(255))
    follower: Mapped[str] = mapped_column(String(255))
    target: Mapped[str] = mapped_column(String(32))
    preset: Mapped[str] = mapped_column(String(32))
    codec_in: Mapped[str] = mapped_column(String(32))
    codec_out: Mapped[str] = mapped_column(String(32))
    container_in: Mapped[str] = mapped_column(String(16))
    container_out: Mapped[str] = mapped_column(String(16))
    input_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    output_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    ratio: Mapped[float | None] = mapped_column(Float)
    media_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    work_seconds: Mapped[float | None] = mapped_column(Float)
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    fps: Mapped[float | None] = mapped_column(Float)
    wait_bucket: Mapped[int | None] = mapped_column(Integer)
    work_bucket: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(200))


class _Sums:
    """The keys and sums a roll-up row holds (one day or one month of one dimension)."""

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dim: Mapped[str] = mapped_column(String(16), primary_key=True)
    key1: Mapped[str] = mapped_column(String(255), primary_key=True)
    key2: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)
    jobs: Mapped[int] = mapped_column(Integer, default=0)
    input_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    output_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    ratio_sum: Mapped[float] = mapped_column(Float, default=0.0)
    ratio_n: Mapped[int] = mapped_column(Integer, default=0)
    media_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    work_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    fps_sum: Mapped[float] = mapped_column(Float, default=0.0)
    fps_n: Mapped[int] = mapped_column(Integer, default=0)


class StatsDaily(_Sums, db.Model):
    """Sums of job_stats per day and one dimension (folder, follower, codec, ...): what /api/stats reads."""

    __tablename__ = "stats_daily"
    __table_args__ = (Index("ix_stats_daily_dim_day", "dim", "day"),)


class StatsMonthly(_Sums, db.Model):
    """The daily sums added up per calendar month (day is the 1st): a long period reads these for whole months."""

    __tablename__ = "stats_monthly"
