"""Container healthchecks: `python scripts/healthcheck.py web|monitor|flower [PORT]|worker [NODE]`.

Exit 0 when the process answers, 1 (with one line saying why) when it does not.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def http_ok(url: str) -> str | None:
    """Return None when url answers 200, else the reason."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310  (loopback only)
            return None if response.status == 200 else f"{url} answered {response.status}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url}: {exc}"


def check_web() -> str | None:
    host = os.environ.get("HOST", "127.0.0.1")
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    host = f"[{host}]" if ":" in host else host
    return http_ok(f"http://{host}:{os.environ.get('PORT', '5000')}/healthz")


def check_flower(port: str = "5555") -> str | None:
    return http_ok(f"http://127.0.0.1:{port}/healthcheck")


def check_monitor() -> str | None:
    """The monitor listens on the wake-up channel while its loop runs."""
    import redis

    from tasks import keys

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        subscribers = dict(redis.Redis.from_url(url, socket_timeout=5).pubsub_numsub(keys.WAKE_CHANNEL))
    except redis.RedisError as exc:
        return f"redis at {url.split('@')[-1]}: {exc}"
    count = subscribers.get(keys.WAKE_CHANNEL.encode(), subscribers.get(keys.WAKE_CHANNEL, 0))
    return None if count else "no monitor is listening on Redis"


def check_worker(node: str | None = None) -> str | None:
    """The follower answers a Celery ping addressed to it."""
    from tasks.celery_app import celery_app

    node = node or f"follower@{os.environ.get('HOSTNAME') or socket.gethostname()}"
    try:
        replies = celery_app.control.ping(destination=[node], timeout=5)
    except Exception as exc:  # noqa: BLE001
        return f"ping {node}: {exc}"
    return None if replies else f"{node} did not answer a ping"


CHECKS = {"web": check_web, "flower": check_flower, "monitor": check_monitor, "worker": check_worker}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in CHECKS:
        print(f"usage: healthcheck.py {'|'.join(CHECKS)} [ARG]", file=sys.stderr)
        return 2
    problem = CHECKS[argv[0]](*argv[1:2])
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
