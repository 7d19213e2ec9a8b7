"""Exceptions a transcode attempt ends with; the leader maps them to job states."""

from __future__ import annotations


class TranscodeError(Exception):
    """The conversion failed: message, FFmpeg exit code (or None) and the log tail."""

    def __init__(self, message: str, exit_code: int | None = None, log_tail: list[str] | None = None) -> None:
        super().__init__(message, exit_code, log_tail or [])
        self.message = message
        self.exit_code = exit_code
        self.log_tail = log_tail or []

    def __str__(self) -> str:
        return self.message


class TranscodeCancelled(TranscodeError):
    """The leader asked this attempt to stop; nothing was left behind."""


class TranscodeRefused(TranscodeError):
    """The follower would not run this payload (bad signature, path outside its roots)."""


class TranscodeInterrupted(TranscodeError):
    """The follower was shutting down and stopped this attempt."""
