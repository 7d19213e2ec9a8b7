"""Each request issue 15 found answering 500 now gets a 4xx that names the field (Flask client, real database)."""

from __future__ import annotations

import base64
import json

import pytest

LONG_NAMES = {"300": "n" * 300, "5000": "n" * 5000}


def refused(response, status: int = 400, field: str | None = None) -> dict:
    """Assert a JSON refusal with error and field; return its body."""
    body = response.get_json()
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert isinstance(body, dict) and isinstance(body["error"], str) and "field" in body, body
    assert body["field"] == field, body
    assert "file name too long" not in body["error"].lower(), body
    return body


def raw(client, method: str, url: str, text: str):
    return client.open(url, method=method, data=text.encode("utf-8", "surrogatepass"), content_type="application/json")


def path_cases(root: str, name: str):
    """Every JSON path field, with a path whose last name is `name`; (method, url, body, field)."""
    long_path = f"{root}/{name}"
    return [
        ("POST", "/api/jobs", {"inputs": [long_path]}, "inputs"),
        ("POST", "/api/jobs", {"input": long_path}, "input"),
        ("POST", "/api/jobs", {"inputs": [f"{root}/a.mp4"], "spec": {"output_dir": long_path}}, "output_dir"),
        ("POST", "/api/spec/preview", {"input": long_path}, "input"),
        ("POST", "/api/spec/preview", {"output": long_path}, "output"),
        ("POST", "/api/spec/preview", {"spec": {"output_dir": long_path}}, "output_dir"),
        ("POST", "/api/files/durations", {"paths": [long_path]}, "paths"),
        ("POST", "/api/files/selection", {"add": [long_path]}, "add"),
        ("POST", "/api/files/selection", {"remove": [long_path]}, "remove"),
        ("POST", "/api/files/selection", {"folders": [long_path]}, "folders"),
        ("POST", "/api/files/selection", {"matching": {"path": long_path}}, "matching.path"),
        ("POST", "/api/presets", {"name": "p", "spec": {"output_dir": long_path}}, "output_dir"),
    ]


@pytest.mark.parametrize("length", sorted(LONG_NAMES))
def test_a_long_path_component_in_any_path_field_is_a_400_naming_it(client, clips, length):
    root = str(clips["root"])
    for method, url, body, field in path_cases(root, LONG_NAMES[length]):
        answer = refused(client.open(url, method=method, json=body), 400, field)
        assert "255 bytes" in answer["error"] or "4096" in answer["error"], answer
    listing = refused(client.get("/api/files", query_string={"path": f"{root}/{LONG_NAMES[length]}"}), 400, "path")
    assert "File name too long" not in listing["error"]
    form = {"output_location": "folder", "output_dir": f"{root}/{LONG_NAMES[length]}"}
    refused(client.post("/api/configure/preview", data=form), 400, "output_dir")
    page = client.post("/settings/defaults", data={"output_dir": f"{root}/{LONG_NAMES[length]}"})
    assert page.status_code == 400 and "output_dir" in page.get_data(as_text=True)


def test_the_path_rules_themselves_never_raise_file_name_too_long(clips, tmp_path):
    from tasks.paths import PathError, plan_output, resolve_inside

    root = clips["root"]
    for name in ("x" * 300, "x" * 5000, "a/" * 3000):
        with pytest.raises(PathError):
            resolve_inside(str(root / name), [root])
    # A source whose name fills 255 bytes exists, but NAME_converted.mkv cannot: said, not raised as OSError.
    source = tmp_path / ("s" * 251 + ".mp4")
    source.write_bytes(b"x")
    with pytest.raises(PathError, match="longer than 255 bytes"):
        plan_output(source, "mkv", "rename")


@pytest.mark.parametrize("value", ['"h265"', '["crf"]', "12", "true"])
def test_spec_and_spec_extra_of_the_wrong_type_are_a_400(client, clips, value):
    source = json.dumps(str(clips["short"]))
    refused(raw(client, "POST", "/api/jobs", f'{{"inputs": [{source}], "spec": {value}}}'), 400, "spec")
    body = f'{{"inputs": [{source}], "spec": {{"extra": {value}}}}}'
    extra = refused(raw(client, "POST", "/api/jobs", body), 400, "extra")
    assert extra["error"].startswith("spec.extra: "), extra
    refused(raw(client, "POST", "/api/spec/preview", f'{{"spec": {value}}}'), 400, "spec")
    refused(raw(client, "POST", "/api/presets", f'{{"name": "p", "spec": {value}}}'), 400, "spec")


