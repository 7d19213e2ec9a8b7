"""Start every command docker-compose.yml names, as local processes, and run a job through them.

No Docker here: each service's command, environment and healthcheck are taken from the compose
file and translated to this machine (ports to free local ports, /media and /data to temporary
folders, the `redis` host to loopback, %h to the service's hostname). Real redis-server with a
password, gunicorn, the monitor, Flower with basic auth and two Celery followers.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.deploy.compose import environment, interpolate, load
from tests.recorder import Recorder
from tests.support import ROOT, Proc, free_port, wait_for

DOTENV = {
    "REDIS_PASSWORD": "composeRedisPw42",
    "SHARED_TOKEN": "compose-shared-token-0123456789",
    "FLOWER_BASIC_AUTH": "ops:flower-password-0123",
    "FRAME_SHIFT_ADMIN_PASSWORD": "compose-admin-pw",
}


class Translator:
    """Map container addresses and paths to this machine."""

    def __init__(self, tmp: Path) -> None:
        self.ports = {"6379": str(free_port()), "5000": str(free_port()), "5555": str(free_port())}
        self.paths = {"/media": str(tmp / "media"), "/data": str(tmp / "data")}
        for path in self.paths.values():
            Path(path).mkdir()

    def value(self, text: str) -> str:
        text = text.replace("@redis:6379", f"@127.0.0.1:{self.ports['6379']}").replace("0.0.0.0", "127.0.0.1")
        for container, local in self.paths.items():
            if text == container or text.startswith(container + "/"):
                text = local + text[len(container) :]
        for container, local in self.ports.items():
            if text == container or text.endswith("=" + container):
                text = text[: -len(container)] + local
        return text

    def argv(self, command: list[str], hostname: str | None) -> list[str]:
        head, rest = command[0], [self.value(a).replace("%h", hostname or "%h") for a in command[1:]]
        if head in ("celery", "flask", "gunicorn"):
            return [sys.executable, "-m", head, *rest]
        if head == "python":
            return [sys.executable, *rest]
        if head == "redis-server":
            return [head, *rest, "--port", self.ports["6379"], "--bind", "127.0.0.1", "--dir", self.paths["/data"]]
        if head == "redis-cli":
            return [head, "-p", self.ports["6379"], *rest]
        raise AssertionError(f"compose names a command this test cannot run locally: {command}")

    def env(self, service: dict, hostname: str | None, dotenv: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWER_", "SENTRY_"))}
        env.update(dotenv if service.get("env_file") else {})
        env.update({k: self.value(v) for k, v in environment(service).items()})
        env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        if hostname:
            env["HOSTNAME"] = hostname  # what Docker sets inside the container
        return env


class Deployment:
    """The compose services as local processes."""

    def __init__(self, tmp: Path, dotenv: dict[str, str]) -> None:
        self.tmp, self.dotenv = tmp, dotenv
        self.compose = interpolate(load(), dotenv)
        self.local = Translator(tmp)
        self.procs: dict[str, Proc] = {}

    def start(self, name: str) -> Proc:
        service = self.compose["services"][name]
        hostname = service.get("hostname")
        proc = Proc(
            self.local.argv(service["command"], hostname),
            self.local.env(service, hostname, self.dotenv),
            self.tmp / f"{name}.log",
        ).start()
        self.procs[name] = proc
        return proc

    def healthy(self, name: str) -> bool:
        service = self.compose["services"][name]
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD", f"{name}: use the exec form for healthchecks"
        hostname = service.get("hostname")
        done = subprocess.run(
            self.local.argv(test[1:], hostname),
            env=self.local.env(service, hostname, self.dotenv),
            cwd=ROOT,
            capture_output=True,
            timeout=30,
        )
        return done.returncode == 0

    def wait_healthy(self, name: str, timeout: float = 60) -> None:
        proc = self.procs[name]
        wait_for(lambda: not proc.alive() or self.healthy(name), timeout, interval=0.5, what=f"{name} healthy")
        assert proc.alive(), f"{name} exited:\n{proc.output()[-3000:]}"

    def url(self, path: str, service: str = "web") -> str:
        port = self.local.ports["5000" if service == "web" else "5555"]
        return f"http://127.0.0.1:{port}{path}"

    def stop(self) -> None:
        for name in ("flower", "follower1", "follower2", "monitor", "web", "redis"):
            if name in self.procs:
                self.procs[name].stop(30)


def call(url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def basic(credentials: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


@pytest.fixture
def deployment(tmp_path, clips):
    with Recorder() as hook:
        system = Deployment(tmp_path, {**DOTENV, "APPRISE_URLS": f"json://127.0.0.1:{hook.port}/hook"})
        shutil.copy(clips["short"], Path(system.local.paths["/media"]) / "holiday.mp4")
        system.hook = hook
        try:
            yield system
        finally:
            system.stop()


def test_every_compose_service_runs_locally_and_converts_a_file(deployment):
    system = deployment
    system.start("redis")
    system.wait_healthy("redis", 20)
    for name in ("web", "monitor", "flower", "follower1", "follower2"):
        system.start(name)
    for name in ("web", "monitor", "flower", "follower1", "follower2"):
        system.wait_healthy(name, 90)

    # Flower wants the basic-auth login from the environment.
    assert call(system.url("/api/workers", "flower"))[0] == 401
    flower_auth = basic(DOTENV["FLOWER_BASIC_AUTH"])

    def flower_workers() -> set[str]:
        status, body = call(system.url("/api/workers?refresh=1", "flower"), headers=flower_auth)
        assert status == 200, body
        return set(json.loads(body))

    wait_for(
        lambda: {"follower@follower1", "follower@follower2"} <= flower_workers(),
        30,
        0.5,
        what="Flower to see both followers",
    )

    # The API needs a token; the first admin's password came from the environment.
    assert call(system.url("/api/jobs"))[0] == 401
    status, issued = call(
        system.url("/api/tokens"), "POST", {"name": "test"}, basic(f"admin:{DOTENV['FRAME_SHIFT_ADMIN_PASSWORD']}")
    )
    assert status == 201, issued
    auth = {"Authorization": f"Bearer {json.loads(issued)['token']}"}
    spec = {"video_codec": "libx264", "preset": "ultrafast", "crf": 30, "container": "mkv", "audio_codec": "libopus"}
    status, created = call(system.url("/api/jobs"), "POST", {"inputs": ["holiday.mp4"], "spec": spec}, auth)
    assert status == 201, created
    job_id = json.loads(created)["jobs"][0]["id"]

    def finished():
        job = json.loads(call(system.url(f"/api/jobs/{job_id}"), headers=auth)[1])
        return job if job["status"] in ("succeeded", "failed", "cancelled") else None

    job = wait_for(finished, 90, 0.25, what="the job to finish")
    assert job["status"] == "succeeded", job
    assert job["follower"] in ("follower@follower1", "follower@follower2")
    output = Path(job["output_path"])
    assert output.parent == Path(system.local.paths["/media"]) and output.name == "holiday_converted.mkv"
    assert output.stat().st_size == job["output_size"] > 0

    def metrics() -> str:
        return call(system.url("/metrics"), headers=auth)[1].decode()

    text = wait_for(
        lambda: m if "frameshift_follower_slots_total 3" in (m := metrics()) else None,
        30,
        what="metrics with both followers (2 + 1 slots)",
    )
    assert 'frameshift_jobs{status="succeeded"} 1' in text and "frameshift_queue_length 0" in text
    # A finished single job sends one notification through Apprise.
    titles = wait_for(lambda: [json.loads(b)["title"] for b in system.hook.bodies()], 20, what="notification")
    assert titles == ["Frame Shift: job finished: holiday.mp4"]

    # A healthcheck that cannot fail proves nothing: a stopped monitor is reported unhealthy.
    system.procs["monitor"].stop()
    assert wait_for(lambda: not system.healthy("monitor"), 20, what="monitor healthcheck to fail")
