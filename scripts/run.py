"""`make run`: start redis (if none answers), web, monitor, one worker and Flower; Ctrl-C stops all."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent


def redis_answers(url: str) -> bool:
    """Return True when a Redis server answers PING at url."""
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:  # noqa: BLE001
        return False


def persisted(path: Path) -> str:
    """Read a generated secret, creating it on first run."""
    if not path.exists():
        path.write_text(secrets.token_hex(24))
        path.chmod(0o600)
    return path.read_text().strip()


def main() -> int:
    env = dict(os.environ)
    data = Path(env.setdefault("DATA_DIR", str(ROOT / "data"))).resolve()
    media = Path(env.setdefault("FRAME_SHIFT_HOME", str(ROOT / "media"))).resolve()
    data.mkdir(parents=True, exist_ok=True)
    media.mkdir(parents=True, exist_ok=True)
    env["DATA_DIR"], env["FRAME_SHIFT_HOME"] = str(data), str(media)
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    env.setdefault("SHARED_TOKEN", persisted(data / "shared_token"))
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    port = env.setdefault("PORT", "5000")
    host = env.get("HOST", "127.0.0.1")
    flower_port = env.get("FLOWER_PORT", "5555")
    env.setdefault("FLOWER_URL", f"http://{host}:{flower_port}")
    # Flower always behind a login: user admin, password generated once into the data folder.
    env.setdefault("FLOWER_BASIC_AUTH", "admin:" + persisted(data / "flower_password"))
    py = sys.executable
    children: list[tuple[str, subprocess.Popen]] = []

    def start(name: str, argv: list[str]) -> None:
        print(f"[run] starting {name}: {' '.join(argv)}", flush=True)
        children.append((name, subprocess.Popen(argv, env=env, cwd=ROOT)))

    url = urlparse(env["REDIS_URL"])
    if not redis_answers(env["REDIS_URL"]):
        if url.hostname not in ("127.0.0.1", "localhost") or not shutil.which("redis-server"):
            print(
                f"[run] no Redis answers at {env['REDIS_URL']} and it is not a local port I can start; "
                "start Redis or fix REDIS_URL",
                file=sys.stderr,
            )
            return 1
        argv = [
            "redis-server",
            "--port",
            str(url.port or 6379),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data),
            "--appendonly",
            "yes",
        ]
        if url.password:
            argv += ["--requirepass", url.password]
        start("redis", argv)
        for _ in range(50):
            if redis_answers(env["REDIS_URL"]):
                break
            time.sleep(0.1)
    env["HOST"] = host
    # The same web server as in production (gunicorn.conf.py binds HOST:PORT and checks the settings first).
    start("web", [py, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"])
    start("monitor", [py, "-m", "flask", "--app", "app", "monitor"])
    start(
        "worker",
        [
            py,
            "-m",
            "celery",
            "-A",
            "tasks",
            "worker",
            "-n",
            "local@%h",
            "-c",
            env.get("WORKER_CONCURRENCY", "1"),
            "-E",
            "--without-gossip",
            "--loglevel",
            "INFO",
        ],
    )
    flower = [py, "-m", "celery", "-A", "tasks", "flower", f"--port={flower_port}", f"--address={host}"]
    if env.get("FLOWER_BASIC_AUTH"):
        flower.append(f"--basic-auth={env['FLOWER_BASIC_AUTH']}")
    start("flower", flower)
    print(
        f"[run] Frame Shift on http://{host}:{port}  (media: {media}, data: {data}); Ctrl-C stops everything",
        flush=True,
    )
    print(
        f"[run] log in as {env.get('FRAME_SHIFT_ADMIN_USER', 'admin')}: first start prints a generated password "
        "below (or set FRAME_SHIFT_ADMIN_PASSWORD); Flower's login is FLOWER_BASIC_AUTH "
        f"(default admin / the password in {data / 'flower_password'})",
        flush=True,
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for name, proc in children:
            if proc.poll() is not None:
                print(f"[run] {name} exited with {proc.returncode}; stopping the rest", file=sys.stderr)
                stopping, code = True, 1
        time.sleep(0.5)
    # Everything but redis first, so followers can report their last state; then redis.
    for group in ([c for c in children if c[0] != "redis"], [c for c in children if c[0] == "redis"]):
        for _name, proc in group:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 20
        for _name, proc in group:
            try:
                proc.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
    print("[run] stopped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
