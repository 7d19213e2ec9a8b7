"""One conversion attempt, independent of Celery: check, probe, run, verify, place."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tasks import failures, sandbox
from tasks.command import build_argv
from tasks.errors import NotHere, TranscodeCancelled, TranscodeError, TranscodeInterrupted, TranscodeRefused
from tasks.ffmpeg_lib import ProbeError, probe
from tasks.follower import FollowerSettings
from tasks.paths import PathError, free_name, map_path, resolve_inside, temp_folder, temp_output, unmap_path
from tasks.progress import Progress
from tasks.runner import run_ffmpeg
from tasks.spec import SpecError, parse_spec

log = logging.getLogger(__name__)


def media_summary(info: dict[str, Any]) -> dict[str, Any]:
    """Pick duration, size and codecs out of ffprobe JSON."""
    fmt = info.get("format", {})
    streams = info.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), {})
    audio = next((s for s in streams if s.get("codec_type") == "audio"), {})
    return {
        "duration": float(fmt.get("duration") or video.get("duration") or 0) or None,
        "size": int(fmt.get("size") or 0),
        "format": fmt.get("format_name", ""),
        "video_codec": video.get("codec_name"),
        "audio_codec": audio.get("codec_name"),
        "width": video.get("width"),
        "height": video.get("height"),
        "pix_fmt": video.get("pix_fmt"),
    }


def place_output(temp: Path, final: Path, if_exists: str) -> Path:
    """Move the verified temporary file into place without ever silently overwriting."""
    if if_exists == "overwrite":
        os.replace(temp, final)
        return final
    target = final
    for _ in range(100):
        try:
            os.link(temp, target)  # fails if target exists: no race with another writer
        except FileExistsError:
            if if_exists == "fail":
                raise TranscodeError(f"{final} appeared while converting; not overwriting it") from None
            target = free_name(final)
            continue
        os.unlink(temp)
        return target
    raise TranscodeError(f"could not find a free name beside {final}")


def mapping_note(leader_path: str, local_path: str, pairs: list[tuple[str, str]]) -> str:
    """Explain how this follower translated a leader path, for error messages."""
    if not pairs:
        return (
            "; FOLLOWER_PATH_MAP is not set, so this follower looks for the leader's path as it is: mount the "
            "media at the same path, or set FOLLOWER_PATH_MAP=LEADER_FOLDER=LOCAL_FOLDER"
        )
    shown = ";".join(f"{leader}={local}" for leader, local in pairs)
    if local_path != leader_path:
        return f"; the leader's path {leader_path} was mapped to {local_path} by FOLLOWER_PATH_MAP={shown}"
    return f"; no entry of FOLLOWER_PATH_MAP={shown} matches the leader's path {leader_path}"


def failure_report(argv: list[str], outcome: Any, facts: dict[str, Any] | None) -> dict[str, Any]:
    """What the leader keeps of a failed run: the command, the input's facts and FFmpeg's whole stderr (bounded)."""
    return {
        "argv": argv,
        "input": facts or {},
        "input_from_log": getattr(outcome, "input_facts", None) or {},
        "stderr": getattr(outcome, "stderr", "") or "",
    }


def read_source(path: str, ffprobe_bin: str) -> dict[str, Any]:
    """Probe the input; raise TranscodeError when it is not readable video."""
    try:
        return media_summary(probe(path, ffprobe_bin))
    except ProbeError as exc:
        raise TranscodeError(f"cannot read the input as video: {exc}") from None


def run_attempt(
    payload: dict[str, Any],
    settings: FollowerSettings,
    report: Callable[[dict[str, Any]], None],
    should_stop: Callable[[], str | None],
    tag: str,
    publish: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Convert payload['input'] to payload['output']; return the result or raise TranscodeError.

    should_stop() returns None to go on, 'shutdown' when this follower is stopping, or why the
    leader wants the attempt stopped. publish() is asked right before the rename into place and
    returns False when the leader has given this attempt up (the fence: tasks/reporting.py).
    """
    try:
        spec = parse_spec(payload.get("spec"))
    except SpecError as exc:
        raise TranscodeRefused(f"invalid conversion spec: {exc}") from None
    leader_in, leader_out = str(payload.get("input", "")), str(payload.get("output", ""))
    local_in = map_path(leader_in, settings.path_map)
    local_out = map_path(leader_out, settings.path_map)
    try:
        source = resolve_inside(local_in, settings.media_roots)
    except PathError as exc:
        note = mapping_note(leader_in, local_in, settings.path_map)
        raise NotHere(f"input not usable on this follower: {exc}{note}") from None
    try:
        final = resolve_inside(local_out, settings.media_roots, must_exist=False)
    except PathError as exc:
        note = mapping_note(leader_out, local_out, settings.path_map)
        raise NotHere(f"output not allowed on this follower: {exc}{note}") from None
    if final == source:
        raise TranscodeRefused("the output would replace the source file")
    if not final.parent.is_dir():
        note = mapping_note(leader_out, local_out, settings.path_map)
        raise NotHere(f"the output folder {final.parent} does not exist on this follower{note}")
    # FFmpeg's private folder sits beside the output (same filesystem: the rename into place is atomic);
    # inside its boundary FFmpeg can write nowhere else. We move the result out and remove the folder.
    try:
        workdir = sandbox.private_folder(temp_folder(final, tag))
    except OSError as exc:
        raise TranscodeError(failures.from_errno(exc, final.parent, "write")) from None
    temp = temp_output(final, tag)
    argv = build_argv(spec, str(source), str(temp), settings.threads, settings.ffmpeg_bin)
    input_size = source.stat().st_size
    report({"stage": "starting", "percent": 0.0, "argv": argv, "input_size": input_size})
    known: dict[str, float | None] = {}

    def input_duration(from_log: float | None) -> float | None:
        # FFmpeg's own log gives the duration; ffprobe (a whole second process, ~70 ms of start-up CPU
        # beside the encode: bench/overhead.py, bench/scaling.py) runs only when the log has none.
        if from_log is None:
            from_log = read_source(str(source), settings.ffprobe_bin)["duration"]
        known["duration"] = from_log
        report({"duration": from_log, "input_size": input_size})
        return from_log

    def on_progress(progress: Progress) -> None:
        report({"stage": "encoding", **progress.to_dict()})

    try:
        outcome = run_ffmpeg(
            argv,
            input_duration,
            on_progress,
            lambda: bool(should_stop()),
            on_start=lambda pid: report({"stage": "started", "ffmpeg_pid": pid, "percent": 0.0}),
            reads=[str(source)],
            workdir=workdir,
        )
        if outcome.cancelled:
            reason = should_stop() or "cancel"
            if reason == "shutdown":
                raise TranscodeInterrupted("interrupted: this follower was shutting down", None, outcome.log_tail[-20:])
            raise TranscodeCancelled("cancelled" if reason == "cancel" else reason, None, outcome.log_tail[-20:])
        # FFmpeg 5.1 exits 0 when writing the trailer or closing the file failed (a full disk, say).
        write_failed = any(
            line.startswith(("Error writing trailer", "Error closing file")) for line in outcome.log_tail
        )
        if outcome.exit_code != 0 or write_failed:
            facts = None
            if source.exists():
                try:
                    facts = read_source(str(source), settings.ffprobe_bin)
                except TranscodeError as exc:  # an unreadable input is the better explanation
                    report = failure_report(argv, outcome, {"error": exc.message})
                    raise TranscodeError(exc.message, None, [], False, report) from None
            why = failures.explain(outcome.exit_code or 1, outcome.log_tail, source, final.parent, workdir)
            report = failure_report(argv, outcome, facts)
            raise TranscodeError(why, outcome.exit_code or 1, outcome.log_tail[-40:], False, report)
        try:
            out_info = media_summary(probe(str(temp), settings.ffprobe_bin))
        except ProbeError as exc:
            given_up = should_stop()  # the leader may have given this attempt up (and removed its folder) meanwhile
            if given_up and given_up != "shutdown":
                raise TranscodeCancelled(
                    f"{given_up}; this attempt's output was discarded", None, outcome.log_tail[-20:]
                ) from None
            raise TranscodeError(
                f"the output failed verification: {exc}",
                0,
                outcome.log_tail[-40:],
                False,
                failure_report(argv, outcome, None),
            ) from None
        expected = known["duration"] if "duration" in known else input_duration(None)
        if expected and out_info["duration"] and abs(out_info["duration"] - expected) > max(1.0, 0.05 * expected):
            raise TranscodeError(
                f"the output lasts {out_info['duration']:.1f} s but the input {expected:.1f} s",
                0,
                outcome.log_tail[-40:],
                False,
                failure_report(argv, outcome, None),
            )
        if publish is not None:
            try:
                allowed = publish()
            except ConnectionError as exc:
                raise TranscodeError(
                    f"the output was ready but not published: {exc}", 0, outcome.log_tail[-20:]
                ) from None
            if not allowed:
                reason = should_stop() or "given up by the leader"
                raise TranscodeCancelled(f"{reason}; this attempt's output was discarded", None, outcome.log_tail[-20:])
        try:
            placed = place_output(temp, final, spec.if_exists)
        except OSError as exc:
            raise TranscodeError(failures.from_errno(exc, final.parent, "move the output into place")) from None
    except sandbox.SandboxError as exc:
        raise TranscodeError(str(exc)) from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    input_facts = getattr(outcome, "input_facts", None) or {}
    return {
        "output": unmap_path(str(placed), settings.path_map),
        "argv": argv,
        "exit_code": 0,
        "input_size": input_size,
        "output_size": placed.stat().st_size,
        "duration": out_info["duration"],
        "video_codec": out_info["video_codec"],
        "audio_codec": out_info["audio_codec"],
        "format": out_info["format"],
        "width": out_info["width"],
        "height": out_info["height"],
        # What the input was (statistics' "codec before"), from FFmpeg's own header: no second process.
        "input_video_codec": input_facts.get("video_codec"),
        "input_audio_codec": input_facts.get("audio_codec"),
        "input_format": input_facts.get("format"),
        "log_tail": outcome.log_tail[-20:],
    }
