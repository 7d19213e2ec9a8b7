"""`make run`: start redis (if none answers), web, monitor, one worker and Flower; supervise them
(a process that exits unexpectedly is restarted with a back-off); only Ctrl-C stops everything."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

from children import Child, preload

ROOT = Path(__file__).resolve().parent.parent


def port_taken(host: str, port: int) -> bool:
    """Return True when something already listens on host:port."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


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


DEMO = "demo.mp4"


def demo_clip(media: Path, ffmpeg: str = "ffmpeg") -> Path | None:
    """Make a short demo clip in an empty media folder (so the README's first examples work); return it, or None."""
    if any(media.iterdir()):
        return None
    if shutil.which(ffmpeg) is None:
        print(f"[run] the media folder {media} is empty and FFmpeg is missing: no demo clip made", flush=True)
        return None
    target = media / DEMO
    # A 10 s test pattern with a tone, made by FFmpeg's own lavfi sources: no download, no input file.
    guard = ["-protocol_whitelist", "file,pipe", "-format_whitelist", "lavfi"]
    argv = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-n",
        *guard, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=10",
        *guard, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=10",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", DEMO,
    ]  # fmt: skip
    # Like every FFmpeg we start: inside its boundary, writing only a private folder, moved into place after.
    sys.path.insert(0, str(ROOT))
    from tasks import sandbox

    folder = sandbox.private_folder(media / f".frameshift-demo-{os.getpid()}")
    try:
        done = sandbox.run(argv, workdir=folder, timeout=120)
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip()[-300:]
            print(f"[run] could not make a demo clip in {media}: {err}", flush=True)
            return None
        os.replace(folder / DEMO, target)
    except (OSError, subprocess.SubprocessError, sandbox.SandboxError) as exc:
        print(f"[run] could not make a demo clip in {media}: {exc}", flush=True)
        return None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"[run] the media folder {media} was empty: made {DEMO} (10 s test pattern with a tone) to try", flush=True)
    return target


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
        ]
        if url.password:
            argv += ["--requirepass", url.password]
        start("redis", argv)
        for _ in range(50):
            if redis_answers(env["REDIS_URL"]):
                break
            time.sleep(0.1)
    env["HOST"] = host
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
    flower = [py, "-m", "celery", "-A", "tasks", "flower", f"--conf={ROOT / 'flowerconfig.py'}"]
    flower += [f"--port={flower_port}", f"--address={host}"]
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
        now = time.monotonic()
        for child in children:
            if child.check(now) == "config":
                print(
                    f"[run] {child.name} refused its settings (above); fix them and run make run again", file=sys.stderr
                )
                stopping, code = True, 1
        time.sleep(0.5)
    # Everything but redis first, so followers can report their last state; then redis.
    for group in ([c for c in children if c.name != "redis"], [c for c in children if c.name == "redis"]):
        procs = [c.proc for c in group if c.proc is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 20
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
    print("[run] stopped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
