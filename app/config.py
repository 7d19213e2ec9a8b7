"""Configuration: safe defaults, environment overrides read when the app starts, validation."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from tasks import sandbox
from tasks.paths import parse_roots
from tasks.preflight import celery_problems, sandbox_problems, secret_problems

# Every variable the leader reads, with its default (.env.example mirrors this table).
DEFAULTS: dict[str, str] = {
    "INSTANCE_TYPE": "standalone",  # standalone | leader
    "SECRET_KEY": "",
    "DATA_DIR": "./data",
    "DATABASE_URL": "",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "FRAME_SHIFT_HOME": "./media",
    "MEDIA_ROOTS": "",
    "SHARED_TOKEN": "",
    "FOLLOWER_LOST_AFTER": "10",
    "AUTO_RETRY": "0",
    "CANCEL_GRACE": "8",
    "TASK_PAYLOAD_TTL": "86400",
    "SPLIT_SECONDS": "60",  # split jobs: the length of a piece, cut at the nearest keyframe
    "SPLIT_MIN_SECONDS": "300",  # split=auto splits inputs longer than this (docs/split.md)
    "FLOWER_URL": "http://127.0.0.1:5555",
    "PORT": "5000",
    "HOST": "127.0.0.1",  # the address the web process binds (gunicorn.conf.py and make run read it too)
    "AUTH_DISABLED": "0",  # 1 = no login; refused unless HOST is loopback
    "FRAME_SHIFT_ADMIN_USER": "admin",
    "FRAME_SHIFT_ADMIN_PASSWORD": "",  # empty: generated on first start and printed once
    "SESSION_COOKIE_SECURE": "0",  # 1 behind HTTPS
    "SESSION_IDLE_DAYS": "7",  # a login ends after this many days without a request (decimals allowed)
    "METRICS_PUBLIC": "0",  # 1 = /metrics without a token
    "SENTRY_DSN": "",
    "SENTRY_ENVIRONMENT": "production",
    "SENTRY_TRACES_SAMPLE_RATE": "0",
    "DISCORD_WEBHOOK_URL": "",
    "PUSHOVER_API_TOKEN": "",
    "PUSHOVER_USER_KEY": "",
    "APPRISE_URLS": "",  # extra Apprise targets, separated by spaces or commas
}
LOOPBACK = ("127.0.0.1", "::1", "localhost", "[::1]")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")


class ConfigError(ValueError):
    """One or more settings are wrong; each line says which and how to fix it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _split_seconds(raw: dict[str, str], problems: list[str]) -> dict[str, float]:
    """Read SPLIT_SECONDS (a piece's length, 1 s or more) and SPLIT_MIN_SECONDS (0 or more)."""
    values = {}
    for key, low in (("SPLIT_SECONDS", 1.0), ("SPLIT_MIN_SECONDS", 0.0)):
        try:
            values[key] = float(raw[key])
            if not low <= values[key] < 1e7:
                raise ValueError
        except ValueError:
            problems.append(f"{key}={raw[key]!r}: must be a number of seconds, {low:g} or more")
            values[key] = float(DEFAULTS[key])
    return values


def _persisted_secret(data_dir: Path, name: str) -> str:
    """Read a generated secret from the data folder, creating it on first start."""
    path = data_dir / name
    if not path.exists():
        # Written aside, then linked into place: processes starting together agree on one value
        # and never read a half-written file.
        data_dir.mkdir(parents=True, exist_ok=True)
        staging = data_dir / f".{name}.{os.getpid()}"
        staging.write_text(secrets.token_hex(32))
        staging.chmod(0o600)
        try:
            os.link(staging, path)
        except FileExistsError:
            pass
        finally:
            staging.unlink()
    return path.read_text().strip()


