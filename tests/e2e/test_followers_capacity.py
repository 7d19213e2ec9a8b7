"""Several followers on one machine: no follower ever gets more jobs than its concurrency, jobs spread
in parallel, and each follower's FFMPEG_THREADS settings reach the FFmpeg that really runs."""

from __future__ import annotations

import threading

from tests.e2e.test_failures_harness import REALTIME, System, ffmpeg_of_workers, needs, outcome, scenario, watch

CONCURRENCY = {"c1": 1, "c2": 2, "c3": 1}
JOBS = 10


@scenario("capacity")
def capacity(system: System) -> dict:
    system.worker("c1", 1, FFMPEG_THREADS="2")
    system.worker("c2", 2)
    system.worker("c3", 1, FFMPEG_DECODER_THREADS="1", FFMPEG_ENCODER_THREADS="3")
    system.start_monitor()
    pids = {proc.pid: system.full(name) for name, proc in system.workers.items()}
    stop = threading.Event()
    processes = watch(lambda: ffmpeg_of_workers(pids, str(system.media)), stop)
    busy = watch(lambda: {name: f["busy"] for name, f in system.followers().items()}, stop, every=0.2)
    jobs = system.submit("rt4", REALTIME, count=JOBS)
    finals = [system.wait_final(job["id"], 90) for job in jobs]
    stop.set()
    return {"finals": finals, "processes": [p for _, p in processes], "busy": [b for _, b in busy]}


@needs("capacity")
def test_no_follower_ever_runs_more_than_its_concurrency(request, clips):
    seen = outcome(request, clips)
    assert all(job["status"] == "succeeded" for job in seen["finals"]), [j["error"] for j in seen["finals"]]
    assert len(seen["processes"]) > 50 and len(seen["busy"]) > 20, "too few samples to say anything"
    for name, limit in CONCURRENCY.items():
        full = next(f for f in seen["busy"][-1] if f.startswith(name + "@"))
        most_ffmpeg = max(len(sample[full]) for sample in seen["processes"])
        most_busy = max(sample.get(full, 0) for sample in seen["busy"])
        assert most_ffmpeg <= limit, f"{name} ran {most_ffmpeg} FFmpeg at once with concurrency {limit}"
        assert most_busy <= limit, f"the leader gave {name} {most_busy} jobs with concurrency {limit}"
        assert most_ffmpeg == limit, f"{name} never used all {limit} of its slots"


@needs("capacity")
def test_jobs_spread_over_all_followers_in_parallel(request, clips):
    seen = outcome(request, clips)
    most_at_once = max(sum(len(v) for v in sample.values()) for sample in seen["processes"])
    assert most_at_once == sum(CONCURRENCY.values())
    ran_on = {job["follower"].split("@")[0] for job in seen["finals"]}
    assert ran_on == set(CONCURRENCY)


@needs("capacity")
def test_ffmpeg_threads_per_follower_reach_the_argv_that_ran(request, clips):
    seen = outcome(request, clips)
    ran = {}
    for sample in seen["processes"]:
        for full, argvs in sample.items():
            ran.setdefault(full.split("@")[0], []).extend(argvs)
    expected = {"c1": ("2", "2"), "c3": ("1", "3")}  # (decoder, encoder)
    for name, (decoder, encoder) in expected.items():
        assert ran[name], f"no FFmpeg seen on {name}"
        for argv in ran[name]:
            assert "-i" in argv, argv
            i = argv.index("-i")
            assert argv[i - 2 : i] == ["-threads", decoder], argv
            assert argv[i + 1 :].count("-threads") == 1 and argv[argv.index("-threads", i) + 1] == encoder, argv
    for argv in ran["c2"]:
        assert "-threads" not in argv, argv
    for job in seen["finals"]:
        name = job["follower"].split("@")[0]
        assert ("-threads" in job["argv"]) == (name in expected), (name, job["argv"])
