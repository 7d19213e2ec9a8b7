"""Field types with bounds: every string has a length limit, every number a range, every list a size."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator, TypeAdapter, WithJsonSchema

MAX_PATH = 4096  # bytes of a whole path (Linux PATH_MAX)
MAX_NAME = 255  # bytes of one path component (NAME_MAX on every common file system)
MAX_ID = 2**31 - 1  # database ids are 32-bit integers on PostgreSQL


def _utf8(value: str) -> str:
    """Refuse lone surrogates: they cannot be stored, logged or used as a file name."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains a lone surrogate (\\ud800-\\udfff), which is not text") from None
    return value


def _path(value: str) -> str:
    _utf8(value)
    if "\x00" in value:
        raise ValueError("contains a NUL byte")
    if len(value.encode("utf-8")) > MAX_PATH:
        raise ValueError(f"is longer than {MAX_PATH} bytes")
    longest = max(len(part.encode("utf-8")) for part in value.split("/"))
    if longest > MAX_NAME:
        raise ValueError(f"has a file or folder name of {longest} bytes; names are at most {MAX_NAME} bytes")
    return value


def text(max_length: int, min_length: int = 0) -> Any:
    """A string of at most max_length characters, valid UTF-8."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length), AfterValidator(_utf8)]


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def whole(low: int, high: int, invalid: str = "must be a whole number") -> Any:
    """A whole number from low to high: a JSON integer, or digits in a query or a form."""

    def check(value: Any) -> int:
        number = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and len(value) <= 24 and value.strip().lstrip("+-").isdigit():
            number = int(value.strip())
        if number is None:
            raise ValueError(f"{invalid} from {low} to {high} (got {_short(value)})")
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high} (got {_short(number)})")
        return number

    return Annotated[int, PlainValidator(check), WithJsonSchema({"type": "integer", "minimum": low, "maximum": high})]


def choice(values: tuple) -> Any:
    """One of values, said in words when it is not ("use one of a, b, c")."""

    def check(value: Any) -> Any:
        if isinstance(value, (str, int)) and not isinstance(value, bool) and value in values:
            return value
        raise ValueError(f"use one of {', '.join(map(str, values))} (got {_short(value)})")

    kind = "string" if all(isinstance(v, str) for v in values) else "integer"
    return Annotated[str, PlainValidator(check), WithJsonSchema({"type": kind, "enum": list(values)})]


PathText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_PATH,
        description=f"A path inside the media folders: at most {MAX_PATH} bytes, each name at most {MAX_NAME} bytes.",
    ),
    AfterValidator(_path),
]
Id = whole(1, MAX_ID)


def _extra(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("must be an object of short names to plain values")
    if len(value) > 32:
        raise ValueError("holds at most 32 entries")
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 64:
            raise ValueError("names are 1 to 64 characters")
        _utf8(key)
        if isinstance(item, str):
            if len(item) > 1024:
                raise ValueError(f"{key!r}: text is at most 1024 characters")
            _utf8(item)
        elif isinstance(item, float) and not (math.isfinite(item) and abs(item) <= 1e300):
            raise ValueError(f"{key!r}: numbers must be finite, at most 1e300")
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > 2**53:
            raise ValueError(f"{key!r}: whole numbers are at most 2**53")
        elif item is not None and not isinstance(item, (str, int, float, bool)):
            raise ValueError(f"{key!r}: values are text, numbers, true/false or null")
    return value


EXTRA_SCHEMA = {
    "type": "object",
    "maxProperties": 32,
    "propertyNames": {"minLength": 1, "maxLength": 64},
    "additionalProperties": {
        "anyOf": [
            {"type": "string", "maxLength": 1024},
            {"type": "integer", "minimum": -(2**53), "maximum": 2**53},
            {"type": "number", "minimum": -1e300, "maximum": 1e300},
            {"type": "boolean"},
            {"type": "null"},
        ]
    },
    "description": "Free notes kept with the job: up to 32 short names with plain values.",
}
Extra = Annotated[dict[str, Any], BeforeValidator(_extra), WithJsonSchema(EXTRA_SCHEMA)]


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


def blank_or(kind: Any) -> Any:
    """kind, or absent: an empty form field or query argument ("") counts as not given."""
    schema = TypeAdapter(kind).json_schema()
    empty = {"type": "string", "enum": [""]}
    return Annotated[
        kind | None, BeforeValidator(_blank_is_none), WithJsonSchema({"anyOf": [schema, empty, {"type": "null"}]})
    ]
