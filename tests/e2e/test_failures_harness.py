"""Harness for destructive tests: whole independent systems, run side by side.

Each scenario gets its own redis-server, monitor, followers, database and media folder, so killing
or restarting anything never touches another test. Scenarios start together the first time any
of them is asked for (they spend most of their time waiting on real processes), and each test
then checks the observations of its own scenario. This module holds no tests itself.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.conftest import TOKEN
from tests.e2e.conftest import Stack
from tests.media import ffmpeg_pids, make_clip
from tests.support import HOSTNAME, Proc, RedisServer, wait_for

if TYPE_CHECKING:
    from tests.e2e.web_process import Web

# -vf realtime makes FFmpeg run at wall-clock speed: an 8 s clip takes 8 s, whatever the machine.
REALTIME = {"mode": "custom", "custom_args": "-c:v libx264 -preset ultrafast -vf realtime -an", "container": "mp4"}
FAST = {
    "video_codec": "libx264",
    "preset": "ultrafast",
    "crf": 30,
    "container": "mkv",
    "audio_codec": "aac",
    "bit_depth": 8,
}
FINAL = ("succeeded", "failed", "cancelled")
ACTIVE = ("dispatched", "running")

Scenario = Callable[["System"], dict[str, Any]]
SCENARIOS: dict[str, tuple[Scenario, dict[str, str]]] = {}
# Scenarios that load the whole machine (a minute of full CPU): they run alone, after the others ended,
# so that their load never skews the timing of another scenario.
EXCLUSIVE: set[str] = set()
SHARED_AT_ONCE = 8
_runs: dict[str, Future] = {}
_lock = threading.Lock()


def scenario(name: str, exclusive: bool = False, **env: str) -> Callable[[Scenario], Scenario]:
    """Register a scenario; env goes to its monitor, followers and leader. An exclusive one runs alone."""

    def register(func: Scenario) -> Scenario:
        SCENARIOS[name] = (func, env)
        if exclusive:
            EXCLUSIVE.add(name)
        return func

    return register


def needs(name: str) -> Callable[[Callable], Callable]:
    """Mark a test as checking scenario `name` (only scenarios of selected tests are run)."""

    def mark(test: Callable) -> Callable:
        test.scenario = name  # type: ignore[attr-defined]
        return test

    return mark


def outcome(request: Any, clips: dict[str, Path], timeout: float = 900) -> dict[str, Any]:
    """Return what the scenario of this test observed; the first call starts those of all selected tests."""
    with _lock:
        if not _runs:
            wanted = {getattr(getattr(item, "function", None), "scenario", None) for item in request.session.items} - {
                None
            }
            _start_all(request.getfixturevalue("tmp_path_factory").mktemp("failures"), clips, wanted)
    return _runs[request.function.scenario].result(timeout=timeout)


def _start_all(root: Path, clips: dict[str, Path], wanted: set[str]) -> None:
    media = root / "clips"
    media.mkdir()
    made = {
        "rt4": make_clip(media / "rt4.mp4", seconds=4, size="320x180", audio=False),
        "rt8": make_clip(media / "rt8.mp4", seconds=8, size="320x180", audio=False),
        "rt30": make_clip(media / "rt30.mp4", seconds=30, size="320x180", audio=False),
        "rt60": make_clip(media / "rt60.mp4", seconds=60, size="320x180", audio=False),
        "short": clips["short"],
        "other": clips["other"],
    }
    chosen = {name: SCENARIOS[name] for name in sorted(wanted)}
    # Leader apps are built here, one after another (migrations are not thread-safe); the rest runs in threads.
    systems = {name: System(root / name, made, **env) for name, (_, env) in chosen.items()}
    shared = [name for name in chosen if name not in EXCLUSIVE]
    # At most SHARED_AT_ONCE at a time: with every scenario at once (15+ systems, each with redis, monitor,
    # followers and FFmpeg) on 2 cores, timings stretched past the scenarios' own bounds.
    pool = ThreadPoolExecutor(max_workers=max(1, min(len(shared), SHARED_AT_ONCE)), thread_name_prefix="scenario")
    for name in shared:
        _runs[name] = pool.submit(_run, chosen[name][0], systems[name])
    alone = [name for name in chosen if name in EXCLUSIVE]
    if alone:
        after = [_runs[name] for name in shared]
        serial = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scenario-alone")
        for name in alone:
            _runs[name] = serial.submit(_run_after, after, chosen[name][0], systems[name])
        serial.shutdown(wait=False)
    pool.shutdown(wait=False)


def _run_after(others: list[Future], func: Scenario, system: System) -> dict[str, Any]:
    for other in others:
        try:
            other.result()
        except Exception:  # noqa: BLE001  (its own test reports it)
            pass
    return _run(func, system)


def _run(func: Scenario, system: System) -> dict[str, Any]:
    try:
        return func(system)
    finally:
        system.close()


class System(Stack):
    """A whole Frame Shift on this machine, with a leader app (the web side) in this process."""

    def __init__(self, root: Path, clips: dict[str, Path], **env: str) -> None:
        root.mkdir(parents=True)
        (root / "redis").mkdir()
        redis_server = RedisServer(root / "redis").start()
        media = root / "media"
        media.mkdir()
        self.clips = {}
        for key, path in clips.items():
            os.link(path, media / path.name)
            self.clips[key] = media / path.name
        super().__init__(root, redis_server, media)
        self.extra = {"FOLLOWER_LOST_AFTER": "6", **env}
        self.workers: dict[str, Proc] = {}
        from app import create_app

        self.app = create_app(
            {
                "FRAME_SHIFT_HOME": str(media),
                "DATA_DIR": str(self.data),
                "REDIS_URL": redis_server.url,
                "SHARED_TOKEN": TOKEN,
                "TESTING": True,
                "AUTH_DISABLED": True,
                "FOLLOWER_LOST_AFTER": int(self.extra["FOLLOWER_LOST_AFTER"]),
                "AUTO_RETRY": int(self.extra.get("AUTO_RETRY", "0")),
            }
        )

    def env(self, **extra: str) -> dict[str, str]:
        return super().env(**{**self.extra, **extra})

    def worker(self, name: str, concurrency: int = 1, **extra: str) -> Proc:
        """Start (or restart) follower `name` and wait until it advertises itself."""
        proc = self.start_worker(name, concurrency, **extra)
        self.workers[name] = proc
        return proc

    @staticmethod
    def full(name: str) -> str:
        """Return the Celery hostname of follower `name`."""
        return f"{name}@{HOSTNAME}"

    # The web side, as a browser or curl would use it.
    def api(self, method: str, url: str, **kwargs: Any) -> Any:
        response = getattr(self.app.test_client(), method)(url, **kwargs)
        assert response.status_code < 400, (url, response.status_code, response.get_json())
        return response.get_json()

    def submit(self, clip: str, spec: dict[str, Any], count: int = 1) -> list[dict[str, Any]]:
        return self.api("post", "/api/jobs", json={"inputs": [str(self.clips[clip])] * count, "spec": spec})["jobs"]

    def job(self, job_id: int) -> dict[str, Any]:
        return self.api("get", f"/api/jobs/{job_id}")

    def wait_job(
        self, job_id: int, check: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> dict[str, Any]:
        return wait_for(lambda: check(d := self.job(job_id)) and d, timeout, 0.1, what=f"job {job_id} {what}")

    def wait_running(self, job_id: int, timeout: float = 120) -> dict[str, Any]:
        """Wait until FFmpeg of job_id reports progress; return the job."""
        return self.wait_job(job_id, lambda d: d["status"] == "running" and d["percent"] > 0, timeout, "running")

    def wait_final(self, job_id: int, timeout: float = 60) -> dict[str, Any]:
        return self.wait_job(job_id, lambda d: d["status"] in FINAL, timeout, "finished")

    def wait_monitor_sees(self, *names: str, timeout: float = 120) -> None:
        """Wait until the monitor lists these followers online (it takes a while to start under load)."""
        wanted = [self.full(name) for name in names]
        wait_for(
            lambda: all(self.followers().get(n, {}).get("online") for n in wanted),
            timeout,
            0.2,
            what=f"the monitor to see {', '.join(names)} online",
        )

    def followers(self) -> dict[str, dict[str, Any]]:
        return {f["name"]: f for f in self.api("get", "/api/followers")["followers"]}

    def start_web(self) -> Web:
        """Start the real web process (gunicorn with the project's gunicorn.conf.py) on loopback."""
        from tests.e2e.web_process import Web

        return Web(self).start()

    def close(self) -> None:
        """Stop every process of this system; kill any FFmpeg still working on its media."""
        self.stop()
        for pid in ffmpeg_pids(str(self.media)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.redis_server.stop()
        from app.extensions import db

        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


def parent_pid(pid: int) -> int:
    """Return the parent of pid (0 when it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def ffmpeg_of_workers(workers: dict[int, str], marker: str) -> dict[str, list[list[str]]]:
    """Return the command lines of running FFmpeg processes (matching marker) per follower name.

    A follower's FFmpeg is a child of one of its pool processes, which are children of the worker.
    """
    found: dict[str, list[list[str]]] = {name: [] for name in workers.values()}
    for pid in ffmpeg_pids(marker):
        owner = workers.get(parent_pid(parent_pid(pid)))
        if owner is None:
            continue
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        argv = [a for a in argv if a]
        if argv:  # empty while the process is exiting
            found[owner].append(argv)
    return found


def watch(sample: Callable[[], Any], stop: threading.Event, every: float = 0.1) -> list[tuple[float, Any]]:
    """Sample in a thread until stop is set; return the (time, value) list it fills."""
    samples: list[tuple[float, Any]] = []

    def run() -> None:
        while not stop.is_set():
            samples.append((time.monotonic(), sample()))
            stop.wait(every)

    threading.Thread(target=run, daemon=True).start()
    return samples
