"""Progress freshness: FFmpeg writes a progress block -> the leader's live stream (GET /api/stream, Server-Sent
Events from the real gunicorn web process) carries it.

FFMPEG_BIN on the follower is bench/bin/ffmpeg-relay: it runs the real ffmpeg, passes its -progress output
through, and logs the wall-clock time each block came out of FFmpeg's pipe, to relay.jsonl in its working
folder (FFmpeg's clean environment carries no other path); a thread here finds the relay among the pool's
children in /proc, opens that file through /proc/PID/cwd while the job runs and reads it to the end. The
follower runs with FFMPEG_SANDBOX=off: the relay, a Python script, cannot run inside FFmpeg's boundary (it
reads Python's library), and the boundary, set once at exec, adds nothing between a block and the stream. A stream message is matched to
the block it carries by recomputing the follower's figures (percent, fps, speed, ETA, size) from each logged
block with the follower's own parser; blocks whose figures are not unique within the job are skipped.

    python bench/progress_freshness.py [--quick] [--runs N]
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import BENCH, Result, System, make_clip, median, parse_args, percentile  # noqa: E402
from bench.pool_children import pool_children  # noqa: E402
from tasks.convert import media_summary  # noqa: E402
from tasks.ffmpeg_lib import probe  # noqa: E402
from tasks.progress import parse_block  # noqa: E402

SCENARIOS = {
    # FFmpeg paced to wall-clock speed by the realtime filter: a light machine, a block every 0.5 s.
    "paced": (
        {"mode": "custom", "custom_args": "-c:v libx264 -preset ultrafast -vf realtime -an", "container": "mp4"},
        "320x240",
    ),
    # A CPU-bound HEVC encode that keeps both cores busy while the leader works on the same machine.
    "busy": (
        {
            "video_codec": "libx265",
            "preset": "fast",
            "crf": 26,
            "bit_depth": 8,
            "audio_codec": "libopus",
            "container": "mkv",
        },
        "1280x720",
    ),
}


class StreamReader(threading.Thread):
    """Hold GET /api/stream open and note when each message arrives."""

    def __init__(self, port: int, token: str) -> None:
        super().__init__(daemon=True)
        self.port, self.token = port, token
        self.messages: list[tuple[float, dict]] = []
        self.connected = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        conn.request("GET", "/api/stream", headers={"Authorization": f"Bearer {self.token}"})
        response = conn.getresponse()
        self.connected.set()
        while True:
            line = response.readline()
            if not line:
                return
            if line.startswith(b"data:"):
                self.messages.append((time.time(), json.loads(line[5:])))


def key(fields: dict) -> tuple:
    return tuple(fields.get(k) for k in ("percent", "fps", "speed", "eta", "out_size"))


class RelayTail(threading.Thread):
    """Every 10 ms: find ffmpeg-relay processes among the worker's pool children, open each one's relay.jsonl
    through /proc/PID/cwd (the open file outlives the folder), and collect the lines written so far."""

    def __init__(self, worker_pid: int) -> None:
        super().__init__(daemon=True)
        self.worker_pid = worker_pid
        self.files: dict[int, Any] = {}
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.01):
            for kid in pool_children(self.worker_pid):
                if kid in self.files:
                    continue
                try:
                    if b"ffmpeg-relay" in Path(f"/proc/{kid}/cmdline").read_bytes():
                        self.files[kid] = open(f"/proc/{kid}/cwd/relay.jsonl")  # noqa: SIM115
                except OSError:
                    continue  # not started yet, or no block logged yet: next time
            self.collect()

    def collect(self) -> None:
        for handle in self.files.values():
            text = handle.read()
            if text:
                with self.lock:
                    self.lines.extend(line for line in text.splitlines() if line)

    def logged(self) -> list[dict]:
        self.collect()
        with self.lock:
            return [json.loads(line) for line in self.lines]


def main() -> None:
    args = parse_args(__doc__)
    runs = args.runs or (1 if args.quick else 3)
    seconds = 8 if args.quick else 20
    result = Result(
        "progress_freshness",
        args.quick,
        runs,
        setup=(
            f"1 follower (-c 1), monitor, gunicorn web (gthread), private redis; {runs} job(s) of a {seconds} s clip "
            "per scenario, one at a time; freshness = arrival time of the SSE message on a client of /api/stream "
            "minus the time the block left FFmpeg's stdout (logged by bench/bin/ffmpeg-relay)"
        ),
    )
    with System("freshness", keep=args.keep) as system:
        # The relay is a Python script, which cannot run inside FFmpeg's boundary (it reads Python's library);
        # the boundary is set once, at exec, and is nothing between a block and the stream: measured without it.
        relay_bin = str(BENCH / "bin" / "ffmpeg-relay")
        worker = system.start_workers(["w1"], concurrency=1, FFMPEG_BIN=relay_bin, FFMPEG_SANDBOX="off")[0]
        relay = RelayTail(worker.pid)
        relay.start()
        api = system.start_web()
        system.start_monitor(wait_online=1)
        reader = StreamReader(system.web_port, api.token)
        reader.start()
        reader.connected.wait(10)
        for name, (spec, size) in SCENARIOS.items():
            clip = make_clip(system.media / f"{name}.mp4", seconds=seconds, size=size)
            duration = media_summary(probe(str(clip)))["duration"]
            lags, follower_part, blocks_total, carried, ambiguous = [], [], 0, 0, 0
            for _ in range(runs):
                job = api.create_jobs([str(clip)], spec)[0]
                row = system.wait_finished([job["id"]], timeout=600, interval=0.05)[0]
                if row["status"] != "succeeded":
                    raise RuntimeError(f"job {job['id']} ended {row['status']}: {row['error']}")
                Path(row["output_path"]).unlink(missing_ok=True)
                time.sleep(0.5)  # let the last stream message arrive
                tag = f"frameshift-{row['task_id'][:8]}"
                logged = relay.logged()
                written: dict[tuple, list[float]] = {}
                for entry in logged:
                    if tag in entry["target"]:
                        figures = parse_block(entry["block"], duration).to_dict()
                        written.setdefault(key(figures), []).append(entry["t"])
                blocks_total += sum(len(v) for v in written.values())
                for arrived, message in list(reader.messages):
                    if message.get("type") != "progress" or message.get("id") != job["id"]:
                        continue
                    times = written.get(key(message))
                    if not times:
                        continue  # a stage message ('starting', 'started'), not an FFmpeg block
                    if len(times) > 1:
                        ambiguous += 1
                        continue
                    carried += 1
                    lags.append(arrived - times[0])
                    if message.get("ts"):  # when the follower sent its report
                        follower_part.append(message["ts"] - times[0])
            ms = [x * 1000 for x in lags]
            p95 = percentile(ms, 95)
            result.add(f"freshness p50, {name}", median(ms), "ms")
            result.add(f"freshness p95, {name}", p95, "ms", "< 500", p95 < 500)
            result.add(f"freshness max, {name}", max(ms) if ms else float("nan"), "ms")
            result.add(f"  follower: block -> report sent, {name}", median(follower_part) * 1000, "ms", note="median")
            result.add(
                f"  leader: report sent -> stream, {name}",
                median([a - f for a, f in zip(lags, follower_part)]) * 1000,
                "ms",
                note="median",
            )
            result.add(
                f"blocks carried to the stream, {name}",
                100 * carried / max(blocks_total, 1),
                "%",
                note=f"{carried} of {blocks_total} blocks ({ambiguous} ambiguous skipped)",
            )
            result.details[name] = {
                "spec": spec,
                "clip": f"{seconds} s {size}",
                "lag_ms": ms,
                "blocks": blocks_total,
                "carried": carried,
                "ambiguous": ambiguous,
            }
    result.save()


if __name__ == "__main__":
    main()
