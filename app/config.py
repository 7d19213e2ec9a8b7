"""Configuration: safe defaults, environment overrides read when the app starts, validation."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from tasks.paths import parse_roots

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
    "FLOWER_URL": "http://127.0.0.1:5555",
    "PORT": "5000",
}


class ConfigError(ValueError):
    """One or more settings are wrong; each line says which and how to fix it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _persisted_secret(data_dir: Path, name: str) -> str:
    """Read a generated secret from the data folder, creating it on first start."""
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


def load_config(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Return Flask config from defaults, environment and overrides; raise ConfigError on problems."""
    env = dict(os.environ if environ is None else environ)
    overrides = dict(overrides or {})
    raw = {key: str(overrides.pop(key, env.get(key, default))) for key, default in DEFAULTS.items()}
    problems: list[str] = []
    instance = raw["INSTANCE_TYPE"].lower()
    if instance not in ("standalone", "leader"):
        problems.append(f"INSTANCE_TYPE={raw['INSTANCE_TYPE']!r}: use 'standalone' or 'leader' (followers run `celery -A tasks worker`)")
    data_dir = Path(raw["DATA_DIR"]).expanduser().resolve()
    roots_text = raw["MEDIA_ROOTS"] or raw["FRAME_SHIFT_HOME"]
    roots = parse_roots(roots_text)
    for root in roots:
        if not root.is_dir():
            problems.append(f"media folder {root} does not exist: create it or fix FRAME_SHIFT_HOME/MEDIA_ROOTS")
    if not roots:
        problems.append("no media folder: set FRAME_SHIFT_HOME (or MEDIA_ROOTS, colon-separated)")
    ints = {}
    for key in ("FOLLOWER_LOST_AFTER", "AUTO_RETRY", "CANCEL_GRACE", "PORT"):
        try:
            ints[key] = int(raw[key])
            if ints[key] < 0:
                raise ValueError
        except ValueError:
            problems.append(f"{key}={raw[key]!r}: must be a whole number >= 0")
            ints[key] = int(DEFAULTS[key])
    if not raw["REDIS_URL"].startswith(("redis://", "rediss://", "unix://")):
        problems.append(f"REDIS_URL={raw['REDIS_URL']!r}: must start with redis://, rediss:// or unix://")
    token = raw["SHARED_TOKEN"]
    if instance == "leader" and len(token) < 16:
        problems.append("SHARED_TOKEN is missing or shorter than 16 characters: distributed mode signs every task with it; "
                        "set the same long random value on the leader and every follower")
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
        "FLOWER_URL": raw["FLOWER_URL"],
        "PORT": ints["PORT"],
        "JSON_SORT_KEYS": False,
    }
    config.update(overrides)
    return config