def load_config(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Return Flask config from defaults, environment and overrides; raise ConfigError on problems."""
    env = dict(os.environ if environ is None else environ)
    overrides = dict(overrides or {})
    raw = {key: str(overrides.pop(key, env.get(key, default))) for key, default in DEFAULTS.items()}
    problems: list[str] = []
    instance = raw["INSTANCE_TYPE"].lower()
    if instance not in ("standalone", "leader"):
        problems.append(
            f"INSTANCE_TYPE={raw['INSTANCE_TYPE']!r}: use 'standalone' or 'leader' (followers run `celery -A tasks worker`)"
        )
    data_dir = Path(raw["DATA_DIR"]).expanduser().resolve()
    roots_text = raw["MEDIA_ROOTS"] or raw["FRAME_SHIFT_HOME"]
    roots = parse_roots(roots_text)
    for root in roots:
        if not root.is_dir():
            problems.append(f"media folder {root} does not exist: create it or fix FRAME_SHIFT_HOME/MEDIA_ROOTS")
    if not roots:
        problems.append("no media folder: set FRAME_SHIFT_HOME (or MEDIA_ROOTS, colon-separated)")
    ints = {}
    for key in ("FOLLOWER_LOST_AFTER", "AUTO_RETRY", "CANCEL_GRACE", "PORT", "TASK_PAYLOAD_TTL"):
        try:
            ints[key] = int(raw[key])
            if ints[key] < 0:
                raise ValueError
        except ValueError:
            problems.append(f"{key}={raw[key]!r}: must be a whole number >= 0")
            ints[key] = int(DEFAULTS[key])
    splits = _split_seconds(raw, problems)
    if not raw["REDIS_URL"].startswith(("redis://", "rediss://", "unix://")):
        problems.append(f"REDIS_URL={raw['REDIS_URL']!r}: must start with redis://, rediss:// or unix://")
    token = raw["SHARED_TOKEN"]
    # Standalone generates SHARED_TOKEN when it is unset; one that is set, and every other secret, must be strong.
    fix = "distributed mode signs every task with it; set the same long random value on the leader and every follower"
    problems += secret_problems(
        {**env, "SHARED_TOKEN": token, "REDIS_URL": raw["REDIS_URL"]}, token_fix=fix if instance == "leader" else None
    )
    problems += _check_deploy(raw)
    idle_seconds = _idle_seconds(raw["SESSION_IDLE_DAYS"], problems)
    problems += celery_problems(env)  # celeryconfig.py reads these straight from the environment
    problems += sandbox_problems(env)  # the leader probes media too: same boundary as the followers
    if problems:
        raise ConfigError(problems)
    if not token:
        token = _persisted_secret(data_dir, "shared_token")
    database_url = raw["DATABASE_URL"] or f"sqlite:///{data_dir / 'frameshift.db'}"
    config: dict[str, Any] = {
        "INSTANCE_TYPE": instance,
        "SECRET_KEY": raw["SECRET_KEY"] or _persisted_secret(data_dir, "secret_key"),
        "DATA_DIR": data_dir,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": raw["REDIS_URL"],
        "MEDIA_ROOTS": roots,
        "FRAME_SHIFT_HOME": roots[0],
        "SHARED_TOKEN": token,
        "FOLLOWER_LOST_AFTER": ints["FOLLOWER_LOST_AFTER"],
        "AUTO_RETRY": ints["AUTO_RETRY"],
        "CANCEL_GRACE": ints["CANCEL_GRACE"],
        "TASK_PAYLOAD_TTL": ints["TASK_PAYLOAD_TTL"] or int(DEFAULTS["TASK_PAYLOAD_TTL"]),
        **splits,
        "FLOWER_URL": raw["FLOWER_URL"],
        "PORT": ints["PORT"],
        "JSON_SORT_KEYS": False,
        "HOST": raw["HOST"],
        "AUTH_DISABLED": _flag(raw["AUTH_DISABLED"]),
        "FRAME_SHIFT_ADMIN_USER": raw["FRAME_SHIFT_ADMIN_USER"],
        "FRAME_SHIFT_ADMIN_PASSWORD": raw["FRAME_SHIFT_ADMIN_PASSWORD"],
        "SESSION_COOKIE_SECURE": _flag(raw["SESSION_COOKIE_SECURE"]),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_IDLE_SECONDS": idle_seconds,
        # The cookie outlives the idle limit by a minute, so app/auth/sessions.py (which knows the
        # reason) ends an idle session before the cookie's own signature age does.
        "PERMANENT_SESSION_LIFETIME": timedelta(seconds=idle_seconds + 60),
        "METRICS_PUBLIC": _flag(raw["METRICS_PUBLIC"]),
        "SENTRY_DSN": raw["SENTRY_DSN"],
        "SENTRY_ENVIRONMENT": raw["SENTRY_ENVIRONMENT"],
        "SENTRY_TRACES_SAMPLE_RATE": float(raw["SENTRY_TRACES_SAMPLE_RATE"]),
        "NOTIFY_URLS": env_notify_urls(raw),
    }
    config.update(overrides)
    return config


def _idle_seconds(text: str, problems: list[str]) -> int:
    """SESSION_IDLE_DAYS as whole seconds (at least 1); a problem line when it is not a number above 0."""
    try:
        days = float(text)
        if not 0 < days <= 3650:
            raise ValueError
    except ValueError:
        problems.append(f"SESSION_IDLE_DAYS={text!r}: must be a number of days above 0 (e.g. 7, or 0.5 for 12 hours)")
        return 7 * 86400
    return max(1, round(days * 86400))


def _flag(value: str) -> bool:
    return str(value).strip().lower() in TRUE


def _check_deploy(raw: dict[str, str]) -> list[str]:
    """Problems with login, Sentry and notification settings, one line each."""
    problems: list[str] = []
    for key in ("AUTH_DISABLED", "SESSION_COOKIE_SECURE", "METRICS_PUBLIC"):
        if str(raw[key]).strip().lower() not in TRUE + FALSE:
            problems.append(f"{key}={raw[key]!r}: use 1 or 0")
    if _flag(raw["AUTH_DISABLED"]) and raw["HOST"].strip() not in LOOPBACK:
        problems.append(
            f"AUTH_DISABLED=1 is only allowed when the web process listens on loopback, but HOST={raw['HOST']!r}: "
            "set HOST=127.0.0.1 or turn login back on (AUTH_DISABLED=0)"
        )
    password = raw["FRAME_SHIFT_ADMIN_PASSWORD"]
    if password and len(password) < 8:
        problems.append(
            "FRAME_SHIFT_ADMIN_PASSWORD is shorter than 8 characters: choose a longer one, or unset it "
            "to have one generated and printed on first start"
        )
    if not raw["FRAME_SHIFT_ADMIN_USER"].strip():
        problems.append("FRAME_SHIFT_ADMIN_USER is empty: give the first account a name (default: admin)")
    dsn = raw["SENTRY_DSN"]
    if dsn and not dsn.startswith(("http://", "https://")):
        problems.append(f"SENTRY_DSN={dsn!r}: must be the https://KEY@HOST/PROJECT address from your Sentry project")
    try:
        rate = float(raw["SENTRY_TRACES_SAMPLE_RATE"])
        if not 0 <= rate <= 1:
            raise ValueError
    except ValueError:
        problems.append(f"SENTRY_TRACES_SAMPLE_RATE={raw['SENTRY_TRACES_SAMPLE_RATE']!r}: must be a number from 0 to 1")
    hook = raw["DISCORD_WEBHOOK_URL"]
    if hook and not hook.startswith(("https://", "http://", "discord://")):
        problems.append(
            f"DISCORD_WEBHOOK_URL={hook!r}: paste the webhook address Discord gives (https://discord.com/api/webhooks/...)"
        )
    if bool(raw["PUSHOVER_API_TOKEN"]) != bool(raw["PUSHOVER_USER_KEY"]):
        problems.append("Pushover needs both PUSHOVER_API_TOKEN and PUSHOVER_USER_KEY: set both or neither")
    for url in split_urls(raw["APPRISE_URLS"]):
        if "://" not in url:
            problems.append(
                f"APPRISE_URLS entry {url!r} is not an Apprise URL (like tgram://TOKEN/CHAT or mailto://...)"
            )
    return problems


def split_urls(text: str) -> list[str]:
    """Split a list of URLs separated by spaces, commas or newlines."""
    return [part for part in text.replace(",", " ").split() if part]


def env_notify_urls(raw: dict[str, str]) -> list[str]:
    """Apprise URLs configured by environment (Discord and Pushover keep the original's variables)."""
    urls = []
    if raw["DISCORD_WEBHOOK_URL"]:
        urls.append(raw["DISCORD_WEBHOOK_URL"])
    if raw["PUSHOVER_API_TOKEN"] and raw["PUSHOVER_USER_KEY"]:
        urls.append(f"pover://{raw['PUSHOVER_USER_KEY']}@{raw['PUSHOVER_API_TOKEN']}")
    return urls + split_urls(raw["APPRISE_URLS"])


def startup_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load config for a process start: on problems print one line each and exit (tests get ConfigError)."""
    import sys

    try:
        config = load_config(overrides)
    except ConfigError as exc:
        if overrides is not None:
            raise
        for problem in exc.problems:
            print(f"frameshift: configuration problem: {problem}", file=sys.stderr)
        raise SystemExit(2) from None
    warning = sandbox.startup_warning()
    if warning:  # every start, on purpose: an unconfined FFmpeg must never go unnoticed
        print(f"frameshift: WARNING: {warning}", file=sys.stderr, flush=True)
    return config
