"""The simulated follower of bench/simfollower.py is taken for a follower by the real monitor.

Real processes: a redis-server of its own (the session's is shared with stacks whose monitors would see it),
the monitor, and one simulated follower process; jobs are created through the leader's API in-process.
"""

from __future__ import annotations

import sys

import pytest

from tests.conftest import TOKEN
from tests.support import HOSTNAME, ROOT, Proc, RedisServer, base_env, monitor_argv, wait_for

FINAL = ("succeeded", "failed", "cancelled")


@pytest.mark.parametrize("mode", [[], ["--lean"], ["--wire"]], ids=["thread-a-slot", "lean", "wire"])
def test_jobs_dispatched_to_a_simulated_follower_succeed(tmp_path, mode):
    """Every way of simulating (a Reporter thread per slot; --lean: one thread sends every report, bench/sim_bus.py;
    --wire: one thread runs every attempt, bench/sim_wire.py) is taken for a follower: listed idle, its jobs
    succeed, the argv of each comes from its first progress report."""
    media, data = tmp_path / "media", tmp_path / "data"
    media.mkdir()
    data.mkdir()
    inputs = []
    for i in range(3):
        inputs.append(media / f"clip{i}.mkv")
        inputs[-1].write_bytes(b"simulated")  # never read: only FFmpeg is simulated
    server = RedisServer(tmp_path).start()
    env = base_env(server.url, media, data, TOKEN)
    sim = Proc(
        [sys.executable, str(ROOT / "bench" / "simfollower.py"), "--followers", "1", "--slots", "2"]
        + ["--prefix", "simtest", "--job-seconds", "1.5", "--jitter", "0"]
        + mode,
        env,
        tmp_path / "sim.log",
    )
    procs = [sim.start(), Proc(monitor_argv(), env, tmp_path / "monitor.log").start()]
    try:
        from app import create_app

        leader = create_app(
            {
                "FRAME_SHIFT_HOME": str(media),
                "DATA_DIR": str(data),
                "REDIS_URL": server.url,
                "SHARED_TOKEN": TOKEN,
                "TESTING": True,
                "AUTH_DISABLED": True,
            }
        )
        client = leader.test_client()
        name = f"simtest000@{HOSTNAME}"

        def listed() -> dict | None:
            rows = client.get("/api/followers").get_json()["followers"]
            return next((f for f in rows if f["name"] == name and f["state"] == "idle"), None)

        follower = wait_for(listed, 20, 0.2, what="the simulated follower listed idle with a valid token")
        assert follower["concurrency"] == 2
        spec = {"video_codec": "libx264", "preset": "ultrafast", "audio_codec": "aac", "container": "mkv"}
        created = client.post("/api/jobs", json={"inputs": [str(p) for p in inputs], "spec": spec})
        assert created.status_code == 201, created.get_json()
        ids = [job["id"] for job in created.get_json()["jobs"]]

        def finished() -> list[dict] | None:
            jobs = [client.get(f"/api/jobs/{i}").get_json() for i in ids]
            return jobs if all(job["status"] in FINAL for job in jobs) else None

        jobs = wait_for(finished, 20, 0.2, what="the jobs to finish")
        for job in jobs:
            assert job["status"] == "succeeded", (job, sim.output()[-2000:])
            assert job["follower"] == name
            assert [a["status"] for a in job["attempts"]] == ["succeeded"]
            assert job["argv"] and "-progress" in job["argv"]  # from the first progress report
    finally:
        for proc in reversed(procs):
            proc.stop()
        server.stop()
