"""A follower paused (SIGSTOP) past the lost deadline, then resumed, with automatic retry on: its stale
attempt stops at once and can never publish; only the retry's FFmpeg runs on and exactly one output exists.

Two pauses: the whole follower with its FFmpeg (as a cgroup freezer or `docker pause` does), and the
worker's processes while the attempt verifies its finished output (ffprobe, made slow by a wrapper), so
it resumes past its last cancel check with a good file in hand. Two things stop it publishing: the
leader removes a given-up attempt's private folder, and the fence on the rename (tasks/reporting.py
may_publish, atomic with the leader's give-up in app/monitor/reaper.py), which alone covers the window
between a finished verification and the rename. Without either, the resumed attempt renamed its file
beside the retry's: two outputs.
"""

from __future__ import annotations

import os
import signal
import stat
import time
from pathlib import Path

from tests.e2e.test_failures_harness import REALTIME, System, needs, outcome, parent_pid, scenario
from tests.media import ffmpeg_pids
from tests.support import wait_for

LOST_AFTER = 4


def process_tree(root: int) -> list[int]:
    """Return root and every process descending from it (FFmpeg too: it has its own session, not its own parent)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parents[int(entry.name)] = parent_pid(int(entry.name))
    tree, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree.extend(children)
        frontier = children
    return tree


def stale_follower(system: System, with_ffmpeg: bool) -> dict:
    paused = system.worker("sa")
    system.start_monitor()
    job = system.wait_running(system.submit("rt8", REALTIME)[0]["id"])
    old = job["task_id"][:8]
    stale_ffmpeg = ffmpeg_pids(old)
    tree = [pid for pid in process_tree(paused.pid) if with_ffmpeg or pid not in stale_ffmpeg]
    for pid in tree:
        os.kill(pid, signal.SIGSTOP)
    try:
        system.worker("sb")  # the retry needs somewhere to run
        retry = system.wait_job(
            job["id"], lambda d: d["status"] == "running" and d["task_id"][:8] != old and d["percent"] > 0, 90, "retry"
        )
    finally:
        for pid in tree:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    resumed = time.monotonic()
    samples = []
    while time.monotonic() - resumed < 4:
        samples.append((time.monotonic() - resumed, ffmpeg_pids(old), ffmpeg_pids(retry["task_id"][:8])))
        time.sleep(0.05)
    final = system.wait_final(job["id"], 90)
    outputs = sorted(p.name for p in system.media.glob("rt8_converted*"))
    leftovers = sorted(p.name for p in system.media.glob(".*frameshift-*"))
    return {
        "job": job,
        "retry": retry,
        "final": final,
        "stale_ffmpeg": stale_ffmpeg,
        "samples": samples,
        "outputs": outputs,
        "leftovers": leftovers,
    }


@scenario("stale_frozen", FOLLOWER_LOST_AFTER=str(LOST_AFTER), AUTO_RETRY="1")
def frozen(system: System) -> dict:
    return stale_follower(system, with_ffmpeg=True)


@scenario("stale_finished", FOLLOWER_LOST_AFTER=str(LOST_AFTER), AUTO_RETRY="1")
def finished_while_paused(system: System) -> dict:
    folder = system.media.parent
    flag, wrapper = folder / "verifying", folder / "slow-ffprobe"
    # The wrapper writes outside the private folder and runs `sleep`: this follower runs without the
    # boundary (FFMPEG_SANDBOX=off); the fence, not the boundary, is under test here.
    wrapper.write_text(
        f'#!/bin/sh\nfor last; do :; done\ncase "$last" in *frameshift-*) touch {flag}; sleep 6;; esac\n'
        'exec ffprobe "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    paused = system.worker("sa", FFPROBE_BIN=str(wrapper), FFMPEG_SANDBOX="off")
    system.start_monitor()
    job = system.submit("rt4", REALTIME)[0]
    wait_for(flag.exists, 120, 0.05, what="the attempt to verify its output")
    first = system.job(job["id"])
    tree = [pid for pid in process_tree(paused.pid) if Path(f"/proc/{pid}/comm").read_text().strip() != "sleep"]
    for pid in tree:
        os.kill(pid, signal.SIGSTOP)
    try:
        system.worker("sb")
        retry = system.wait_job(
            job["id"],
            lambda d: d["task_id"] != first["task_id"] and d["status"] in ("running", "succeeded"),
            90,
            "retry",
        )
    finally:
        for pid in tree:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    final = system.wait_final(job["id"], 90)
    marker = first["task_id"][:8]
    wait_for(lambda: not list(system.media.glob(f".*frameshift-{marker}*")), 30, what="the stale attempt to end")
    time.sleep(1)
    return {
        "first": first,
        "retry": retry,
        "final": final,
        "outputs": sorted(p.name for p in system.media.glob("rt4_converted*")),
        "stale_log": [line for line in paused.log.read_text(errors="replace").splitlines() if marker in line][-8:],
        "leftovers": sorted(p.name for p in system.media.glob(".*frameshift-*")),
    }


@needs("stale_frozen")
def test_a_resumed_stale_attempt_stops_within_a_second_and_publishes_nothing(request, clips):
    check(outcome(request, clips))


@needs("stale_finished")
def test_a_stale_attempt_paused_while_verifying_cannot_publish(request, clips):
    seen = outcome(request, clips)
    assert seen["retry"]["follower"] != seen["first"]["follower"], seen["retry"]
    assert seen["final"]["status"] == "succeeded", seen["final"]
    assert seen["outputs"] == ["rt4_converted.mp4"], f"expected exactly one output: {seen['outputs']}"
    assert seen["leftovers"] == [], seen["leftovers"]
    assert any("output was discarded" in line or "given up" in line for line in seen["stale_log"]), seen["stale_log"]


def check(seen: dict) -> None:
    assert seen["stale_ffmpeg"], "the paused follower's FFmpeg was not seen before the pause"
    assert seen["retry"]["follower"] != seen["job"]["follower"], seen["retry"]
    late = [(round(t, 2), pids) for t, pids, _ in seen["samples"] if t > 1.0 and pids]
    assert not late, f"the stale FFmpeg still ran more than 1 s after SIGCONT: {late[:3]}"
    assert any(retry_pids for _, _, retry_pids in seen["samples"]), "the retry's FFmpeg was not running meanwhile"
    assert seen["final"]["status"] == "succeeded", seen["final"]
    assert seen["outputs"] == ["rt8_converted.mp4"], f"expected exactly one output: {seen['outputs']}"
    assert seen["leftovers"] == [], seen["leftovers"]
