"""Property-based fuzzing of every operation in /api/openapi.json against the real web process.

Schemathesis generates requests from the served document, valid (positive) and invalid (negative), a
bounded number per operation (FUZZ_EXAMPLES, default 12 each). Every answer must be below 500; every 4xx
that is JSON (all of /api/) must carry `error` and `field`; the web's log must hold no traceback.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection
from schemathesis.core.failures import FailureGroup

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
# An endless event stream has no answer to check; the two "send a test notification now" buttons are left out
# so that a URL the fuzzer managed to store is never contacted (tests send nothing off this machine).
SKIP = {("GET", "/api/stream"), ("POST", "/api/notifications/test"), ("POST", "/settings/notifications/test")}
# gunicorn refuses a request line longer than this itself, with its own HTML 400, before the app sees it.
REQUEST_LINE_LIMIT = 4094


def problem(response) -> str | None:
    """Return what is wrong with one answer, or None."""
    status, kind = response.status_code, response.headers.get("Content-Type", "")
    line = len(response.request.method) + len(response.request.path_url) + len(" HTTP/1.1") + 1
    if status == 400 and line > REQUEST_LINE_LIMIT and "Request Line is too large" in response.text:
        return None
    if status >= 500:
        return f"{status}: {response.text[:300]}"
    if 400 <= status < 500 and (response.request.path_url.startswith("/api/") or "json" in kind):
        try:
            body = json.loads(response.text)
        except ValueError:
            return f"{status} that is not JSON: {response.text[:200]}"
        if not isinstance(body, dict) or not isinstance(body.get("error"), str) or "field" not in body:
            return f"{status} without error and field: {body}"
        if body["field"] is not None and not isinstance(body["field"], str):
            return f"{status} with a field that is not a name: {body}"
    return None


def fuzz(operation, mode: GenerationMode, base_url: str, found: list[str]) -> int:
    """Send EXAMPLES generated cases of one operation; record problems; return how many were sent."""
    sent = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        response = case.call(base_url=base_url, timeout=30, allow_redirects=False)
        sent.append(1)
        wrong = problem(response)
        if wrong is None and mode is GenerationMode.NEGATIVE and response.status_code < 400:
            # Schemathesis knows when "negative" data is not really invalid once serialised; ask it.
            try:
                case.validate_response(response, checks=[negative_data_rejection])
            except FailureGroup as exc:
                wrong = f"{response.status_code}: accepted a request its schema refuses: {str(exc)[:300]}"
        if wrong:
            found.append(
                f"{operation.method.upper()} {operation.path} ({mode.value}) {case.as_curl_command()}: {wrong}"
            )

    run()
    return len(sent)


@pytest.mark.timeout(240)
def test_every_operation_answers_4xx_json_never_5xx(web):
    status, document = web.json("GET", "/api/openapi.json")
    assert status == 200
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40, [f"{o.method} {o.path}" for o in operations]
    found: list[str] = []
    counts: dict[str, int] = {}
    for operation in operations:
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                counts[f"{operation.method.upper()} {operation.path} {mode.value}"] = fuzz(
                    operation, mode, web.url, found
                )
            except Exception as exc:  # noqa: BLE001  (a schema schemathesis cannot generate for is a finding too)
                if "Unsatisfiable" in type(exc).__name__:
                    continue
                found.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {type(exc).__name__}: {exc}")
    assert not found, "\n".join(found[:30])
    assert sum(counts.values()) >= len(operations) * 3, counts  # the fuzzing really sent requests
    assert web.tracebacks() == []
