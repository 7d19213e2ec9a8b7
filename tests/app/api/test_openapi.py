"""GET /api/openapi.json: every route, from the schemas the views validate with; every field bounded."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def document(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_every_route_and_method_is_in_the_document(app, document):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:int:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in document["paths"].get(path, {}), (method, path)


def test_request_bodies_and_queries_come_from_the_views_schemas(app, document):
    checked = 0
    for rule in app.url_map.iter_rules():
        accepts = getattr(app.view_functions[rule.endpoint], "accepts", None)
        if accepts is None:
            continue
        path = re.sub(r"<(?:int:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS", "GET"}:
            content = document["paths"][path][method.lower()]["requestBody"]["content"]
            for kind, model in (
                ("application/json", accepts.json),
                ("application/x-www-form-urlencoded", accepts.form),
            ):
                if model is None:
                    assert kind not in content
                    continue
                ref = content[kind]["schema"]["$ref"].rsplit("/", 1)[-1]
                assert ref == model.__name__
                properties = document["components"]["schemas"][ref]["properties"]
                assert set(properties) == set(model.model_fields), ref
                checked += 1
        if accepts.query is not None:
            operation = document["paths"][path]["get"]
            names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
            wire = {field.alias or name for name, field in accepts.query.model_fields.items()}  # ?from=, not from_
            assert names == wire, path
            checked += 1
    assert checked >= 15


def _bounded(schema: dict, where: str, problems: list[str]) -> None:
    """Record every string without a length limit, number without bounds, list without a size, open object."""
    if "$ref" in schema:
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for i, option in enumerate(schema.get(key, [])):
            _bounded(option, f"{where}/{key}/{i}", problems)
    kind = schema.get("type")
    if kind == "string" and "maxLength" not in schema and "enum" not in schema and "const" not in schema:
        problems.append(f"{where}: string without maxLength")
    if kind in ("integer", "number") and not ("minimum" in schema and "maximum" in schema) and "enum" not in schema:
        problems.append(f"{where}: {kind} without minimum and maximum")
    if kind == "array":
        if "maxItems" not in schema:
            problems.append(f"{where}: array without maxItems")
        _bounded(schema.get("items", {}), f"{where}/items", problems)
    if kind == "object":
        extra = schema.get("additionalProperties", True)
        if extra is not False and "maxProperties" not in schema:
            problems.append(f"{where}: object open to unknown fields")
        if isinstance(extra, dict):
            _bounded(extra, f"{where}/additionalProperties", problems)
        for name, prop in schema.get("properties", {}).items():
            _bounded(prop, f"{where}/{name}", problems)


def test_every_field_has_a_type_bounds_and_a_length_limit(document):
    problems: list[str] = []
    for name, schema in document["components"]["schemas"].items():
        if name != "Error":  # an answer, not a request
            _bounded(schema, name, problems)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation["parameters"]:
                _bounded(parameter["schema"], f"{method.upper()} {path} {parameter['name']}", problems)
    assert problems == []


def test_the_bounds_checker_itself_finds_unbounded_fields():
    problems: list[str] = []
    _bounded(
        {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}, "c": {"type": "array"}}},
        "T",
        problems,
    )
    assert problems == [
        "T: object open to unknown fields",
        "T/a: string without maxLength",
        "T/b: integer without minimum and maximum",
        "T/c: array without maxItems",
    ]
