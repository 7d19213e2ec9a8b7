"""Settings a person changes on the Settings page: notification targets, job defaults, retry policy.

Stored with app.services.settings under these keys (other parts read them):
- notify_targets: list of Apprise URLs, in addition to those from the environment (NOTIFY_URLS).
- notify_events: which events notify: "job_failed", "queue_finished".
- job_defaults: a conversion spec (dict) the Configure page starts from; includes the output rules
  (output_dir, if_exists).
- auto_retry: how many times a job whose follower was lost is queued again (overrides AUTO_RETRY).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from app.services.errors import ServiceError
from app.services.settings import get_setting, set_setting

NOTIFY_TARGETS = "notify_targets"
NOTIFY_EVENTS = "notify_events"
JOB_DEFAULTS = "job_defaults"
AUTO_RETRY = "auto_retry"
EVENTS = {"job_failed": "a job fails", "queue_finished": "the queue becomes empty"}
DEFAULT_EVENTS = ["job_failed", "queue_finished"]
MAX_AUTO_RETRY = 10
# The spec fields the defaults form offers (custom arguments belong to a preset, not to defaults).
DEFAULT_FIELDS = ("video_codec", "rate_mode", "crf", "video_bitrate", "preset", "bit_depth", "max_height",
                  "audio_codec", "audio_quality", "container", "subtitles", "threads", "output_dir", "if_exists")


@dataclass
class NotifySettings:
    """What the notification section shows."""

    env_targets: list[str]
    targets: list[str]
    events: list[str]


def mask_url(url: str) -> str:
    """Hide the secret part of a notification URL for display (scheme and host stay readable)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "…"
    head = rest.split("/", 1)[0].split("@")[-1]
    return f"{scheme}://{head[:24]}/…" if head else f"{scheme}://…"


def notify_settings() -> NotifySettings:
    """Return the notification targets (environment ones masked) and events."""
    env = [mask_url(url) for url in current_app.config.get("NOTIFY_URLS") or []]
    return NotifySettings(env, list(get_setting(NOTIFY_TARGETS, []) or []),
                          list(get_setting(NOTIFY_EVENTS, DEFAULT_EVENTS) or []))


def save_notify_settings(text: str, events: list[str]) -> list[str]:
    """Validate and store the targets (one Apprise URL a line) and events; return the targets."""
    import apprise

    targets = [line.strip() for line in (text or "").splitlines() if line.strip() and not line.strip().startswith("#")]
    for number, url in enumerate(targets, 1):
        if len(url) > 2000 or not apprise.Apprise().add(url):
            raise ServiceError(
                f"notification target on line {number} ({mask_url(url)}) is not a URL Apprise understands: "
                "use e.g. discord://WEBHOOK_ID/TOKEN, pover://USER@TOKEN, mailto://user:pass@host or json://host/path",
                field="targets")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise ServiceError(f"events: {', '.join(unknown)} is not an event; use {', '.join(EVENTS)}", field="events")
    set_setting(NOTIFY_TARGETS, targets)
    set_setting(NOTIFY_EVENTS, [e for e in EVENTS if e in events])
    return targets


def send_test_notification() -> str:
    """Send a test message to every target; return a summary, or raise ServiceError saying what failed."""
    try:
        from app.services import notify
    except ImportError:
        notify = None
    sender = getattr(notify, "send_test", None) if notify else None
    if sender is not None:
        result = sender()
        return result if isinstance(result, str) else "test notification sent"
    import apprise

    urls = list(current_app.config.get("NOTIFY_URLS") or []) + list(get_setting(NOTIFY_TARGETS, []) or [])
    if not urls:
        raise ServiceError("no notification target: add one below (or set DISCORD_WEBHOOK_URL / PUSHOVER_*)")
    sender = apprise.Apprise()
    for url in urls:
        sender.add(url)
    if not sender.notify(title="Frame Shift test", body="Notifications from Frame Shift reach you."):
        raise ServiceError("the test notification could not be delivered to every target; check the URLs and the "
                           "server's network (details are in the web process log)", status=502)
    return f"test notification sent to {len(urls)} target{'s' if len(urls) != 1 else ''}"


def job_defaults() -> dict[str, Any]:
    """Return the stored defaults for new jobs as a full, valid spec dict."""
    from app.services.jobs import validate_spec

    stored = get_setting(JOB_DEFAULTS, {}) or {}
    try:
        return validate_spec({k: v for k, v in stored.items() if k in DEFAULT_FIELDS}).to_dict()
    except ServiceError:
        return validate_spec({}).to_dict()


def save_job_defaults(form: dict[str, str]) -> dict[str, Any]:
    """Validate the defaults form (as a conversion spec) and store it; raise ServiceError naming the field."""
    from app.services.jobs import media_roots, validate_spec
    from tasks.paths import PathError, resolve_inside

    data: dict[str, Any] = {}
    for name in DEFAULT_FIELDS:
        value = (form.get(name) or "").strip()
        if value == "":
            continue
        data[name] = int(value) if value.isdigit() and name in ("crf", "bit_depth", "max_height", "threads") else value
    spec = validate_spec(data)
    if spec.output_dir:
        try:
            folder = resolve_inside(spec.output_dir, media_roots())
        except PathError as exc:
            raise ServiceError(f"output_dir: {exc}", field="output_dir") from None
        if not folder.is_dir():
            raise ServiceError(f"output_dir: {spec.output_dir} is not a folder; create it or leave the field empty",
                               field="output_dir")
    stored = {k: v for k, v in spec.to_dict().items() if k in DEFAULT_FIELDS}
    set_setting(JOB_DEFAULTS, stored)
    return stored


def auto_retry() -> int:
    """Return how many automatic retries a job gets: the stored setting, else AUTO_RETRY."""
    value = get_setting(AUTO_RETRY)
    return int(current_app.config.get("AUTO_RETRY", 0) if value is None else value)


def save_auto_retry(raw: str) -> int:
    """Validate and store the automatic retry count."""
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ServiceError(f"auto_retry: give a whole number from 0 to {MAX_AUTO_RETRY} (got {raw!r})",
                           field="auto_retry") from None
    if not 0 <= value <= MAX_AUTO_RETRY:
        raise ServiceError(f"auto_retry: must be between 0 and {MAX_AUTO_RETRY} (got {value})", field="auto_retry")
    set_setting(AUTO_RETRY, value)
    return value
