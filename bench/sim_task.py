"""The simulated follower's task (bench/simfollower.py): transcode.run's body with FFmpeg simulated.

The task is declared as tasks/transcode.py declares transcode.run and runs tasks/transcode.py `run_body`
unchanged (signature, claim, cancel flag, tasks/reporting.py's Reporter, fence); only the encode is simulated:
FFmpeg's progress blocks at their real rate, parsed by the follower's own parser. Counters of what went out.
"""

from __future__ import annotations

import os
import random
import threading
import time
from typing import Any

import redis

from tasks import reporting, transcode
from tasks.celery_app import create_celery
from tasks.errors import TranscodeCancelled, TranscodeInterrupted
from tasks.progress import parse_block

sim_app = create_celery(set_as_current=False)  # the follower's settings (celeryconfig), its own app object
# A real pool process is single-threaded; here hundreds of slot and reporter threads share one app, whose
# producer pool (broker_pool_limit, 10) and kombu's per-channel Redis pool (10) then run out ("Too many
# connections"). Larger pools change nothing on the wire.
sim_app.conf.broker_pool_limit = 1000
sim_app.conf.broker_transport_options = {**sim_app.conf.broker_transport_options, "max_connections": 2000}
JOB_SECONDS = [20.0, 0.0]  # mean length, jitter; set from the command line
COUNTS = {"received": 0, "succeeded": 0, "failed": 0, "ignored": 0, "reports": 0, "blocks": 0, "busy_fetch": 0}
COUNT_LOCK = threading.Lock()


def count(name: str, n: int = 1) -> None:
    with COUNT_LOCK:
        COUNTS[name] += n


class CountingReporter(reporting.Reporter):
    """tasks/reporting.py's Reporter, unchanged, counting the reports it sends."""

    def _send(self, meta: dict[str, Any]) -> None:
        super()._send(meta)
        count("reports")


transcode.Reporter = CountingReporter  # open_attempt builds the reporter by this name (this process only)
# tasks/transcode.py's client for claims, leases, cancel flags and the fence, the same but with room for hundreds
# of threads (redis-py's default pool refuses past its limit; a real pool process is one thread).
_CLIENT = redis.Redis.from_url(
    sim_app.conf.broker_url, socket_timeout=5, socket_connect_timeout=5, max_connections=5000
)
transcode.redis_client = lambda: _CLIENT


def delivered(body: Any, message: Any, hostname: str) -> tuple[Any, list, dict, dict, dict[str, Any]]:
    """What a worker takes from a task message: the task id, args, kwargs, the request its tracer gets, and the
    fields of the task-received event it sends (as celery.worker.request does)."""
    headers = message.headers or {}
    args, kwargs = (body[0], body[1]) if isinstance(body, list | tuple) and len(body) >= 2 else ([], {})
    request = {**headers, "hostname": hostname, "delivery_info": dict(message.delivery_info or {})}
    received = {
        "uuid": headers.get("id"),
        "name": headers.get("task"),
        "args": headers.get("argsrepr"),
        "kwargs": headers.get("kwargsrepr"),
        "root_id": headers.get("root_id"),
        "parent_id": headers.get("parent_id"),
        "retries": headers.get("retries", 0),
        "eta": headers.get("eta"),
        "expires": headers.get("expires"),
    }
    return headers.get("id"), args, kwargs, request, received


def job_seconds() -> float:
    """One simulated encode's length: the mean times a random factor in 1 +/- jitter."""
    mean, jitter = JOB_SECONDS
    return max(0.0, mean * random.uniform(1 - jitter, 1 + jitter))


def first_reports(conf: Any, payload: dict[str, Any], seconds: float) -> tuple[list[str], list[dict[str, Any]]]:
    """The argv and what tasks/convert.py reports before FFmpeg's first block: starting, started, the duration."""
    argv = [conf.ffmpeg_bin, "-i", str(payload.get("input")), "-progress", "pipe:1", str(payload.get("output"))]
    return argv, [
        {"stage": "starting", "percent": 0.0, "argv": argv, "input_size": 0},
        {"stage": "started", "ffmpeg_pid": os.getpid(), "percent": 0.0},
        {"duration": seconds or None, "input_size": 0},
    ]


def block_report(block: int, interval: float, seconds: float) -> dict[str, Any]:
    """FFmpeg's progress block number `block` (one every `interval`), parsed by the follower's own parser."""
    out = block * interval
    fields = {"frame": str(int(out * 25)), "fps": "25.0", "total_size": str(int(out * 50_000))}
    fields.update(out_time_us=str(int(out * 1e6)), speed="1.00x", progress="continue")
    return {"stage": "encoding", **parse_block(fields, seconds).to_dict()}


def simulated_result(payload: dict[str, Any], argv: list[str], seconds: float) -> dict[str, Any]:
    """What run_attempt returns for a finished encode."""
    return {
        "output": payload.get("output"),
        "argv": argv,
        "exit_code": 0,
        "input_size": 0,
        "output_size": int(seconds * 50_000),
        "duration": seconds,
        "video_codec": "h264",
        "audio_codec": "aac",
        "format": "matroska,webm",
        "log_tail": ["simulated by bench/simfollower.py"],
    }


def simulated_encode(payload: dict[str, Any], conf: Any, report: Any, stop: Any, tag: str, publish: Any) -> dict:
    """Stand in for tasks/convert.py run_attempt: FFmpeg's progress blocks at its real rate, then publish."""
    seconds = job_seconds()
    argv, reports = first_reports(conf, payload, seconds)
    for update in reports:
        report(update)
    began, block, checked = time.monotonic(), 0, time.monotonic()
    while (block + 1) * conf.progress_interval <= seconds:
        block += 1
        time.sleep(max(0.0, began + block * conf.progress_interval - time.monotonic()))
        if time.monotonic() - checked >= 1.0:  # the runner asks once a second
            checked = time.monotonic()
            reason = stop()
            if reason == "shutdown":
                raise TranscodeInterrupted("interrupted: this follower was shutting down")
            if reason:
                raise TranscodeCancelled("cancelled" if reason == "cancel" else reason)
        report(block_report(block, conf.progress_interval, seconds))
        count("blocks")
    if publish is not None and not publish():
        raise TranscodeCancelled(f"{stop() or 'given up by the leader'}; this attempt's output was discarded")
    return simulated_result(payload, argv, seconds)


# Declared as tasks/transcode.py declares transcode.run; only the body differs (no FFmpeg).
@sim_app.task(**transcode.RUN_TASK_OPTIONS)
def run(self, payload: dict[str, Any]) -> dict[str, Any]:
    return transcode.run_body(self, payload, simulated_encode, "converting")
