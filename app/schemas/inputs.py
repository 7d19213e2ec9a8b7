"""Read a request's JSON body, query or form through its schema; errors become a 4xx naming the field."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, get_args, get_origin

from flask import request
from pydantic import BaseModel, ConfigDict, ValidationError
from werkzeug.datastructures import MultiDict

from app.schemas.types import text
from app.services.errors import ServiceError

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class Strict(BaseModel):
    """A request part: unknown fields are refused, strings are not trimmed or guessed at."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)
    # Errors inside these sub-objects name the inner field alone (crf, not spec.crf), as the forms do.
    inner_names: ClassVar[tuple[str, ...]] = ()


class Form(Strict):
    """A form a page posts: the CSRF token rides along with the fields."""

    csrf_token: text(200) | None = None


@dataclass(frozen=True)
class Accepts:
    """What an endpoint reads, for the view and for the OpenAPI document."""

    json: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    form: type[BaseModel] | None = None


def accepts(
    *,
    json: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    form: type[BaseModel] | None = None,
    on_error: Callable[[ServiceError], Any] | None = None,
) -> Callable:
    """Validate the request with these schemas and pass the results as body=, query=, form= (absent parts None).

    When an endpoint takes JSON and a form, a form-encoded request fills `form` and a JSON one `body`.
    on_error renders a refused request itself (a page that shows the error beside its field).
    """
    spec = Accepts(json=json, query=query, form=form)

    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                if query is not None:
                    kwargs["query"] = parse_query(query)
                is_form = request.mimetype in FORM_TYPES
                if form is not None:
                    kwargs["form"] = parse_form(form) if is_form or json is None else None
                if json is not None:
                    kwargs["body"] = None if is_form and form is not None else parse_json(json)
            except ServiceError as exc:
                if on_error is None:
                    raise
                return on_error(exc)
            return view(*args, **kwargs)

        run.accepts = spec  # type: ignore[attr-defined]
        return run

    return wrap


def read_json() -> Any:
    """Return the parsed JSON body ({} when empty), or raise a 4xx that says what is wrong with it."""
    raw = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH: werkzeug raises 413 here
    if not raw:
        return {}
    if not request.is_json:
        raise ServiceError("send the body as JSON, with Content-Type: application/json", status=415)
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ServiceError("the request body is not valid JSON: it is not UTF-8 text") from None
    except RecursionError:
        raise ServiceError("the request body is not valid JSON here: it nests too deeply") from None
    except ValueError as exc:
        raise ServiceError(f"the request body is not valid JSON: {str(exc)[:200]}") from None


def parse_json(model: type[BaseModel]) -> BaseModel:
    """Validate the JSON body with model."""
    data = read_json()
    if not isinstance(data, dict):
        raise ServiceError("the request body must be a JSON object")
    return validate(model, data)


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        return True
    return any(_is_list(arg) for arg in get_args(annotation))


def _multi(model: type[BaseModel], values: MultiDict) -> dict[str, Any]:
    """Turn a query or form into a dict: lists for list fields, the first value otherwise."""
    data: dict[str, Any] = {}
    for key in values:
        info = model.model_fields.get(key)
        data[key] = values.getlist(key) if info is not None and _is_list(info.annotation) else values.get(key)
    return data


def parse_query(model: type[BaseModel]) -> BaseModel:
    """Validate the query string with model."""
    return validate(model, _multi(model, request.args))


def parse_form(model: type[BaseModel]) -> BaseModel:
    """Validate the posted form with model."""
    return validate(model, _multi(model, request.form))


def validate(model: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    """Validate data with model, or raise ServiceError naming the first field at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise field_error(model, exc) from None
    except RecursionError:
        raise ServiceError("the request nests too deeply") from None


# Pydantic's messages for wrong JSON types, said the way this app's own messages are.
PLAIN = {
    "missing": "is required",
    "list_type": "give a list (a JSON array)",
    "dict_type": "give an object ({...})",
    "model_type": "give an object ({...})",
    "model_attributes_type": "give an object ({...})",
    "string_type": "give text (a JSON string)",
    "string_unicode": "give valid text (no lone surrogates)",
    "bool_type": "give true or false",
    "bool_parsing": "give true or false",
}


def field_error(model: type[BaseModel], exc: ValidationError) -> ServiceError:
    """Turn the first validation error into a message and a field name the client can show."""
    first = exc.errors(include_url=False, include_input=False)[0]
    loc = [part for part in first["loc"] if part != "[key]"]
    names = [str(part) for part in loc if isinstance(part, str)]
    if len(names) > 1 and names[0] in getattr(model, "inner_names", ()):
        names = names[1:]
    field = ".".join(names) or None
    where = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc))
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "is not a field of this request (see /api/openapi.json for the fields it takes)"
        if len(loc) == 1:
            message = f"is not a field of this request; it takes {', '.join(model.model_fields) or 'no fields'}"
    else:
        message = PLAIN.get(first["type"], message)
    if not where:
        return ServiceError(message)
    return ServiceError(f"{where}: {message}", field=field)
