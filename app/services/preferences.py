"""Settings a person changes on the Settings page: job defaults, output rules, retry policy.

(Notification targets are app.services.notify's.) Stored with app.services.settings under these keys:
- job_defaults: a conversion spec (dict) the Configure page starts from; includes the output rules
  (output_dir, if_exists).
- auto_retry: how many times a job whose follower was lost is queued again (overrides AUTO_RETRY).
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from app.services.errors import ServiceError
from app.services.settings import get_setting, set_setting

JOB_DEFAULTS = "job_defaults"
AUTO_RETRY = "auto_retry"
MAX_AUTO_RETRY = 10
# The spec fields of the basic conversion form (Configure page and the Settings page's defaults).
FORM_FIELDS = (
    "video_codec",
    "rate_mode",
    "crf",
    "video_bitrate",
    "preset",
    "bit_depth",
    "max_height",
    "audio_codec",
    "audio_quality",
    "container",
    "subtitles",
    "threads",
)
# The defaults also hold the output rule (custom arguments belong to a preset, not to defaults).
DEFAULT_FIELDS = (*FORM_FIELDS, "output_dir", "if_exists")


def job_defaults() -> dict[str, Any]:
    """Return the stored defaults for new jobs as a full, valid spec dict."""
    from app.services.jobs import validate_spec

    stored = get_setting(JOB_DEFAULTS, {}) or {}
    try:
        return validate_spec({k: v for k, v in stored.items() if k in DEFAULT_FIELDS}).to_dict()
    except ServiceError:
        return validate_spec({}).to_dict()


def save_job_defaults(form: dict[str, Any]) -> dict[str, Any]:
    """Validate the defaults form (as a conversion spec) and store it; raise ServiceError naming the field."""
    from app.services.jobs import checked_output_folder, media_roots, validate_spec

    data: dict[str, Any] = {}
    for name in DEFAULT_FIELDS:
        value = form.get(name)
        if isinstance(value, str):
            value = value.strip()
            if value.isdigit() and name in ("crf", "bit_depth", "max_height", "threads"):
                value = int(value)
        if value is None or value == "":
            continue
        data[name] = value
    spec = validate_spec(data)
    if spec.output_dir:
        checked_output_folder(spec.output_dir, media_roots())
    stored = {k: v for k, v in spec.to_dict().items() if k in DEFAULT_FIELDS}
    set_setting(JOB_DEFAULTS, stored)
    return stored


def auto_retry() -> int:
    """Return how many automatic retries a job gets: the stored setting, else AUTO_RETRY."""
    value = get_setting(AUTO_RETRY)
    return int(current_app.config.get("AUTO_RETRY", 0) if value is None else value)


def save_auto_retry(raw: str | int) -> int:
    """Validate and store the automatic retry count."""
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ServiceError(
            f"auto_retry: give a whole number from 0 to {MAX_AUTO_RETRY} (got {raw!r})", field="auto_retry"
        ) from None
    if not 0 <= value <= MAX_AUTO_RETRY:
        raise ServiceError(f"auto_retry: must be between 0 and {MAX_AUTO_RETRY} (got {value})", field="auto_retry")
    set_setting(AUTO_RETRY, value)
    return value
