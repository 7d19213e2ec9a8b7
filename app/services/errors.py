"""Errors services raise; the web layer turns them into JSON or page messages."""

from __future__ import annotations


class ServiceError(Exception):
    """A request that cannot be done, with the HTTP status that fits and the field at fault."""

    status = 400

    def __init__(self, message: str, field: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if status is not None:
            self.status = status


class NotFound(ServiceError):
    """No such job (or follower, preset)."""

    status = 404


class Conflict(ServiceError):
    """The job is not in a state that allows this."""

    status = 409
