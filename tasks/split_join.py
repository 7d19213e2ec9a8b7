"""Split encoding on a follower, the end: join the pieces, verify, rename into place; clean up.

The join reads the pieces through the concat demuxer by stream copy, muxes the audio piece, and checks
the result against the plan: the input's frame count, and its video duration within one frame.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from tasks import failures, sandbox
from tasks.convert import place_output, read_source
from tasks.errors import TranscodeError
from tasks.ffmpeg_lib import ProbeError
from tasks.follower import FollowerSettings
from tasks.paths import unmap_path
from tasks.split import read_packets
from tasks.split_argv import audio_name, join_argv
from tasks.split_run import (
    Publish,
    Report,
    ShouldStop,
    encode,
    fence,
    job_paths,
    job_tag,
    piece_name,
    pieces_folder,
    private_workdir,
    read_spec,
    resolve_path,
)


def run_join(
    payload: dict[str, Any], settings: FollowerSettings, report: Report, stop: ShouldStop, tag: str, publish: Publish
) -> dict[str, Any]:
    """Join the pieces and the audio piece, verify frame count and duration, rename into place, clean up."""
    spec, job = read_spec(payload), job_tag(payload)
    source, final = job_paths(payload, settings)
    folder = pieces_folder(final, job)
    starts = [float(t) for t in payload["starts"]]
    count, frames = len(starts), int(payload["frames"])
    missing = [i for i in range(count) if not (folder / piece_name(i)).is_file()]
    if missing:
        raise TranscodeError(f"piece(s) {', '.join(map(str, missing))} of {count} are missing; run them again")
    audio = folder / audio_name(spec) if payload.get("audio") else None
    if audio is not None and not audio.is_file():
        raise TranscodeError("the audio piece is missing; run it again")
    workdir = private_workdir(final, f"{job}-j-{tag}")
    temp = workdir / f"output{final.suffix}"
    started = time.monotonic()
    try:
        # Hard links put the pieces beside the list, so it names them relatively and -safe 1 holds.
        for i in range(count):
            os.link(folder / piece_name(i), workdir / piece_name(i))
        (workdir / "pieces.txt").write_text(concat_list(starts))
        video_start, start_time = float(payload["video_start"]), float(payload.get("start_time") or 0.0)
        argv = join_argv(
            "pieces.txt",
            str(audio) if audio else None,
            str(source),
            str(temp),
            spec,
            video_start,
            start_time,
            settings.ffmpeg_bin,
        )
        reads = [str(source)] + ([str(audio)] if audio else [])
        tail = encode(argv, float(payload["video_duration"]), source, reads, workdir, report, stop)
        join_seconds = time.monotonic() - started
        _verify_join(temp, payload, frames, settings.ffprobe_bin, tail)
        out_info = read_source(str(temp), settings.ffprobe_bin)
        fence(publish, stop, tail)
        try:
            placed = place_output(temp, final, spec.if_exists)
        except OSError as exc:
            raise TranscodeError(failures.from_errno(exc, final.parent, "move the output into place")) from None
    except sandbox.SandboxError as exc:
        raise TranscodeError(str(exc)) from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "output": unmap_path(str(placed), settings.path_map),
        "argv": argv,
        "exit_code": 0,
        "output_size": placed.stat().st_size,
        "frames": frames,
        "join_seconds": round(join_seconds, 3),
        **{k: out_info[k] for k in ("duration", "video_codec", "audio_codec", "format", "width", "height")},
        "log_tail": tail,
    }


def concat_list(starts: list[float]) -> str:
    """Return the concat demuxer's list: each piece with its exact length, the gap to the next piece's start.

    Without `duration` the demuxer places the next piece at this one's last frame plus the container's idea of
    a frame (the stream's nominal rate): a variable-frame-rate input whose cut follows a 40 ms frame lost
    20 ms at every boundary.
    """
    lines = []
    for i, start in enumerate(starts):
        lines.append(f"file '{piece_name(i)}'\n")
        if i + 1 < len(starts):
            lines.append(f"duration {starts[i + 1] - start:.6f}\n")
    return "".join(lines)


def _verify_join(temp: Path, payload: dict[str, Any], frames: int, ffprobe_bin: str, tail: list[str]) -> None:
    """The joined video has the input's frame count and lasts as long, within one frame."""
    try:
        out = read_packets(str(temp), ffprobe_bin)
    except ProbeError as exc:
        raise TranscodeError(f"the joined output failed verification: {exc}", 0, tail) from None
    if len(out.times) != frames:
        raise TranscodeError(f"the joined output has {len(out.times)} frames where the input has {frames}", 0, tail)
    expected, frame = float(payload["video_duration"]), float(payload.get("frame_duration") or 0.0)
    # Matroska stores milliseconds: allow one frame plus that rounding.
    if abs(out.duration - expected) > frame + 0.0015:
        raise TranscodeError(
            f"the joined video lasts {out.duration:.3f} s where the input's lasts {expected:.3f} s", 0, tail
        )


def run_cleanup(payload: dict[str, Any], settings: FollowerSettings) -> dict[str, Any]:
    """Remove a split job's pieces folder and any private folder its attempts left beside the output."""
    job = job_tag(payload)
    final = resolve_path(payload, settings, "output", False)
    removed = []
    for path in sorted(final.parent.glob(f".{glob_escape(final.stem)}.frameshift-{job}-*")):
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return {"removed": removed}


def glob_escape(text: str) -> str:
    """Escape glob's special characters in a file name."""
    return re.sub(r"([*?\[])", r"[\1]", text)
