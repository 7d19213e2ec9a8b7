"""`make run` (scripts/run.py) brings up the whole system on one machine, the README's API calls work
against it with a token, and Ctrl-C stops every process it started."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import redis

from tests.media import make_clip
from tests.support import ROOT, free_port, proc_stat, wait_for


def parsed(raw: bytes) -> dict:
    try:
        return json.loads(raw or b"{}")
    except ValueError:  # Flower's health check answers plain text
        return {"text": raw.decode(errors="replace")}


def call(method: str, url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, parsed(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, parsed(exc.read())
    except OSError:
        return 0, {}


def descendants(pid: int) -> set[int]:
    """Every process below pid (from /proc, children of children included)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := proc_stat(int(entry))):
            parents[int(entry)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def parent_of(pid: int) -> int:
    """The parent pid of pid (0 when it is gone)."""
    fields = proc_stat(pid)
    return int(fields[1]) if fields else 0


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline") as handle:
            return handle.read().replace("\0", " ")
    except OSError:
        return ""


def test_a_port_in_use_is_one_clear_line(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    env = {**os.environ, "FRAME_SHIFT_HOME": str(tmp_path), "DATA_DIR": str(tmp_path / "data"), "PORT": str(port)}
    try:
        done = subprocess.run(
            [sys.executable, "scripts/run.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        taken.close()
    assert done.returncode == 1
    assert f"[run] port {port} on 127.0.0.1 is already in use" in done.stderr and "set PORT" in done.stderr, done.stderr
    assert "starting" not in done.stdout, "nothing may start when the port is taken"


def test_flower_settings_are_checked_at_start_although_flower_starts_later(tmp_path):
    """Flower starts at its first visit (fix 26), but a setting it would refuse stops make run at once, with
    Flower's own line and run.py's: nobody finds out only when opening Flower."""
    port, flower_port, redis_port = free_port(), free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SENTRY", "DATABASE_URL", "HOST"))},
        "FRAME_SHIFT_HOME": str(tmp_path),
        "DATA_DIR": str(tmp_path / "data"),
        "PORT": str(port),
        "FLOWER_PORT": str(flower_port),
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "FLOWER_BASIC_AUTH": "no-password-here",
    }
    done = subprocess.run(
        [sys.executable, "scripts/run.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "frameshift flower: configuration problem: FLOWER_BASIC_AUTH entry 1 is not user:password" in done.stderr
    assert "[run] flower refused its settings (above); fix them and run make run again" in done.stderr
    assert "starting web" not in done.stdout and "no-password-here" not in done.stdout + done.stderr


def test_make_run_serves_the_readme_api_and_stops_cleanly(tmp_path):
    media, data = tmp_path / "media", tmp_path / "data"
    media.mkdir()
    make_clip(media / "demo.mp4", seconds=2)
    port, flower_port, redis_port = free_port(), free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SENTRY", "DATABASE_URL", "HOST"))},
        "FRAME_SHIFT_HOME": str(media),
        "DATA_DIR": str(data),
        "PORT": str(port),
        "FLOWER_PORT": str(flower_port),
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",  # nothing answers there: run.py starts redis-server
        "FRAME_SHIFT_ADMIN_PASSWORD": "readme-admin-pw",
    }
    log = (tmp_path / "run.log").open("w")
    # Started from another folder than the repository: the children still find their files (gunicorn.conf.py).
    script = str(ROOT / "scripts" / "run.py")
    run = subprocess.Popen([sys.executable, script], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: call("GET", f"{base}/healthz")[0] == 200 or run.poll() is not None,
            90,
            0.5,
            what="make run's web process",
        )
        assert run.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
        assert redis.Redis(port=redis_port).config_get("hz") == {"hz": "2"}  # its cron twice a second (fix 31)
        status, denied = call("POST", f"{base}/api/jobs", {"inputs": ["demo.mp4"], "spec": {}})
        assert status == 401 and "Authorization: Bearer" in denied["error"]
        basic = base64.b64encode(b"admin:readme-admin-pw").decode()
        status, made = call("POST", f"{base}/api/tokens", {"name": "curl"}, {"Authorization": f"Basic {basic}"})
        assert status in (200, 201), made
        bearer = {"Authorization": f"Bearer {made['token']}"}
        spec = {"video_codec": "libx265", "crf": 24, "preset": "fast", "container": "mkv"}
        status, created = call("POST", f"{base}/api/jobs", {"inputs": ["demo.mp4"], "spec": spec}, bearer)
        assert status in (200, 201), created
        job_id = created["jobs"][0]["id"]
        job = wait_for(
            lambda: (d := call("GET", f"{base}/api/jobs/{job_id}", headers=bearer)[1]).get("status")
            in ("succeeded", "failed")
            and d,
            90,
            0.5,
            what="the job to finish",
        )
        assert job["status"] == "succeeded", job
        assert job["follower"].startswith("local@")
        assert (media / "demo_converted.mkv").exists() or os.path.exists(job["output_path"])
        # Flower starts at its first visit (fix 26): until then no process, its port held by run.py.
        assert not any("flower" in cmdline(pid) for pid in descendants(run.pid))
        flower = f"http://127.0.0.1:{flower_port}/"
        assert call("GET", flower)[0] == 401  # the first visit waits for Flower, which answers: behind a login
        children = descendants(run.pid)
        names = {cmdline(pid) for pid in children}
        for part in ("redis-server", "-m app.serve -c gunicorn.conf.py", "monitor", "worker", "flower"):
            assert any(part in name for name in names), (part, names)
        flower_pid = next(pid for pid in children if "-m tasks.flower_socket" in cmdline(pid))
        os.kill(flower_pid, signal.SIGKILL)  # gone: started again at the next visit
        wait_for(lambda: "flower was killed by signal 9" in (tmp_path / "run.log").read_text(), 30, 0.2, what="exit")
        assert call("GET", flower)[0] == 401
        assert "[run] restarting flower (restart 1)" in (tmp_path / "run.log").read_text()
        children = descendants(run.pid)
        # The Python processes are forks of run.py (one set of imported libraries, shared: fix 11), each
        # titled with the command it runs; the worker's main process retitles itself (Celery's "celeryd").
        direct = {cmdline(pid) for pid in children if parent_of(pid) == run.pid}
        assert any("-m flask --app app monitor" in name for name in direct), direct
        assert any("-m tasks.flower_socket" in name for name in direct), direct
        assert "forked from run.py" in (tmp_path / "run.log").read_text()
        # A crashed process is restarted (with a back-off and a log line); the system goes on working.
        worker = next(pid for pid in children if "MainProcess" in cmdline(pid) and parent_of(pid) == run.pid)
        os.kill(worker, signal.SIGKILL)
        wait_for(lambda: "[run] restarting worker" in (tmp_path / "run.log").read_text(), 30, 0.2, what="restart")
        assert "worker was killed by signal 9" in (tmp_path / "run.log").read_text()
        status, again = call("POST", f"{base}/api/jobs", {"inputs": ["demo.mp4"], "spec": spec}, bearer)
        assert status in (200, 201), again
        second = again["jobs"][0]["id"]
        job = wait_for(
            lambda: (d := call("GET", f"{base}/api/jobs/{second}", headers=bearer)[1]).get("status")
            in ("succeeded", "failed")
            and d,
            120,
            0.5,
            what="a job on the restarted worker",
        )
        assert job["status"] == "succeeded", job
        assert run.poll() is None, "make run stopped instead of restarting the worker"
        children = descendants(run.pid)
    finally:
        run.send_signal(signal.SIGINT)  # Ctrl-C
        run.wait(60)
        log.close()
    assert run.returncode == 0, (tmp_path / "run.log").read_text()[-3000:]
    wait_for(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in children), 20, what="every child to exit")
