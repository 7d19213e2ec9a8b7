"""The split-job tasks: thin adapters around tasks/split_run.py (docs/split.md lists their payloads).

Each takes a signed payload exactly like transcode.run (verified, claimed once, stoppable, reporting
progress and renewing its lease): split.plan (light), split.piece, split.audio, split.join, split.cleanup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from tasks.celery_app import celery_app
from tasks.errors import TranscodeCancelled, TranscodeInterrupted
from tasks.split_join import run_cleanup, run_join
from tasks.split_run import run_audio, run_piece, run_plan
from tasks.transcode import open_attempt, run_body

log = logging.getLogger("frameshift.task")
OPTIONS = {
    "bind": True,
    "ignore_result": False,
    "acks_late": False,
    "track_started": True,
    "throws": (TranscodeCancelled, TranscodeInterrupted),
}


def _light(task: Any, payload: dict[str, Any], body: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """Open the attempt for a task that starts no long FFmpeg (plan, cleanup)."""
    conf, _stop, reporter = open_attempt(task, payload)
    try:
        return body(payload, conf)
    finally:
        reporter.close()


@celery_app.task(name="split.plan", **OPTIONS)
def plan(self, payload: dict[str, Any]) -> dict[str, Any]:
    """Read the input's keyframes and return the pieces (and why not, for a spec that needs the whole file)."""
    return _light(self, payload, run_plan)


@celery_app.task(name="split.piece", **OPTIONS)
def piece(self, payload: dict[str, Any]) -> dict[str, Any]:
    """Encode one piece of a split job into its pieces folder."""
    return run_body(self, payload, run_piece, f"encoding piece {payload.get('index')}")


@celery_app.task(name="split.audio", **OPTIONS)
def audio(self, payload: dict[str, Any]) -> dict[str, Any]:
    """Convert a split job's audio and subtitles once."""
    return run_body(self, payload, run_audio, "converting the audio")


@celery_app.task(name="split.join", **OPTIONS)
def join(self, payload: dict[str, Any]) -> dict[str, Any]:
    """Join a split job's pieces, verify, rename into place and remove the pieces."""
    return run_body(self, payload, run_join, "joining the pieces")


@celery_app.task(name="split.cleanup", **OPTIONS)
def cleanup(self, payload: dict[str, Any]) -> dict[str, Any]:
    """Remove what a split job left beside its output (its pieces folder, stray private folders)."""
    return _light(self, payload, run_cleanup)
