"""library.probe: read the media facts of a batch of library files for the leader (docs/libraries.md).

A light task: it verifies the signed payload, maps and checks every path against this follower's media
roots, and reads the files in ONE child process (tasks/probe_child.py, PyAV) inside a read-only boundary
(tasks/probe_sandbox.py), in bounded time. It returns facts per path; files it did not reach (time ran
out) are listed in `left` for the leader to send again. Running a batch twice does no harm: it writes
nothing, so it needs no claim and no lease.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import selectors
import stat
import threading
import time
from pathlib import Path
from typing import Any

from tasks import probe_sandbox
from tasks.celery_app import celery_app
from tasks.ffmpeg_lib import MEDIA_FORMATS, NOT_MEDIA
from tasks.follower import FollowerSettings
from tasks.paths import PathError, map_path, resolve_inside
from tasks.probe_child import FACT_FIELDS
from tasks.runner import kill_now
from tasks.signing import PayloadRefused, refusal
from tasks.transcode import settings

log = logging.getLogger("frameshift.probe")
PROTOCOLS = "file"  # the child opens files by name only: no pipe, no network, no nested protocol
FILE_SECONDS = 20.0  # one file that keeps the child silent longer is unreadable (LIBRARY_PROBE_FILE_SECONDS)
BATCH_SECONDS = 120.0  # then the child is stopped; the rest go back to the leader (LIBRARY_PROBE_BATCH_SECONDS)
START_SECONDS = 30.0  # the interpreter and PyAV loading, on a busy machine


def limit(name: str, default: float) -> float:
    """A time limit from the environment, read when a batch runs; a missing or bad value gives the default."""
    try:
        value = float(os.environ.get(name) or default)
    except ValueError:
        return default
    return value if value > 0 else default


class ProbeFailed(RuntimeError):
    """The probe child could not start or read its batch: nothing about the files is known."""


def _clean(answer: dict[str, Any]) -> dict[str, Any]:
    """Keep only the known fields with plain values (the child's output is treated as untrusted)."""
    if answer.get("error"):
        return {"error": str(answer["error"])[:500]}
    facts: dict[str, Any] = {}
    for key in FACT_FIELDS:
        value = answer.get(key)
        if isinstance(value, bool) or not isinstance(value, str | int | float | type(None)):
            value = None
        facts[key] = value[:64] if isinstance(value, str) else value
    return facts


class _Stderr:
    """The child's last stderr lines, read on a thread so a chatty child never blocks on a full pipe."""

    def __init__(self, stream: Any) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=20)
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: Any) -> None:
        for raw in stream:
            self.lines.append(raw.decode("utf-8", "replace").rstrip())

    def text(self) -> str:
        self.thread.join(timeout=1)
        return " | ".join(self.lines)[-500:]


def run_child(paths: list[str], roots: list[Path], command: list[str] | None = None) -> tuple[dict[int, dict], str]:
    """Probe paths in one bounded child; return (answers by index, why it stopped early or '').

    A file the child was reading when it died or went silent for FILE_SECONDS gets an error answer;
    files after it get none (the caller sends them again).
    """
    request = json.dumps({"paths": paths, "formats": MEDIA_FORMATS, "protocols": PROTOCOLS}).encode()
    file_seconds = limit("LIBRARY_PROBE_FILE_SECONDS", FILE_SECONDS)
    batch_seconds = limit("LIBRARY_PROBE_BATCH_SECONDS", BATCH_SECONDS)
    proc = probe_sandbox.start(roots, command)
    stderr = _Stderr(proc.stderr)
    answers: dict[int, dict] = {}
    ready, stopped, buffer = False, "", b""
    started = last = time.monotonic()
    try:
        try:
            proc.stdin.write(request)  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
            while len(answers) < len(paths):
                now = time.monotonic()
                until = min(started + batch_seconds, last + (file_seconds if ready else START_SECONDS))
                if now >= until:
                    stopped = "batch time" if now >= started + batch_seconds else "file time"
                    break
                if not selector.select(until - now):
                    continue
                chunk = os.read(proc.stdout.fileno(), 1 << 16)  # type: ignore[union-attr]
                if not chunk:
                    stopped = "exit"
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    try:
                        answer = json.loads(line)
                    except ValueError:
                        continue  # not ours: whatever else reached stdout
                    if not isinstance(answer, dict):
                        continue
                    last = time.monotonic()
                    if answer.get("ready"):
                        ready = True
                    elif isinstance(answer.get("i"), int) and 0 <= answer["i"] < len(paths):
                        answers[answer["i"]] = _clean(answer)
    finally:
        kill_now(proc)
        proc.stdout.close()  # type: ignore[union-attr]  (a worker runs thousands of batches: no fd left open)
    err = stderr.text()
    proc.stderr.close()  # type: ignore[union-attr]
    if not ready:
        raise ProbeFailed(f"the probe child did not start (exit {proc.returncode}): {err or 'no output'}")
    if stopped and stopped != "batch time" and len(answers) < len(paths):
        culprit = len(answers)  # answers come in order: the first missing one is the file it was on
        why = f"reading it took longer than {file_seconds:.0f} s" if stopped == "file time" else "the reader died on it"
        answers[culprit] = {"error": f"{NOT_MEDIA}: {why}"}
        log.warning("probe of %s stopped: %s (%s)", paths[culprit], why, err)
    return answers, stopped


def probe_files(files: list[Any], conf: FollowerSettings) -> dict[str, Any]:
    """Check, map and probe a batch of [path, size, mtime_ns]; facts are keyed by the leader's path."""
    facts: dict[str, dict[str, Any]] = {}
    local: list[tuple[str, str]] = []  # (leader path, resolved local path)
    for item in files:
        if not isinstance(item, list | tuple) or len(item) != 3 or not isinstance(item[0], str):
            continue
        path, size, mtime_ns = item
        try:
            resolved = resolve_inside(map_path(path, conf.path_map), conf.media_roots)
            st = os.stat(resolved)
        except PathError as exc:
            # This follower's roots or path map do not cover it: its setup, not the file, is at fault.
            facts[path] = {"error": str(exc)[:500], "missing": True}
            continue
        except OSError as exc:
            facts[path] = {"error": f"cannot be read here: {exc.strerror or exc}", "missing": True}
            continue
        if not stat.S_ISREG(st.st_mode):
            facts[path] = {"error": f"{NOT_MEDIA}: it is not a regular file"}
            continue
        if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
            facts[path] = {"changed": True}  # not what the leader saw: its scanner will look again
            continue
        local.append((path, str(resolved)))
    started = time.monotonic()
    answers, stopped = run_child([p for _, p in local], conf.media_roots) if local else ({}, "")
    left = []
    for index, (path, _resolved) in enumerate(local):
        if index in answers:
            facts[path] = answers[index]
        else:
            left.append(path)
    if left:
        log.warning(
            "probe batch stopped (%s) after %d of %d files; the leader sends the rest again",
            stopped,
            len(local) - len(left),
            len(local),
        )
    return {"facts": facts, "left": left, "seconds": round(time.monotonic() - started, 3)}


@celery_app.task(name="library.probe", bind=True, ignore_result=False, acks_late=False)
def probe(self, payload: dict[str, Any]) -> dict[str, Any]:
    """Read the media facts of a signed batch of files from the leader."""
    conf = settings()
    why = refusal(payload, conf.shared_token, self.request.id)
    if why:
        log.error("refused probe task %s: %s", self.request.id, why)
        raise PayloadRefused(f"refused by {self.request.hostname or '?'}: {why}")
    result = probe_files(payload.get("files") or [], conf)
    result["follower"] = self.request.hostname
    return result
