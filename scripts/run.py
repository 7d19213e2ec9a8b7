"""`make run`: start redis (if none answers), web, monitor, one worker and Flower; supervise them
(a process that exits unexpectedly is restarted with a back-off); only Ctrl-C stops everything."""

from __future__ import annotations

import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

from children import preload
from demo import demo_clip
from supervised import Child, listen, stopping_now

ROOT = Path(__file__).resolve().parent.parent
# Redis's background cron ten times a second (its default hz) was 2.7-3.0 of the tree's 10-11 ms/s at rest;
# twice a second it is 1.0 (docs/benchmarks.md, fix 31). Nothing of ours waits on the cron: leases expire when
# read, a closed connection leaves CLIENT LIST at once, and Celery's 1 s queue polls (BRPOP) end within 1.5 s.
# The tests' Redis (tests.support.RedisServer) and compose's use the same setting.
REDIS_SETTINGS = ("--hz", "2")


def port_taken(host: str, port: int) -> bool:
    """Return True when something already listens on host:port (the same bind that holds Flower's port)."""
    try:
        listen(host, port).close()
    except OSError:
        return True
    return False


def refused(name: str) -> None:
    """The line after a process's own lines about the settings it refused."""
    print(f"[run] {name} refused its settings (above); fix them and run make run again", file=sys.stderr)


def redis_answers(url: str) -> bool:
    """Return True when a Redis server answers PING at url (redis://, rediss:// or unix://).

    Spoken over a plain socket: importing redis-py would cost this supervisor, which lives as long as the
    system, about 16 MiB of memory (measured: 13 -> 30 MiB RSS) for one question at start-up."""
    parts = urlparse(url)
    try:
        if parts.scheme == "unix":
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.settimeout(1)
            conn.connect(parts.path)
        else:
            conn = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1)
            if parts.scheme == "rediss":
                import ssl

                conn = ssl.create_default_context().wrap_socket(conn, server_hostname=parts.hostname)
        with conn:
            auth = [unquote(parts.username or ""), unquote(parts.password or "")]
            commands = ([["AUTH", *filter(None, auth)]] if parts.password else []) + [["PING"]]
            for command in commands:
                encoded = [w.encode() for w in command]
                conn.sendall(b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in encoded))
                reply = conn.recv(256)
                if not reply.startswith(b"+"):
                    return False
            return reply.startswith(b"+PONG")
    except OSError:
        return False


def persisted(path: Path) -> str:
    """Read a generated secret, creating it on first run."""
    if not path.exists():
        path.write_text(secrets.token_hex(24))
        path.chmod(0o600)
    return path.read_text().strip()


def prepare_database(py: str, env: dict[str, str], forking: bool) -> None:
    """Migrate and make the first account in a process that then exits, so that no process that stays keeps
    what migrating allocated (fix 15, docs/benchmarks.md). If it fails, the processes started next try again
    themselves (each checks the schema at its start) and say what is wrong."""
    prepare = Child("database", [py, "-m", "app.prepare"], env, fork=forking)
    prepare.start()
    try:
        prepare.proc.wait(timeout=300)
    except subprocess.TimeoutExpired:
        prepare.proc.kill()
        prepare.proc.wait()


