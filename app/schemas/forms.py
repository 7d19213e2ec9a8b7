"""Schemas of the pages' forms and of the presets and notification settings they share with the API."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field, model_validator

from app.schemas.inputs import Form, Strict
from app.schemas.jobs import BasicFields, OutputFields, Spec, SpecFields
from app.schemas.types import MAX_ID, blank_or, choice, text, whole
from app.services.notify import EVENTS
from app.services.preferences import MAX_AUTO_RETRY

Events = Annotated[list[choice(EVENTS)], Field(max_length=len(EVENTS))]


class ConfigureForm(Form, SpecFields):
    """The Configure page's form (POST /configure, /api/configure/preview, and presets saved from it)."""

    output_location: choice(("beside", "folder")) | None = None
    preset_id: blank_or(whole(1, MAX_ID)) = None
    preset_name: text(200) | None = None


class ConfigureQuery(Strict):
    """GET /configure: start from a preset (other arguments are ignored)."""

    model_config = ConfigDict(extra="ignore")
    preset_id: blank_or(whole(1, MAX_ID)) = None


class PresetBody(Strict):
    """POST/PUT /api/presets as JSON: a name and conversion settings (output rules are not kept)."""

    inner_names: ClassVar[tuple[str, ...]] = ("spec",)
    name: text(200) | None = None
    spec: Spec | None = None


class NotificationsBody(Strict):
    """PUT /api/notifications: Apprise URLs and which events send."""

    urls: Annotated[list[text(2048)], Field(max_length=100)] | None = None
    events: Events | None = None


class NotificationsForm(Form):
    """The Settings page's notification form: one Apprise URL a line."""

    targets: text(200_000) | None = None
    events: Events | None = None


BLANK = {"type": "string", "pattern": r"^\s*$", "maxLength": 100}


def _blank_allowed(schema: dict[str, Any]) -> None:
    for name, prop in schema.get("properties", {}).items():
        if name != "csrf_token":
            schema["properties"][name] = {"anyOf": [prop, BLANK]}


class DefaultsForm(Form, BasicFields, OutputFields):
    """The Settings page's defaults for new jobs; an empty field keeps the built-in default."""

    model_config = ConfigDict(json_schema_extra=_blank_allowed)

    @model_validator(mode="before")
    @classmethod
    def _drop_blanks(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and len(v) <= 100 and not v.strip())}
        return data


class RetryForm(Form):
    """The Settings page's retry policy."""

    auto_retry: whole(0, MAX_AUTO_RETRY, invalid="give a whole number")


class EmptyForm(Form):
    """A button that posts nothing but its CSRF token."""
