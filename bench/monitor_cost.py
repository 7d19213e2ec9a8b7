"""The monitor's own CPU a job, in one process: its dispatch rounds and event batches for zero-length jobs.

bench/leader_sim.py measures the leader's throughput with simulated followers, every process on the same two
cores: its figures move with the machine's hour and with what the simulators take. This one measures only what
the monitor's main thread does for a job, without the event thread, the network's other side or other processes
competing: a real SQLite database and a real redis-server of its own, --jobs jobs (`split: never`) made through
the web's own service, 25 trusted followers of 8 slots (their rows in the database, as the monitor's follower
table keeps them), and rounds of what the monitor's loop does: `dispatch_ready` (load, new attempts, commit, one
publish batch), then, for every attempt it sent, the result a follower stores (outside the measured time) and
the events the monitor then applies (task-started, the first progress report, task-succeeded) through
`EventHandler.handle_batch` in batches of --batch events. CPU is `time.process_time` over the measured calls only;
--profile prints cProfile's top functions (its overhead inflates the time; the figure printed first is from a run
without it).

    python bench/monitor_cost.py [--jobs 4000] [--runs 3] [--batch 60] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import RedisServer  # noqa: E402

FOLLOWERS, SLOTS = 25, 8
RESULT = {
    "output": "/media/out.mkv",
    "argv": ["ffmpeg", "-i", "in.mkv", "out.mkv"],
    "exit_code": 0,
    "input_size": 0,
    "output_size": 0,
    "duration": 0.0,
    "video_codec": "h264",
    "audio_codec": "aac",
    "format": "matroska,webm",
    "log_tail": ["simulated"],
}


def one_run(jobs: int, batch: int, profile: cProfile.Profile | None) -> float:
    """Milliseconds of the monitor's CPU a job over one run of `jobs` jobs."""
    tmp = Path(tempfile.mkdtemp(prefix="monitor-cost-"))
    server = RedisServer(tmp).start()
    try:
        media, data = tmp / "media", tmp / "data"
        media.mkdir()
        data.mkdir()
        for i in range(20):
            (media / f"clip{i}.mkv").write_bytes(b"never read")
        from app import create_app

        app = create_app(
            {
                "FRAME_SHIFT_HOME": str(media),
                "DATA_DIR": str(data),
                "REDIS_URL": server.url,
                "SHARED_TOKEN": "b" * 32,
                "TESTING": True,
                "AUTH_DISABLED": True,
            }
        )
        return measure(app, media, jobs, batch, profile)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def measure(app, media: Path, jobs: int, batch: int, profile: cProfile.Profile | None) -> float:
    from app.extensions import db, get_celery
    from app.models import Follower
    from app.monitor.dispatcher import dispatch_ready, stop_result_subscriptions
    from app.monitor.events import EventHandler
    from app.monitor.registry import FollowerState, Registry
    from app.services.jobs import create_jobs

    with app.app_context():
        inputs = [str(media / f"clip{i % 20}.mkv") for i in range(jobs + FOLLOWERS * SLOTS)]
        for k in range(0, len(inputs), 500):
            create_jobs(inputs[k : k + 500], {"split": "never", "if_exists": "rename"})
        celery = get_celery(app)
        stop_result_subscriptions(celery)
        registry = Registry(lost_after=60)
        for f in range(FOLLOWERS):
            name = f"w{f:02d}@bench"
            registry.followers[name] = FollowerState(
                name=name, concurrency=SLOTS, encoders=["libx264", "libx265"], last_seen=time.time() + 3600, token="ok"
            )
            db.session.add(Follower(name=name, online=True, concurrency=SLOTS, encoders=["libx264", "libx265"]))
        db.session.commit()
        handler = EventHandler(celery, registry)
        backend = celery.backend
        cpu, done, first = 0.0, 0, True
        while done < jobs:
            began = time.process_time()
            if profile and not first:
                profile.enable()
            sent: dict[str, int] = {}
            sent_now = dispatch_ready(celery, registry, sent, None, None)
            handler.jobs_by_task.update(sent)
            if profile and not first:
                profile.disable()
            spent = time.process_time() - began
            if not sent_now:
                break
            now, events = time.time(), []
            for task_id in sent:  # the followers' side: not measured
                backend.store_result(task_id, RESULT, "SUCCESS")
                host = "w00@bench"
                events.append({"type": "task-started", "uuid": task_id, "hostname": host, "timestamp": now})
                events.append(
                    {
                        "type": "task-progress",
                        "uuid": task_id,
                        "hostname": host,
                        "timestamp": now,
                        "stage": "started",
                        "percent": 0.0,
                        "argv": RESULT["argv"],
                        "ts": now,
                    }
                )
                events.append(
                    {"type": "task-succeeded", "uuid": task_id, "hostname": host, "timestamp": now, "result": "{}"}
                )
            began = time.process_time()
            if profile and not first:
                profile.enable()
            for k in range(0, len(events), batch):
                handler.handle_batch(events[k : k + batch])
            if profile and not first:
                profile.disable()
            spent += time.process_time() - began
            if first:  # the first round warms caches (compiled statements, imports): not counted
                first = False
                continue
            cpu += spent
            done += sent_now
        return 1000 * cpu / max(done, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=60, help="events a batch (a busy monitor takes 40-100)")
    parser.add_argument("--profile", action="store_true", help="then one more run under cProfile: its top functions")
    args = parser.parse_args()
    figures = [one_run(args.jobs, args.batch, None) for _ in range(args.runs)]
    print(
        f"monitor CPU a job (dispatch round + events, {args.jobs} jobs, {FOLLOWERS * SLOTS} slots, "
        f"batches of {args.batch}): median {statistics.median(figures):.3f} ms; runs "
        + ", ".join(f"{f:.3f}" for f in figures)
    )
    if args.profile:
        profile = cProfile.Profile()
        one_run(args.jobs, args.batch, profile)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(45)


if __name__ == "__main__":
    main()