def main() -> int:
    env = dict(os.environ)
    data = Path(env.setdefault("DATA_DIR", str(ROOT / "data"))).resolve()
    media = Path(env.setdefault("FRAME_SHIFT_HOME", str(ROOT / "media"))).resolve()
    data.mkdir(parents=True, exist_ok=True)
    media.mkdir(parents=True, exist_ok=True)
    env["DATA_DIR"], env["FRAME_SHIFT_HOME"] = str(data), str(media)
    demo_clip(media)
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    env.setdefault("SHARED_TOKEN", persisted(data / "shared_token"))
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    port = env.setdefault("PORT", "5000")
    # One web worker on one machine (gunicorn.conf.py's default of 2 is for the leader in production): its
    # 16 threads carry the pages and the live streams, and the second worker cost 65 MB of PSS at rest
    # (bench/footprint.py, docs/benchmarks.md). WEB_WORKERS still overrides it.
    env.setdefault("WEB_WORKERS", "1")
    host = env.get("HOST", "127.0.0.1")
    flower_port = env.get("FLOWER_PORT", "5555")
    env.setdefault("FLOWER_URL", f"http://{host}:{flower_port}")
    # Flower always behind a login: user admin, password generated once into the data folder.
    env.setdefault("FLOWER_BASIC_AUTH", "admin:" + persisted(data / "flower_password"))
    py = sys.executable
    children: list[Child] = []
    for setting, value in (("PORT", port), ("FLOWER_PORT", flower_port)):
        if not value.isdigit() or port_taken(host, int(value)):
            print(
                f"[run] port {value} on {host} is already in use (or not a port): set {setting} to a free one",
                file=sys.stderr,
            )
            return 1

    forking = False

    def start(name: str, argv: list[str]) -> None:
        print(f"[run] starting {name}: {' '.join(argv)}", flush=True)
        child = Child(name, argv, env, fork=forking and argv[1:2] == ["-m"])
        child.start()
        children.append(child)

    url = urlparse(env["REDIS_URL"])
    if not redis_answers(env["REDIS_URL"]):
        if url.hostname in ("127.0.0.1", "localhost") and port_taken("127.0.0.1", url.port or 6379):
            print(
                f"[run] port {url.port or 6379} is in use but no Redis answers there (a password?): "
                "fix REDIS_URL or stop the program on that port",
                file=sys.stderr,
            )
            return 1
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
            *REDIS_SETTINGS,
        ]
        if url.password:
            argv += ["--requirepass", url.password]
        start("redis", argv)
        for _ in range(50):
            if redis_answers(env["REDIS_URL"]):
                break
            time.sleep(0.1)
    env["HOST"] = host
    # The children run in the repository (as when `make run` starts this); from here on, so is this process:
    # gunicorn takes its default --chdir from the working folder when it is imported, here by preload().
    os.chdir(ROOT)
    # The Python processes are forked from this one after it imported their libraries once, so they share
    # those pages (fix 11 in docs/benchmarks.md); RUN_PRELOAD=0 starts each as its own interpreter.
    if env.get("RUN_PRELOAD", "1") != "0":
        try:
            began = time.monotonic()
            for name in preload(env, str(ROOT)):
                print(f"[run] could not preload {name}: the processes that need it import it themselves", flush=True)
            forking = True
            print(
                f"[run] libraries imported once ({len(sys.modules)} modules, {time.monotonic() - began:.1f} s): "
                "web, monitor, worker and Flower are forked from run.py and share them (RUN_PRELOAD=0: not)",
                flush=True,
            )
        except RuntimeError as exc:
            print(f"[run] not preloading ({exc}): each process starts its own interpreter", flush=True)
    prepare_database(py, env, forking)
    flower = [py, "-m", "tasks.flower_socket", f"--conf={ROOT / 'flowerconfig.py'}"]
    flower += [f"--port={flower_port}", f"--address={host}"]  # its login: FLOWER_BASIC_AUTH, read from the environment
    if not start_flower(flower, children, env, host, int(flower_port), forking):
        stopping_now(children)  # redis, when this started it
        return 1
    # The same web server as in production (gunicorn.conf.py binds HOST:PORT and checks the settings first); one
    # worker runs without gunicorn's master, which served nothing (app/serve.py, fix 27).
    server = "app.serve" if env["WEB_WORKERS"] == "1" else "gunicorn"
    start("web", [py, "-m", server, "-c", "gunicorn.conf.py", "app:create_app()"])
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
        now = time.monotonic()
        for child in children:
            if child.check(now) == "config":
                refused(child.name)
                stopping, code = True, 1
        # Half a second between checks, or at once when someone opens Flower while it is not running.
        waiting = [sock for child in children if (sock := child.waiting_on()) is not None]
        try:
            select.select(waiting, [], [], 0.5)
        except InterruptedError:
            pass
    stopping_now(children)
    print("[run] stopped", flush=True)
    return code


def start_flower(
    argv: list[str], children: list[Child], env: dict[str, str], host: str, port: int, forking: bool
) -> bool:
    """Flower on demand (fix 26, docs/benchmarks.md): its settings checked now, its port bound and held here,
    and the process forked when the first connection waits (FLOWER_ON_DEMAND=0: at once). False when its
    settings are refused or its port is taken (said on one line)."""
    check = Child("flower settings", [argv[0], "-m", "tasks.flower_socket", "--check"], env, fork=forking)
    check.start()
    if check.proc.wait() != 0:
        refused("flower")
        return False
    try:
        listener = listen(host, port)
    except OSError as exc:
        print(
            f"[run] port {port} on {host} is already in use ({exc.strerror}): set FLOWER_PORT to a free one",
            file=sys.stderr,
        )
        return False
    flower = Child("flower", argv, env, fork=forking, listener=listener)
    children.append(flower)
    if env.get("FLOWER_ON_DEMAND", "1") == "0":
        print(f"[run] starting flower: {' '.join(argv)}", flush=True)
        flower.start()
    else:
        print(f"[run] flower starts at the first visit to http://{host}:{port} (FLOWER_ON_DEMAND=0: now)", flush=True)
    return True


if __name__ == "__main__":
    sys.exit(main())
