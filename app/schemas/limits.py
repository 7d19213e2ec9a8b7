"""Request limits read at start-up: the body size (MAX_CONTENT_LENGTH) and ids the URL converters accept."""

from __future__ import annotations

import os
import sys
from typing import Any

from werkzeug.routing import IntegerConverter

from app.schemas.types import MAX_ID

DEFAULT_MAX_CONTENT_LENGTH = 1024 * 1024  # 1 MB: 5,000 paths of 200 bytes fit; a 10 MB spec does not
MIN_CONTENT_LENGTH = 64 * 1024


class IdConverter(IntegerConverter):
    """<int:...> in URLs: ids from 0 to 2**31-1, so a larger number is a 404, never a database overflow."""

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:  # noqa: A002 (werkzeug's name)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


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
