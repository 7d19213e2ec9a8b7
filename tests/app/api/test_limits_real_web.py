"""The issue's hostile requests against the real web process (gunicorn): 4xx JSON, and no traceback in its log."""

from __future__ import annotations

import json


def test_hostile_bodies_get_4xx_json_from_gunicorn_and_log_no_traceback(web, clips):
    source = json.dumps(str(clips["short"]))
    cases = [
        ("POST", "/api/jobs", ("[" * 100_000 + "]" * 100_000).encode(), 400, None),
        ("POST", "/api/jobs", f'{{"inputs": ["{clips["root"]}/{"n" * 5000}"]}}'.encode(), 400, "inputs"),
        ("POST", "/api/jobs", f'{{"inputs": ["{clips["root"]}/a\\ud800.mp4"]}}'.encode(), 400, "inputs"),
        ("POST", "/api/jobs", f'{{"inputs": [{source}], "priority": 1e400}}'.encode(), 400, "priority"),
        ("POST", "/api/jobs", f'{{"inputs": [{source}], "spec": "x"}}'.encode(), 400, "spec"),
        ("POST", "/api/jobs", f'{{"inputs": [{source}], "surprise": 1}}'.encode(), 400, "surprise"),
        ("POST", "/api/spec/preview", b'{"spec": 7}', 400, "spec"),
        ("POST", "/api/jobs/clear", b'{"statuses": 7}', 400, "statuses"),
        ("GET", "/api/jobs?page=1e20", None, 400, "page"),
        ("GET", f"/api/jobs/{10**20}", None, 404, None),
    ]
    for method, path, body, status, field in cases:
        got, kind, payload = web.send(method, path, body)
        assert got == status and "json" in kind, (path, got, payload[:300])
        answer = json.loads(payload)
        assert isinstance(answer["error"], str) and answer["field"] == field, (path, answer)
    assert web.tracebacks() == []


def test_ten_megabytes_in_spec_extra_is_a_413_json_error_and_nothing_is_stored(web, clips):
    before = web.json("GET", "/api/jobs")[1]["total"]
    note = "x" * (10 * 1024 * 1024)
    body = json.dumps({"inputs": [str(clips["short"])] * 3, "spec": {"extra": {"note": note}}}).encode()
    status, kind, payload = web.send("POST", "/api/jobs", body)
    assert status == 413 and "json" in kind, (status, payload[:300])
    answer = json.loads(payload)
    assert "MAX_CONTENT_LENGTH" in answer["error"] and answer["field"] is None
    assert web.json("GET", "/api/jobs")[1]["total"] == before
    assert web.tracebacks() == []


def test_the_openapi_document_is_served_by_the_real_process(web):
    status, document = web.json("GET", "/api/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.1")
    assert "/api/jobs" in document["paths"] and "/configure" in document["paths"]
