"""Request limits read at start-up: the body size (MAX_CONTENT_LENGTH) and ids the URL converters accept."""

from __future__ import annotations

import os
import sys
from typing import Any

from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from app.schemas.types import MAX_ID

DEFAULT_MAX_CONTENT_LENGTH = 1024 * 1024  # 1 MB: 5,000 paths of 200 bytes fit; a 10 MB spec does not
MIN_CONTENT_LENGTH = 64 * 1024


class IdConverter(IntegerConverter):
    """<int:...> in URLs: an id over 2**31-1 is a 404 (no such row), never a database overflow."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if number > MAX_ID:
            raise NotFound(f"{value[:30]} is larger than any id (at most {MAX_ID})")
        return number


def request_limits(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Return MAX_CONTENT_LENGTH (bytes) from the overrides or the environment; refuse a bad value in one line."""
    env = os.environ if environ is None else environ
    raw = (overrides or {}).get("MAX_CONTENT_LENGTH", env.get("MAX_CONTENT_LENGTH") or DEFAULT_MAX_CONTENT_LENGTH)
    try:
        value = int(raw)
        if value < MIN_CONTENT_LENGTH:
            raise ValueError
    except (TypeError, ValueError):
        problem = f"MAX_CONTENT_LENGTH={raw!r}: must be a whole number of bytes, at least {MIN_CONTENT_LENGTH}"
        if overrides is not None:
            from app.config import ConfigError

            raise ConfigError([problem]) from None
        print(f"frameshift: configuration problem: {problem}", file=sys.stderr)
        raise SystemExit(2) from None
    return {"MAX_CONTENT_LENGTH": value}
