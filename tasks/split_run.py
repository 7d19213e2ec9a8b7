"""Split encoding on a follower: plan, one piece, the audio piece (no Celery here; the join: tasks/split_join.py).

Each body takes the verified payload and the follower's settings, like tasks/convert.run_attempt. Pieces
live in a hidden folder beside the output, `.<stem>.frameshift-<job>-pieces/`; every FFmpeg still runs
in a private folder of its own and the finished file is moved into the pieces folder atomically, after
it was verified and the attempt's fence was taken.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tasks import failures, sandbox
from tasks.convert import mapping_note, media_summary
from tasks.errors import TranscodeCancelled, TranscodeError, TranscodeInterrupted, TranscodeRefused
from tasks.ffmpeg_lib import ProbeError, probe
from tasks.follower import FollowerSettings
from tasks.paths import PathError, map_path, resolve_inside, temp_folder
from tasks.progress import Progress
from tasks.runner import run_ffmpeg
from tasks.spec import ConversionSpec, SpecError, parse_spec
from tasks.split import SPLIT_SECONDS, Piece, plan_pieces, read_packets, whole_stream_reason
from tasks.split_argv import PIECE_SUFFIX, audio_argv, audio_name, piece_argv

JOB_TAG = re.compile(r"[A-Za-z0-9_]{1,40}")  # no "-": it separates the job from the rest of a folder name
Report = Callable[[dict[str, Any]], None]
ShouldStop = Callable[[], str | None]
Publish = Callable[[], bool] | None


def pieces_folder(final: Path, job: str) -> Path:
    """Return the hidden folder beside final that holds a split job's finished pieces."""
    return final.with_name(f".{final.stem}.frameshift-{job}-pieces")


def piece_name(index: int) -> str:
    """Return the file name of piece index inside the pieces folder."""
    return f"piece-{index:04d}{PIECE_SUFFIX}"


def read_spec(payload: dict[str, Any]) -> ConversionSpec:
    try:
        return parse_spec(payload.get("spec"))
    except SpecError as exc:
        raise TranscodeRefused(f"invalid conversion spec: {exc}") from None


def job_tag(payload: dict[str, Any]) -> str:
    job = str(payload.get("job", ""))
    if not JOB_TAG.fullmatch(job):
        raise TranscodeRefused("the payload's job tag must be 1-40 letters, digits or '_'")
    return job


def resolve_path(payload: dict[str, Any], settings: FollowerSettings, key: str, must_exist: bool) -> Path:
    leader = str(payload.get(key, ""))
    local = map_path(leader, settings.path_map)
    try:
        return resolve_inside(local, settings.media_roots, must_exist=must_exist)
    except PathError as exc:
        what = "input not usable" if key == "input" else "output not allowed"
        raise TranscodeRefused(
            f"{what} on this follower: {exc}{mapping_note(leader, local, settings.path_map)}"
        ) from None


def job_paths(payload: dict[str, Any], settings: FollowerSettings) -> tuple[Path, Path]:
    source = resolve_path(payload, settings, "input", True)
    final = resolve_path(payload, settings, "output", False)
    if final == source:
        raise TranscodeRefused("the output would replace the source file")
    if not final.parent.is_dir():
        raise TranscodeError(f"the output folder {final.parent} does not exist on this follower")
    return source, final


def private_workdir(final: Path, tag: str) -> Path:
    try:
        return sandbox.private_folder(temp_folder(final, tag))
    except OSError as exc:
        raise TranscodeError(failures.from_errno(exc, final.parent, "write")) from None


def encode(
    argv: list[str],
    seconds: float | None | Callable[[float | None], float | None],
    source: Path,
    reads: list[str],
    workdir: Path,
    report: Report,
    stop: ShouldStop,
) -> list[str]:
    """Run one FFmpeg of a split job with progress; raise the attempt's error when it does not finish well."""
    report({"stage": "starting", "percent": 0.0, "argv": argv, **({} if callable(seconds) else {"duration": seconds})})

    def on_progress(progress: Progress) -> None:
        report({"stage": "encoding", **progress.to_dict()})

    outcome = run_ffmpeg(
        argv,
        seconds,
        on_progress,
        lambda: bool(stop()),
        on_start=lambda pid: report({"stage": "started", "ffmpeg_pid": pid, "percent": 0.0}),
        reads=reads,
        workdir=workdir,
    )
    if outcome.cancelled:
        reason = stop() or "cancel"
        if reason == "shutdown":
            raise TranscodeInterrupted("interrupted: this follower was shutting down", None, outcome.log_tail[-20:])
        raise TranscodeCancelled("cancelled" if reason == "cancel" else reason, None, outcome.log_tail[-20:])
    # FFmpeg 5.1 exits 0 when writing the trailer or closing the file failed (a full disk, say).
    write_failed = any(line.startswith(("Error writing trailer", "Error closing file")) for line in outcome.log_tail)
    if outcome.exit_code != 0 or write_failed:
        why = failures.explain(outcome.exit_code or 1, outcome.log_tail, source, workdir.parent, workdir)
        raise TranscodeError(why, outcome.exit_code or 1, outcome.log_tail[-40:])
    return outcome.log_tail[-20:]


