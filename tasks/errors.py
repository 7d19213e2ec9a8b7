"""Exceptions a transcode attempt ends with; the leader maps them to job states."""

from __future__ import annotations

from typing import Any


class TranscodeError(Exception):
    """The conversion failed: message, FFmpeg exit code (or None), the log tail, and whether another
    attempt (on another follower) may succeed where this one failed. The leader decides retries on
    `retryable`, never on the message's wording; all four travel through the result backend as args.

    A failure FFmpeg ran for also carries `report`: {"argv", "input" (ffprobe's facts), "stderr" (the whole
    stderr, bounded)}, as a fifth arg only when there is one, so results written before it still read (and
    four-arg errors look exactly as they did)."""

    def __init__(
        self,
        message: str,
        exit_code: int | None = None,
        log_tail: list[str] | None = None,
        retryable: bool = False,
        report: dict[str, Any] | None = None,
    ) -> None:
        args: tuple[Any, ...] = (message, exit_code, log_tail or [], retryable)
        super().__init__(*(args + ((report,) if report else ())))
        self.message = message
        self.exit_code = exit_code
        self.log_tail = log_tail or []
        self.retryable = bool(retryable)
        self.report = report if isinstance(report, dict) else None

    def __str__(self) -> str:
        return self.message


class TranscodeCancelled(TranscodeError):
    """The leader asked this attempt to stop; nothing was left behind."""


class TranscodeRefused(TranscodeError):
    """The follower would not run this payload (bad signature, path outside its roots)."""


class NotHere(TranscodeRefused):
    """This follower cannot see or write the files (its mount or path map): another follower may."""

    def __init__(
        self,
        message: str,
        exit_code: int | None = None,
        log_tail: list[str] | None = None,
        retryable: bool = True,
        report: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, exit_code, log_tail, retryable, report)


class TranscodeInterrupted(TranscodeError):
    """The follower was shutting down and stopped this attempt."""
