"""HMAC-SHA256 signatures over a canonical JSON encoding of a task payload."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SIGNATURE_FIELD = "sig"


def canonical(payload: dict[str, Any]) -> bytes:
    """Encode payload (without its signature) the same way on every machine."""
    body = {k: v for k, v in payload.items() if k != SIGNATURE_FIELD}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(payload: dict[str, Any], token: str) -> dict[str, Any]:
    """Return a copy of payload carrying its signature."""
    digest = hmac.new(token.encode(), canonical(payload), hashlib.sha256).hexdigest()
    return {**payload, SIGNATURE_FIELD: digest}


def verify(payload: dict[str, Any], token: str) -> bool:
    """Return True when payload carries a valid signature made with token."""
    given = payload.get(SIGNATURE_FIELD)
    if not isinstance(given, str) or not token:
        return False
    expected = hmac.new(token.encode(), canonical(payload), hashlib.sha256).hexdigest()
    return hmac.compare_digest(given, expected)