def fence(publish: Publish, stop: ShouldStop, log_tail: list[str]) -> None:
    """Take the attempt's fence before anything is moved into place (tasks/reporting.StopCheck.may_publish)."""
    if publish is None:
        return
    try:
        allowed = publish()
    except ConnectionError as exc:
        raise TranscodeError(f"the result was ready but not published: {exc}", 0, log_tail) from None
    if not allowed:
        raise TranscodeCancelled(f"{stop() or 'given up by the leader'}; this attempt's output was discarded", None)


def run_plan(payload: dict[str, Any], settings: FollowerSettings) -> dict[str, Any]:
    """Read the input's keyframes and cut it into pieces; say why not when the spec needs the whole file."""
    spec = read_spec(payload)
    source = resolve_path(payload, settings, "input", True)
    try:
        info = probe(str(source), settings.ffprobe_bin)
        packets = read_packets(str(source), settings.ffprobe_bin)
    except ProbeError as exc:
        raise TranscodeError(f"cannot read the input as video: {exc}") from None
    if packets.first is None:
        return {"reason": "the input has no video stream with timestamps", "pieces": []}
    seconds = float(payload.get("split_seconds") or SPLIT_SECONDS)
    cut = plan_pieces(packets.keyframes, packets.duration, packets.first, seconds)
    pieces = [Piece(p.index, p.start, p.end, packets.frames_between(p.start, p.end)) for p in cut]
    streams = info.get("streams", [])
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    return {
        "reason": whole_stream_reason(spec),
        "pieces": [p.to_dict() for p in pieces],
        "frames": len(packets.times),
        "video_duration": round(packets.duration, 6),
        "frame_duration": round(packets.frame, 6),
        "video_start": packets.first,
        "start_time": float(info.get("format", {}).get("start_time") or 0.0),
        "keyframes": len(packets.keyframes),
        "audio": any(s.get("codec_type") in ("audio", "subtitle") for s in streams),
        "audio_codec": audio.get("codec_name") if audio else None,
    }


def run_piece(
    payload: dict[str, Any], settings: FollowerSettings, report: Report, stop: ShouldStop, tag: str, publish: Publish
) -> dict[str, Any]:
    """Encode one piece (video only) and move it into the job's pieces folder."""
    spec, job = read_spec(payload), job_tag(payload)
    source, final = job_paths(payload, settings)
    index, start = int(payload["index"]), float(payload["start"])
    end = None if payload.get("end") is None else float(payload["end"])
    expected = payload.get("frames")
    folder = pieces_folder(final, job)
    folder.mkdir(mode=0o700, exist_ok=True)
    workdir = private_workdir(final, f"{job}-p{index}-{tag}")
    temp = workdir / f"piece{PIECE_SUFFIX}"
    started = time.monotonic()
    try:
        argv = piece_argv(spec, str(source), start, end, str(temp), settings.threads, settings.ffmpeg_bin)
        # The last piece runs to the end: FFmpeg's log gives the input's duration when it starts.
        seconds = (end - start) if end is not None else (lambda whole: max(whole - start, 0.001) if whole else None)
        tail = encode(argv, seconds, source, [str(source)], workdir, report, stop)
        try:
            frames = len(read_packets(str(temp), settings.ffprobe_bin).times)
        except ProbeError as exc:
            raise TranscodeError(f"piece {index} failed verification: {exc}", 0, tail) from None
        if frames == 0 or (expected is not None and frames != int(expected)):
            raise TranscodeError(f"piece {index} has {frames} frames where the input has {expected}", 0, tail)
        fence(publish, stop, tail)
        size = temp.stat().st_size
        os.replace(temp, folder / piece_name(index))
    except sandbox.SandboxError as exc:
        raise TranscodeError(str(exc)) from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"index": index, "frames": frames, "size": size, "seconds": round(time.monotonic() - started, 3)}


def run_audio(
    payload: dict[str, Any], settings: FollowerSettings, report: Report, stop: ShouldStop, tag: str, publish: Publish
) -> dict[str, Any]:
    """Convert audio and subtitles once into the pieces folder; skip when the input has neither."""
    spec, job = read_spec(payload), job_tag(payload)
    source, final = job_paths(payload, settings)
    try:
        streams = probe(str(source), settings.ffprobe_bin).get("streams", [])
    except ProbeError as exc:
        raise TranscodeError(f"cannot read the input as video: {exc}") from None
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if not any(s.get("codec_type") in ("audio", "subtitle") for s in streams):
        return {"skipped": True}
    folder = pieces_folder(final, job)
    folder.mkdir(mode=0o700, exist_ok=True)
    workdir = private_workdir(final, f"{job}-a-{tag}")
    temp = workdir / audio_name(spec)
    try:
        codec = audio.get("codec_name") if audio else None
        argv = audio_argv(spec, str(source), str(temp), codec, settings.threads, settings.ffmpeg_bin)
        tail = encode(argv, lambda whole: whole, source, [str(source)], workdir, report, stop)
        try:
            summary = media_summary(probe(str(temp), settings.ffprobe_bin))
        except ProbeError as exc:
            raise TranscodeError(f"the audio piece failed verification: {exc}", 0, tail) from None
        fence(publish, stop, tail)
        size = temp.stat().st_size
        os.replace(temp, folder / audio_name(spec))
    except sandbox.SandboxError as exc:
        raise TranscodeError(str(exc)) from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"skipped": False, "size": size, "audio_codec": summary["audio_codec"], "duration": summary["duration"]}
