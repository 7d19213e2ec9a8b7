"""`make run`'s system for the benchmarks: `python scripts/run.py` with private ports and folders, and
every process below it classified from /proc (cmdline and parent) by role: supervisor (run.py), redis,
web (gunicorn master and workers), monitor, worker main, pool, flower. CPU (utime+stime) and memory
(RSS, PSS from smaps_rollup) per process; FFmpeg and ffprobe run by the pool are not ours and are
reported apart. bench/footprint.py measures with it.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, TOKEN, Api, api_token, wait_healthy  # noqa: E402
from bench.pool_children import children  # noqa: E402
from tests.support import free_port, wait_for  # noqa: E402

ROLES = ("supervisor", "redis", "web", "monitor", "worker main", "pool", "flower")
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def proc_table() -> dict[int, tuple[int, str, list[str]]]:
    """Every process: pid -> (parent pid, comm, argv)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        table[int(entry)] = (
            int(stat[stat.rindex(")") + 2 :].split()[1]),
            comm,
            [a.decode(errors="replace") for a in argv if a],
        )
    return table


def stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def own_cpu(pid: int) -> float:
    """utime+stime of pid alone (not its children)."""
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / TICK


def reaped_cpu(pid: int) -> float:
    """cutime+cstime of pid: what its reaped children (FFmpeg, ffprobe) spent."""
    fields = stat_fields(pid)
    return (int(fields[13]) + int(fields[14])) / TICK


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of pid in kB from /proc/PID/smaps_rollup."""
    rss = pss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


class MakeRun:
    """`python scripts/run.py` with private ports and folders, its processes found and classified from /proc."""

    def __init__(self, keep: bool) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="frameshift-bench-footprint-"))
        self.keep = keep
        self.media, self.data = self.tmp / "media", self.tmp / "data"
        self.media.mkdir()
        self.data.mkdir()
        self.port = free_port()
        redis_port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SENTRY", "DATABASE_URL", "HOST"))},
            "FRAME_SHIFT_HOME": str(self.media),
            "DATA_DIR": str(self.data),
            "PORT": str(self.port),
            "FLOWER_PORT": str(free_port()),
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",  # nothing answers: run.py starts redis-server
            "SHARED_TOKEN": TOKEN,
            "FRAME_SHIFT_ADMIN_PASSWORD": "bench-admin-password",
        }
        self.log = self.tmp / "run.log"
        self.proc: subprocess.Popen | None = None
        self.roles: dict[int, str] = {}

    @property
    def db_path(self) -> Path:
        return self.data / "frameshift.db"

    def start(self) -> Api:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "scripts/run.py"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        api = Api(self.port)
        died = lambda: None if self.proc.poll() is None else f"run.py exited:\n{self.log.read_text()[-3000:]}"  # noqa: E731
        wait_healthy(api, died, 120, 0.2, what="make run's web process")
        wait_for(lambda: self.followers_online() >= 1, 120, 0.2, what="the worker online in the monitor")
        api.token = api_token({**self.env, "PYTHONPATH": str(ROOT)})
        self.classify()
        return api

    def open_flower(self) -> int:
        """Visit Flower as an operator would (make run starts it at the first visit, fix 26); its HTTP status."""
        import base64
        import urllib.request

        password = (self.data / "flower_password").read_text().strip()
        login = base64.b64encode(f"admin:{password}".encode()).decode()
        url = f"http://127.0.0.1:{self.env['FLOWER_PORT']}/workers"
        request = urllib.request.Request(url, headers={"Authorization": f"Basic {login}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status

    def followers_online(self) -> int:
        if not self.db_path.exists():
            return 0
        try:
            with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5) as conn:
                return conn.execute("SELECT count(*) FROM followers WHERE online = 1").fetchone()[0]
        except sqlite3.OperationalError:
            return 0

    def job(self, job_id: int) -> dict:
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5) as conn:
            conn.row_factory = sqlite3.Row
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return dict(row) if row else {}

    def classify(self) -> dict[int, str]:
        """Find every process below run.py and give it a role (FFmpeg/ffprobe children are left out)."""
        table = proc_table()
        root = self.proc.pid
        roles = {root: "supervisor"}
        frontier = [root]
        while frontier:
            parent = frontier.pop()
            for pid, (ppid, comm, argv) in table.items():
                if ppid != parent or pid in roles:
                    continue
                # run.py's children have their command line as one title (setproctitle); Celery's
                # worker retitles itself "[celeryd: NAME:MainProcess] ...", gunicorn "gunicorn: master ...".
                text = " ".join(argv)
                if comm in ("ffmpeg", "ffprobe"):
                    continue
                if roles.get(parent) in ("worker main", "pool"):
                    role = "pool"  # a forked pool process has its parent's command line
                elif "redis-server" in text:
                    role = "redis"
                elif "gunicorn" in text or "-m app.serve" in text:
                    role = "web"
                elif " monitor" in text and "flask" in text:
                    role = "monitor"
                elif "flower" in text:
                    role = "flower"
                elif "celeryd" in text or (" worker" in text and "celery" in text):
                    role = "worker main"
                elif roles.get(parent) == "web":
                    role = "web"
                else:
                    role = f"other ({comm})"
                roles[pid] = role
                frontier.append(pid)
        self.roles = roles
        return roles

    def cpu(self) -> dict[int, float]:
        out = {}
        for pid in self.roles:
            try:
                out[pid] = own_cpu(pid)
            except OSError:
                continue
        return out

    def pool_children_cpu(self) -> float:
        total = 0.0
        for pid, role in self.roles.items():
            if role in ("pool", "worker main"):
                try:
                    total += reaped_cpu(pid)
                except OSError:
                    pass
        return total

    def memory(self) -> dict[str, tuple[float, float]]:
        """Role -> (RSS MiB, PSS MiB) summed over its processes."""
        out: dict[str, list[float]] = {}
        for pid, role in self.roles.items():
            try:
                rss, pss = memory_kb(pid)
            except OSError:
                continue
            entry = out.setdefault(role, [0.0, 0.0])
            entry[0] += rss / 1024
            entry[1] += pss / 1024
        return {role: (v[0], v[1]) for role, v in out.items()}

    def ffmpeg_children(self) -> list[int]:
        """The pool's FFmpeg processes. Each starts from a thread of its own (tasks/spawning.py, since fix 39), so the
        children of every thread are read: the main thread's alone held none, and footprint printed 0 for FFmpeg's
        wall and CPU inside the system and n/a for submit -> FFmpeg started (4-5 Dec)."""
        found = []
        for pid, role in self.roles.items():
            if role != "pool":
                continue
            try:
                kids = children(pid)
            except OSError:
                continue
            for child in kids:
                try:
                    if Path(f"/proc/{child}/comm").read_text().strip() == "ffmpeg":
                        found.append(int(child))
                except OSError:
                    continue
        return found

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # what Ctrl-C does
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.keep:
            print(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
