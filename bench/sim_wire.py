"""The simulated followers' wire mode (`bench/simfollower.py --wire`): every attempt run by one thread, pipelined.

The thread-a-slot simulator (and `--lean`, bench/sim_bus.py) runs each attempt through Celery's tracer and
tasks/transcode.py `run_body` on a slot thread: a dozen Redis round trips a job, each passing the GIL between
hundreds of threads. At 300-350 zero-length jobs a second four such processes took ~1.1-1.75 of this
machine's two cores, so the leader's throughput target (500 jobs/s) could not be measured on it
(docs/benchmarks.md, "Leader at scale").

Here one thread (the report bus's, sim_bus.Bus) does for every slot of every follower in the process what a
follower does on the wire, in order, and writes each tick's commands in one Redis pipeline:

- takes messages from each follower's own queue (`worker_direct`), at most one per free slot, and decodes them
  with kombu's own Message (the leader's signed payload, headers and delivery info);
- sends `task-received`, checks the payload with tasks/signing.py `refusal` (a refused one ends FAILURE, as
  PayloadRefused does), sends `task-started`, stores STARTED as Celery's tracer does (`track_started`),
  takes the claim (SET NX, as `open_attempt`) and reads the cancel and shutdown flags (StopCheck's MGET);
- a claim held by another ends the attempt with nothing more sent (Celery's Ignore); a stop flag ends it
  FAILURE (TranscodeCancelled);
- reports through tasks/reporting.py's Reporter (sim_bus.LeanReporter: its timing rules, the PROGRESS state
  and `task-progress` event built by Celery's own backend and dispatcher, the lease): starting, started, the
  duration, then a parsed FFmpeg block every PROGRESS_INTERVAL for the job's length, the stop flags read once
  a second;
- takes the fence (keys.PUBLISH_SCRIPT, as StopCheck.may_publish) and, when it wins, stores SUCCESS (the
  result run_attempt returns) and sends `task-succeeded`; when it loses, FAILURE and `task-failed`.

The worker's own events (task-received, task-started, task-succeeded, task-failed) go through a dispatcher that
buffers them, flushed every tick: one list a follower on 'task.multi', as a prefork worker's event loop sends them;
the reports go one by one, as the pool's Reporter sends them. What the leader receives is what it receives from a
follower: the same keys, values, channels and order per attempt. What differs, none of it read by the leader:
no kombu QoS bookkeeping of the fetched message (the `unacked` hash and index, which an early ack removes at
once), the backend's SET and PUBLISH are not wrapped in their own MULTI/EXEC, the commands of many attempts share
one pipeline (a tick's worth, TICK = 5 ms), and each follower's queue is polled (RPOP) every tick where a
follower blocks in BRPOP: Redis's CPU in these runs includes those polls, which a real fleet does not cost.
tests/e2e/test_simulated_follower.py runs the real monitor against it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from celery.app.task import Context
from celery.utils import worker_direct
from celery.utils.saferepr import saferepr

from bench import sim_bus
from bench.sim_task import block_report, count, delivered, first_reports, job_seconds, simulated_result
from tasks import keys, reporting, transcode
from tasks.errors import TranscodeCancelled
from tasks.signing import PayloadRefused, refusal

STOP_EVERY = 1.0  # the runner reads the stop flags once a second (tasks/runner.py)


@dataclass
class Attempt:
    """One attempt on one slot, from its message to its final state."""

    follower: Any
    task_id: str
    payload: Any
    ctx: Context
    stage: str = "claiming"  # claiming -> running -> publishing -> done
    claimed: Any = None
    stop_reason: str | None = None
    seconds: float = 0.0
    began: float = 0.0
    block: int = 0
    checked: float = 0.0
    argv: list[str] = field(default_factory=list)
    reporter: Any = None
    won: Any = None


class WireBus(sim_bus.Bus):
    """The report bus's thread, also running every attempt of the process's followers (see the module's text)."""

    def __init__(self, app: Any, client: Any, followers: list[Any]) -> None:
        super().__init__(app, client)
        self.backend = app.backend  # the instance whose SET and PUBLISH the bus holds (sim_bus.Bus)
        self.lock = threading.RLock()  # a LeanReporter joins the bus under its lock, here on the bus's own thread
        self.followers = followers
        self.attempts: list[Attempt] = []
        self.conf = transcode.settings()
        channel = self.connection.default_channel
        self.channel = channel
        for follower in followers:  # declared as the follower's consumer declares its queue
            worker_direct(follower.hostname)(channel).declare()

    def step_attempts(self, now: float) -> None:
        """Each tick, before the reports: take new messages, move every attempt on."""
        self.take_messages()
        self.advance(now)

    def take_messages(self) -> None:
        """Ask each follower's queue for one message per free slot (kombu's Redis transport pops from the right)."""
        for follower in self.followers:
            free = follower.slots - follower.active
            if free > 0 and not follower.stopping.is_set():
                follower.active += free  # held until the reply says how many came
                self.ask("rpop", (worker_direct(follower.hostname).name, free), self.taker(follower, free))

    def taker(self, follower: Any, asked: int) -> Any:
        def took(reply: Any) -> None:
            raws = reply if isinstance(reply, list) else []
            follower.active -= asked - len(raws)
            for raw in raws:
                self.receive(follower, raw)

        return took

    def receive(self, follower: Any, raw: bytes) -> None:
        """A message, early-acked: task-received, the payload checked, task-started, STARTED, the claim."""
        message = self.channel.Message(json.loads(raw), channel=self.channel)
        hostname = follower.hostname
        task_id, args, kwargs, request, received = delivered(message.decode(), message, hostname)
        events = self.dispatcher(hostname, buffered=True)  # the worker's: a list on task.multi each tick
        events.send("task-received", **received)
        count("received")
        ctx = Context(request, args=args, called_directly=False, kwargs=kwargs)
        payload = args[0] if args else None
        attempt = Attempt(follower, task_id, payload, ctx)
        events.send("task-started", uuid=task_id)
        self.backend.store_result(task_id, {"pid": os.getpid(), "hostname": hostname}, "STARTED", request=ctx)
        why = refusal(payload, self.conf.shared_token, task_id)
        if why:
            self.fail(attempt, PayloadRefused(f"refused by {hostname}: {why}"))
            return
        self.ask(
            "execute_command",
            ("SET", keys.claim(task_id), hostname, "EX", transcode.CLAIM_TTL, "NX"),
            lambda reply: setattr(attempt, "claimed", reply is True or reply == b"OK"),
        )
        self.ask("mget", ([keys.cancel(task_id), keys.stopping(hostname)],), self.stop_reader(attempt))
        self.attempts.append(attempt)

    def stop_reader(self, attempt: Attempt) -> Any:
        def read(reply: Any) -> None:
            if isinstance(reply, list) and len(reply) == 2 and not attempt.stop_reason:
                cancel, stopping = reply
                if cancel:
                    attempt.stop_reason = cancel.decode(errors="replace") if isinstance(cancel, bytes) else str(cancel)
                elif stopping:
                    attempt.stop_reason = "shutdown"

        return read

    def advance(self, now: float) -> None:
        """Move every attempt on by what the last pipeline's replies and the clock say."""
        left = []
        for attempt in self.attempts:
            self.step(attempt, now)
            if attempt.stage != "done":
                left.append(attempt)
        self.attempts = left

    def step(self, attempt: Attempt, now: float) -> None:
        interval = self.conf.progress_interval
        if attempt.stage == "claiming":
            if attempt.claimed is None:
                return
            if not attempt.claimed:  # held by the leader or an earlier delivery: Ignore, nothing more is sent
                count("ignored")
                self.end(attempt)
                return
            if attempt.stop_reason:
                self.fail(attempt, TranscodeCancelled("cancelled before it started"))
                return
            task = SimpleNamespace(request=attempt.ctx, backend=self.backend, app=self.app)
            attempt.reporter = sim_bus.LeanReporter(task, transcode.redis_client, interval, self.conf.lease_seconds)
            attempt.seconds = job_seconds()
            attempt.argv, reports = first_reports(self.conf, attempt.payload, attempt.seconds)
            for update in reports:
                attempt.reporter(update)
            attempt.stage, attempt.began, attempt.checked = "running", now, now
        if attempt.stage == "running":
            if attempt.stop_reason:
                reason = attempt.stop_reason
                self.fail(attempt, TranscodeCancelled("cancelled" if reason == "cancel" else reason))
                return
            if now - attempt.checked >= STOP_EVERY:
                attempt.checked = now
                names = [keys.cancel(attempt.task_id), keys.stopping(attempt.follower.hostname)]
                self.ask("mget", (names,), self.stop_reader(attempt))
            while (attempt.block + 1) * interval <= attempt.seconds and now >= attempt.began + (
                attempt.block + 1
            ) * interval:
                attempt.block += 1
                attempt.reporter(block_report(attempt.block, interval, attempt.seconds))
                count("blocks")
            reporter = attempt.reporter
            urgent = reporter.dirty and reporter.state.get("stage") in reporting.URGENT_STAGES
            if now >= attempt.began + attempt.seconds and not urgent:  # 'started' goes out first, as it would
                fence = (keys.cancel(attempt.task_id), keys.fence(attempt.task_id))
                publishing = f"publishing:{attempt.follower.hostname}"
                self.ask(
                    "eval",
                    (keys.PUBLISH_SCRIPT, 2, *fence, publishing, 24 * 3600),
                    lambda reply: setattr(attempt, "won", reply),
                )
                attempt.stage = "publishing"
            return
        if attempt.stage == "publishing" and attempt.won is not None:
            if attempt.won == 1:
                self.succeed(attempt)
            else:
                reason = attempt.stop_reason or "given up by the leader"
                self.fail(attempt, TranscodeCancelled(f"{reason}; this attempt's output was discarded"))

    def succeed(self, attempt: Attempt) -> None:
        result = simulated_result(attempt.payload, attempt.argv, attempt.seconds)
        self.close_reporter(attempt)
        self.backend.store_result(attempt.task_id, result, "SUCCESS", request=attempt.ctx)
        runtime = time.monotonic() - attempt.began
        hostname = attempt.follower.hostname
        self.dispatcher(hostname, buffered=True).send(
            "task-succeeded", uuid=attempt.task_id, result=saferepr(result, 1024), runtime=runtime
        )
        count("succeeded")
        self.end(attempt)

    def fail(self, attempt: Attempt, exc: Exception) -> None:
        """End FAILURE as Celery's tracer stores an exception the task raised, and send task-failed."""
        self.close_reporter(attempt)
        self.backend.mark_as_failure(attempt.task_id, exc, request=attempt.ctx, call_errbacks=False)
        self.dispatcher(attempt.follower.hostname, buffered=True).send(
            "task-failed", uuid=attempt.task_id, exception=saferepr(exc), traceback=""
        )
        count("failed")
        self.end(attempt)

    def close_reporter(self, attempt: Attempt) -> None:
        """Reporter.close without its thread: no PROGRESS after the final state (what is not sent yet is dropped)."""
        reporter = attempt.reporter
        if reporter is not None:
            reporter.closed = True
            self.reporters.discard(reporter)

    def end(self, attempt: Attempt) -> None:
        attempt.stage = "done"
        attempt.follower.active -= 1
        attempt.follower.processed += 1
