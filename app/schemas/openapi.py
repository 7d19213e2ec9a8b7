"""The OpenAPI 3.1 document of the JSON API and every form, built from the app's routes and their schemas."""

from __future__ import annotations

import copy
import inspect
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.schemas.inputs import Accepts
from app.schemas.types import MAX_ID, MAX_NAME

REF = "#/components/schemas/{model}"
ERROR = {
    "type": "object",
    "required": ["error", "field"],
    "properties": {
        "error": {"type": "string", "description": "What is wrong, in words a person can act on."},
        "field": {
            "type": ["string", "null"],
            "description": "The field at fault (dotted for nested objects); null when no single field is.",
        },
    },
}
# Pages answer HTML; everything under /api/ (and these) answers JSON.
JSON_PATHS = ("/api/", "/healthz")
SKIP = {"static"}
CONVERTERS = {
    "int": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
    "default": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
}


def _accepts(flask_app: Flask, endpoint: str) -> Accepts:
    return getattr(flask_app.view_functions[endpoint], "accepts", None) or Accepts()


def _models(flask_app: Flask) -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for rule in flask_app.url_map.iter_rules():
        if rule.endpoint in SKIP:
            continue
        spec = _accepts(flask_app, rule.endpoint)
        for model in (spec.json, spec.form):  # query models become parameters, written inline
            if model is not None:
                found[model.__name__] = model
    return [found[name] for name in sorted(found)]


def _drop_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query argument is absent or a value; it is never JSON null."""
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        return {**rest, **options[0]}
    return schema


def _parameters(rule, query: type[BaseModel] | None) -> list[dict[str, Any]]:
    params = []
    for name, converter in rule._converters.items():  # werkzeug keeps the converter of each URL variable here
        kind = "int" if converter.__class__.__name__ in ("IdConverter", "IntegerConverter") else "default"
        params.append({"name": name, "in": "path", "required": True, "schema": dict(CONVERTERS[kind])})
    if query is not None:
        schema = query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            prop = _drop_null(copy.deepcopy(prop))
            prop.pop("title", None)
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "schema": prop,
                    **({"description": prop["description"]} if "description" in prop else {}),
                }
            )
    return params


def _responses(path: str, method: str, endpoint: str) -> dict[str, Any]:
    json_like = path.startswith(JSON_PATHS)
    if endpoint == "stream.events":
        ok = {"description": "Server-Sent Events: job and progress messages", "content": {"text/event-stream": {}}}
    elif endpoint == "ops.metrics":
        ok = {"description": "Prometheus text format", "content": {"text/plain": {}}}
    elif json_like:
        ok = {"description": "Success", "content": {"application/json": {"schema": {"type": "object"}}}}
    else:
        ok = {"description": "The page", "content": {"text/html": {}}}
    responses: dict[str, Any] = {"201" if (method == "post" and endpoint in CREATED) else "200": ok}
    if not json_like and method != "get":
        responses["302"] = {"description": "Saved: back to the page"}
    error = {"$ref": "#/components/schemas/Error"}
    errors = {"application/json": {"schema": error}}
    if not json_like:
        errors["text/html"] = {}
    responses["4XX"] = {"description": "Refused: JSON {error, field} (pages answer HTML)", "content": errors}
    return responses


CREATED = {"api.create", "configure.create_preset", "auth.create_token"}


def _operation(flask_app: Flask, rule, method: str) -> dict[str, Any]:
    view = flask_app.view_functions[rule.endpoint]
    spec = _accepts(flask_app, rule.endpoint)
    doc = inspect.getdoc(view) or rule.endpoint
    summary, _, description = doc.partition("\n")
    operation: dict[str, Any] = {
        "operationId": f"{rule.endpoint}.{method}" if len(rule.methods - {"HEAD", "OPTIONS"}) > 1 else rule.endpoint,
        "summary": summary.strip(),
        "tags": [rule.endpoint.split(".")[0]],
        "parameters": _parameters(rule, spec.query),
        "responses": _responses(rule.rule, method, rule.endpoint),
    }
    if description.strip():
        operation["description"] = description.strip()
    content: dict[str, Any] = {}
    if spec.json is not None:
        content["application/json"] = {"schema": {"$ref": REF.format(model=spec.json.__name__)}}
    if spec.form is not None:
        content["application/x-www-form-urlencoded"] = {"schema": {"$ref": REF.format(model=spec.form.__name__)}}
    if content and method in ("post", "put", "patch"):
        operation["requestBody"] = {"required": spec.form is None, "content": content}
    return operation


def document(flask_app: Flask) -> dict[str, Any]:
    """Return the OpenAPI document: every route but static files, with the schemas its view validates with."""
    models = _models(flask_app)
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    schemas = {**defs.get("$defs", {}), "Error": ERROR}
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(flask_app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint in SKIP:
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<int:{name}>", f"{{{name}}}").replace(f"<{name}>", f"{{{name}}}")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(flask_app, rule, method.lower())
    limit = flask_app.config.get("MAX_CONTENT_LENGTH")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Frame Shift",
            "version": "1",
            "description": "The leader's HTTP API and forms. Bodies over "
            f"{limit} bytes get 413; unknown fields, wrong types and values out of bounds get 400 naming the field. "
            "Authenticate with 'Authorization: Bearer TOKEN', or a session cookie plus the X-CSRF-Token header.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
        "security": [{"token": []}, {"session": []}],
    }