@pytest.mark.parametrize("value", ['"abc"', "[1]", "1e400", str(10**30), "true", "1.5"])
def test_priority_that_is_not_a_bounded_whole_number_is_a_400(client, clips, value):
    source = json.dumps(str(clips["short"]))
    refused(raw(client, "POST", "/api/jobs", f'{{"inputs": [{source}], "priority": {value}}}'), 400, "priority")


def test_crf_1e400_and_other_spec_numbers_out_of_range_are_a_400(client, clips):
    source = json.dumps(str(clips["short"]))
    for field, value in (("crf", "1e400"), ("crf", "-1e400"), ("threads", str(10**30)), ("max_height", "NaN")):
        body = f'{{"inputs": [{source}], "spec": {{"{field}": {value}}}}}'
        refused(raw(client, "POST", "/api/jobs", body), 400, field)
    refused(raw(client, "POST", "/api/spec/preview", '{"spec": {"crf": 1e400}}'), 400, "crf")


@pytest.mark.parametrize("page", ["1e20", "100000000000000000000", "-1", "0", "x"])
def test_page_out_of_range_is_a_400(client, page):
    refused(client.get(f"/api/jobs?page={page}"), 400, "page")
    assert client.get(f"/?page={page}").status_code == 400  # the queue page says so in the page


def cursor(*items) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(items)).encode()).decode().rstrip("=")


def test_a_cursor_holding_1e400_or_other_junk_is_a_400(client):
    for bad in (
        base64.urlsafe_b64encode(b'[false, "a", 1e400, "name"]').decode(),
        cursor(False, "a", 10**30, "name"),
        cursor(False, "a", [1], "name"),
        cursor(True, "a", True, "name"),
        base64.urlsafe_b64encode(b"[" * 100_000).decode(),
    ):
        refused(client.get("/api/files", query_string={"cursor": bad}), 400, "cursor")
        assert client.get("/files", query_string={"cursor": bad}).status_code == 400


@pytest.mark.parametrize("value", ["3", '"failed"', '{"a": 1}', '["queued"]', '["failed", 1]'])
def test_clear_with_statuses_that_are_not_a_list_of_final_states_is_a_400(client, value):
    refused(raw(client, "POST", "/api/jobs/clear", f'{{"statuses": {value}}}'), 400, "statuses")


def test_a_lone_surrogate_in_a_file_name_is_a_400(client, clips):
    name = json.dumps(str(clips["root"]))[:-1] + '/a\\ud800b.mp4"'
    refused(raw(client, "POST", "/api/jobs", f'{{"inputs": [{name}]}}'), 400, "inputs")
    refused(raw(client, "POST", "/api/files/selection", f'{{"add": [{name}]}}'), 400, "add")
    refused(raw(client, "POST", "/api/files/durations", f'{{"paths": [{name}]}}'), 400, "paths")
    refused(raw(client, "POST", "/api/presets", '{"name": "a\\udc80"}'), 400, "name")


@pytest.mark.parametrize("url", ["/api/jobs", "/api/spec/preview", "/api/files/selection", "/api/notifications"])
def test_json_nested_100000_deep_or_broken_is_a_400_with_field_null(client, url):
    method = "PUT" if url == "/api/notifications" else "POST"
    deep_array, deep_object = "[" * 100_000 + "]" * 100_000, '{"a": ' * 100_000 + "1" + "}" * 100_000
    for text in (deep_array, deep_object, "{not json", "[1, 2]", "\n", "null"):
        body = refused(raw(client, method, url, text), 400, None)
        assert "JSON" in body["error"], (text[:20], body)
    body = refused(client.open(url, method=method, data=b"\xff\xfe{", content_type="application/json"), 400, None)
    assert "UTF-8" in body["error"]


