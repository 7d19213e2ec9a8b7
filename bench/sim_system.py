"""What bench/leader_sim.py runs each step on: a fresh system whose followers are simulated (bench/simfollower.py),
with queued jobs, a client of the live stream and a sampler of the leader's CPU and memory."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from bench.harness import BENCH, Proc, System, cpu_seconds, rss_mb
from bench.progress_freshness import StreamReader

# split=never: with "auto" the monitor probes each queued input (ffprobe) in its loop before dispatch, which
# stalls it for seconds on these empty inputs (measured and reported in docs/benchmarks.md); not what this measures.
SPEC = {
    "video_codec": "libx264",
    "preset": "ultrafast",
    "bit_depth": 8,
    "audio_codec": "aac",
    "container": "mkv",
    "split": "never",
}
PER_FOLLOWER = 8
BATCH = 5000


def worker_pid(pid: int) -> int:
    """Return gunicorn's (only) worker process under its master pid, or pid itself."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return pid
    return int(children[0]) if children else pid


class Usage(threading.Thread):
    """Every second: CPU seconds and RSS of the named processes."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.samples: list[tuple[float, dict[str, tuple[float, float]]]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            now = {}
            for name, pid in self.pids.items():
                try:
                    now[name] = (cpu_seconds(pid), rss_mb(pid))
                except (OSError, ValueError):
                    pass
            self.samples.append((time.time(), now))
            self.stop.wait(1.0)

    def cpu(self, name: str, start: float, end: float) -> float:
        """% of one core used by name between start and end."""
        inside = [(t, s[name][0]) for t, s in self.samples if start <= t <= end and name in s]
        if len(inside) < 2:
            return float("nan")
        return 100 * (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])

    def peak_rss(self, name: str) -> float:
        return max((s[name][1] for _, s in self.samples if name in s), default=float("nan"))


def start_system(args, slots: int, jobs: int, job_seconds: float, jitter: float):
    """A fresh system with `jobs` queued jobs and `slots` simulated slots; the monitor is started last."""
    system = System("leader-sim", keep=args.keep)
    api = system.start_web()
    folder = system.media / "in"
    folder.mkdir()
    inputs = []
    for i in range(jobs):
        path = folder / f"clip{i:05d}.mkv"
        path.touch()
        inputs.append(str(path))
    for i in range(0, jobs, BATCH):
        api.create_jobs(inputs[i : i + BATCH], SPEC)
    followers = max(1, slots // PER_FOLLOWER)
    # --sim-procs N: the followers spread over N simulator processes (distinct name prefixes), their counters summed.
    procs = max(1, min(getattr(args, "sim_procs", 1) or 1, followers))
    stats, sims = [], []
    for k in range(procs):
        share = followers // procs + (1 if k < followers % procs else 0)
        stats.append(system.tmp / f"sim-stats-{k}.json")
        argv = [sys.executable, str(BENCH / "simfollower.py"), "--followers", str(share), "--prefix", f"sim{k}x"]
        argv += ["--slots", str(slots // followers), "--job-seconds", str(job_seconds), "--jitter", str(jitter)]
        if getattr(args, "lean", False):
            argv.append("--lean")  # one thread sends every slot's reports (bench/sim_bus.py)
        if getattr(args, "wire", False):
            argv.append("--wire")  # one thread runs every slot's attempts, pipelined (bench/sim_wire.py)
        niceness = getattr(args, "sim_nice", 0) or 0
        if niceness:  # the simulators yield the cores to the leader, as followers on their own machines would
            argv = ["nice", "-n", str(niceness), *argv]
        sim = Proc([*argv, "--stats", str(stats[-1])], system.env(), system.logs / f"simfollower-{k}.log").start()
        if niceness:  # each process the harness starts leads its own session, so its own scheduling autogroup
            try:  # (kernel.sched_autogroup_enabled), between which a process's nice counts for nothing: nice the group
                Path(f"/proc/{sim.pid}/autogroup").write_text(str(niceness))
            except OSError:
                pass  # no autogroups here: the nice above is enough
        system.procs.append(sim)
        sims.append(sim)
    started = time.time()
    for sim in sims:
        while "ready" not in sim.output():
            if not sim.alive() or time.time() - started > 120:
                raise RuntimeError(f"simfollower did not start:\n{sim.output()[-3000:]}")
            time.sleep(0.2)
    reader = StreamReader(system.web_port, api.token)
    reader.start()
    reader.connected.wait(10)
    monitor = system.start_monitor()
    pids = {
        "monitor": monitor.pid,
        "web": worker_pid(system.web.pid),
        "redis": system.redis_server.proc.pid,
        **{("sim" if len(sims) == 1 else f"sim{k}"): sim.pid for k, sim in enumerate(sims)},
    }
    usage = Usage(pids)
    usage.start()
    return system, reader, usage, stats, followers


def sim_counts(stats: list[Path]) -> dict:
    """The simulators' counters, summed over their processes."""
    total: dict = {}
    for path in stats:
        try:
            counts = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for key, value in counts.items():
            if key != "t":
                total[key] = total.get(key, 0) + value
    return total
