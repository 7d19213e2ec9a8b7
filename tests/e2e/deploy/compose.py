"""Read docker-compose.yml the way `docker compose` does (anchors, merge keys, ${VAR} defaults)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.support import ROOT

COMPOSE = ROOT / "docker-compose.yml"
FRAMESHIFT = ("web", "monitor", "flower", "follower1", "follower2")
_VAR = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def load(path: Path = COMPOSE) -> dict[str, Any]:
    """The parsed compose file."""
    return yaml.safe_load(path.read_text())


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Apply compose's ${VAR}, ${VAR:-default} and ${VAR:?error} to strings in value."""
    if isinstance(value, str):

        def sub(match: re.Match) -> str:
            name, kind, arg = match.groups()
            if env.get(name):
                return env[name]
            if kind == "?":
                raise KeyError(f"{name}: {arg}")
            return arg if kind == "-" else ""

        return _VAR.sub(sub, value).replace("$$", "$")
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping (list or mapping form)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def env_example() -> dict[str, str]:
    """Variables in .env.example, set or shown commented as '#NAME=default'."""
    found = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?([A-Z][A-Z0-9_]+)=(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found