def test_unknown_top_level_and_spec_fields_are_a_400_naming_them(client, clips):
    source = str(clips["short"])
    answer = refused(client.post("/api/jobs", json={"inputs": [source], "inptus": [source]}), 400, "inptus")
    assert "inputs" in answer["error"]  # says which fields it takes
    refused(client.post("/api/jobs", json={"inputs": [source], "spec": {"crff": 20}}), 400, "crff")
    refused(client.post(f"/api/jobs/{1}/move", json={"where": "top", "when": "now"}), 400, "when")
    refused(client.post("/api/jobs/clear", json={"status": ["failed"]}), 400, "status")
    refused(client.get("/api/jobs?pgae=2"), 400, "pgae")
    refused(client.put("/api/notifications", json={"url": []}), 400, "url")
    refused(client.post("/api/configure/preview", data={"crf": "20", "colour": "red"}), 400, "colour")


def test_spec_extra_is_bounded(client, clips):
    source = str(clips["short"])
    for extra, words in (
        ({"note": "x" * 100_000}, "1024"),
        ({f"k{i}": 1 for i in range(40)}, "32"),
        ({"k" * 65: 1}, "64"),
        ({"nested": {"a": 1}}, "values are text"),
    ):
        answer = refused(client.post("/api/jobs", json={"inputs": [source], "spec": {"extra": extra}}), 400, "extra")
        assert words in answer["error"], answer
    created = client.post("/api/jobs", json={"inputs": [source], "spec": {"extra": {"note": "ok", "n": 2}}})
    assert created.status_code == 201
    detail = client.get(f"/api/jobs/{created.get_json()['jobs'][0]['id']}").get_json()
    assert detail["spec"]["extra"] == {"note": "ok", "n": 2}


def test_a_body_over_max_content_length_is_a_413_json_error(client, clips):
    big = {"inputs": [str(clips["short"])], "spec": {"extra": {"note": "x" * (10 * 1024 * 1024)}}}
    answer = refused(client.post("/api/jobs", json=big), 413, None)
    assert "MAX_CONTENT_LENGTH" in answer["error"]
    form = refused(client.post("/api/configure/preview", data={"custom_args": "x" * (2 * 1024 * 1024)}), 413, None)
    assert "MAX_CONTENT_LENGTH" in form["error"]


def test_max_content_length_is_configurable_and_checked_at_start(tmp_path, redis_server, clips):
    from app import create_app
    from app.config import ConfigError

    settings = {
        "FRAME_SHIFT_HOME": str(clips["root"]),
        "DATA_DIR": str(tmp_path / "data"),
        "REDIS_URL": redis_server.url,
        "TESTING": True,
        "AUTH_DISABLED": True,
    }
    small = create_app({**settings, "MAX_CONTENT_LENGTH": 70_000}).test_client()
    refused(small.post("/api/jobs", json={"inputs": ["x" * 200] * 400}), 413, None)
    assert create_app(settings).config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    with pytest.raises(ConfigError, match="MAX_CONTENT_LENGTH"):
        create_app({**settings, "MAX_CONTENT_LENGTH": "lots"})


def test_every_json_4xx_has_error_and_field(client):
    refused(client.get("/api/jobs/999999"), 404, None)
    for method, url in (
        ("GET", f"/api/jobs/{10**20}"),
        ("DELETE", f"/api/jobs/{2**31}"),
        ("PUT", f"/api/presets/{2**31}"),
    ):
        answer = refused(client.open(url, method=method), 404, None)  # beyond any database id: not an overflow
        assert "larger than any id" in answer["error"]
    refused(client.get("/api/nothing-here"), 404, None)
    refused(client.put("/api/jobs"), 405, None)
    refused(client.post("/api/jobs", data="inputs=a", content_type="text/plain"), 415, None)
    refused(client.post("/api/jobs/999999/move", json={"where": "sideways"}), 400, "where")


def test_refusals_of_the_login_guard_have_error_and_field_too(tmp_path, redis_server, clips):
    from app import create_app

    flask_app = create_app(
        {
            "FRAME_SHIFT_HOME": str(clips["root"]),
            "DATA_DIR": str(tmp_path / "data"),
            "REDIS_URL": redis_server.url,
            "TESTING": True,
            "FRAME_SHIFT_ADMIN_PASSWORD": "a-long-test-password",
        }
    )
    client = flask_app.test_client()
    refused(client.get("/api/jobs"), 401, None)
    refused(client.get("/api/jobs", headers={"Authorization": "Bearer not-a-token"}), 401, None)
