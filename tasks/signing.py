"""HMAC-SHA256 over canonical JSON: task payloads (bound to a task id and an expiry) and follower proofs."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from tasks.errors import TranscodeRefused

SIGNATURE_FIELD = "sig"
DEFAULT_PAYLOAD_TTL = 24 * 3600
# A follower renews its proof every few seconds; one older (or further ahead) than this is not fresh.
PROOF_MAX_AGE = 300.0
# Prefixed to what a follower proves, so a proof can never pass for a task signature or the reverse.
PROOF_LABEL = "frameshift follower proof"


class PayloadRefused(TranscodeRefused):
    """The follower would not run a payload it cannot trust: bad signature, another task's, or expired.

    The leader puts such a job back in the queue: the job is not at fault, the follower or the message is.
    """


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


def refusal(payload: Any, token: str, task_id: str, now: float | None = None) -> str | None:
    """Say why a follower must not run payload as task task_id, or None when it may.

    The signature covers task_id and expires, so a payload copied from the result backend and sent
    again under a new task id, or kept and sent after it expired, is refused like a forged one.
    """
    if not isinstance(payload, dict) or not verify(payload, token):
        return "the task signature is missing or wrong (SHARED_TOKEN must match on leader and follower)"
    if payload.get("task_id") != task_id:
        return f"the payload was signed for task {payload.get('task_id')!r}, not for this one (a replay)"
    expires = payload.get("expires")
    if isinstance(expires, bool) or not isinstance(expires, int | float):
        return "the payload carries no expiry (the leader is older than this follower)"
    now = time.time() if now is None else now
    if now > expires:
        return f"the payload expired {now - expires:.0f} s ago (TASK_PAYLOAD_TTL on the leader)"
    return None


def proof(name: str, timestamp: float, token: str) -> str:
    """Return a follower's proof that it holds token: an HMAC over its name and a timestamp (never the token)."""
    message = f"{PROOF_LABEL}\n{name}\n{timestamp!r}".encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()


def check_proof(name: str, info: dict[str, Any], token: str, now: float | None = None) -> str:
    """Judge the proof in a follower's advertisement: 'ok', 'missing', 'wrong' or 'stale'."""
    given, stamp = info.get("token_proof"), info.get("proof_at")
    if not isinstance(given, str) or isinstance(stamp, bool) or not isinstance(stamp, int | float):
        return "missing"
    if not token or not hmac.compare_digest(given, proof(name, stamp, token)):
        return "wrong"
    now = time.time() if now is None else now
    return "ok" if abs(now - stamp) <= PROOF_MAX_AGE else "stale"
