"""Schemas of the queue's bulk actions (POST /api/jobs/cancel-all, /api/jobs/retry-failed)."""

from __future__ import annotations

from pydantic import Field, StrictBool

from app.schemas.inputs import Strict


class CancelAll(Strict):
    """POST /api/jobs/cancel-all: cancel every unfinished job (both kinds when nothing is said)."""

    waiting: StrictBool | None = Field(None, description="Cancel waiting jobs (default true).")
    running: StrictBool | None = Field(None, description="Stop dispatched and running jobs (default true).")


class RetryFailed(Strict):
    """POST /api/jobs/retry-failed: queue every failed job again (jobs whose input is gone are skipped)."""

    cancelled: StrictBool | None = Field(None, description="Retry cancelled jobs too (default false).")
