"""Split encoding, the plan: keyframes, pieces, and what cannot be split (docs/split.md).

A long input is cut at keyframes into pieces of about SPLIT_SECONDS, each encoded on its own
(video only), audio and subtitles once, and the pieces joined by stream copy. The argv builders
live in tasks/split_argv.py; the Celery tasks in tasks/split_tasks.py.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, dataclass

from tasks import sandbox
from tasks.custom_options import OPTIONS
from tasks.ffmpeg_lib import MEDIA_FORMATS, PROTOCOLS, ProbeError, explain_refusal
from tasks.filtergraph import GraphError, parse_graph
from tasks.spec import ConversionSpec
from tasks.split_argv import audio_argv, join_argv, piece_argv  # noqa: F401  (the layer's other half)

SPLIT_SECONDS = 60.0
# Options that set where the output starts or ends, or how long it is: each piece would apply them again.
TIMING_OPTIONS = {
    "-ss": "starts the output later (-ss)",
    "-t": "limits the output's length (-t)",
    "-to": "ends the output early (-to)",
    "-frames": "limits the number of frames (-frames)",
    "-vframes": "limits the number of frames (-vframes)",
    "-fs": "limits the output's size (-fs)",
    "-shortest": "ends the output with its shortest stream (-shortest)",
    "-r": "changes the frame rate (-r), so the frame count no longer matches the input's",
    "-avoid_negative_ts": "shifts timestamps at the mux (-avoid_negative_ts)",
}
# Video filters that drop, add or retime frames, or act on the file's absolute time.
TIMING_FILTERS = frozenset(
    "fps framerate minterpolate decimate mpdecimate pullup fieldmatch select trim setpts settb tpad tinterlace "
    "interlace realtime fade bwdif w3fdif estdif".split()
)
FIELD_MODES = frozenset({"1", "3", "send_field", "send_field_nospatial"})
# Words of FFmpeg's expression language that depend on the frame's place in the whole stream.
POSITION_WORDS = re.compile(r"(?<![A-Za-z0-9_])(t|n|T|N|pts|PTS|pos|time)(?![A-Za-z0-9_])")
MULTIPASS_KEYS = frozenset(
    "pass passes stats slow-firstpass multi-pass-opt-analysis multi-pass-opt-distortion analysis-save "
    "analysis-load".split()
)
VIDEO_FILTER_OPTIONS = ("-vf", "-filter", "-filter:v")
COPY_OPTIONS = ("-c", "-c:v", "-codec", "-codec:v", "-vcodec", "-c:v:0")


@dataclass(frozen=True)
class Piece:
    """One piece of a split job: video frames with start <= pts < end (end None: to the end of the file)."""

    index: int
    start: float
    end: float | None
    frames: int | None = None

    def to_dict(self) -> dict:
        """Return the piece as plain JSON values."""
        return asdict(self)


@dataclass(frozen=True)
class VideoPackets:
    """What ffprobe's packet list says about the first video stream."""

    keyframes: list[float]
    times: list[float]  # every packet's pts, sorted; negative ones (not shown) left out
    end: float | None  # the last packet's pts plus its duration

    @property
    def first(self) -> float | None:
        """Return the first shown video timestamp."""
        return self.times[0] if self.times else None

    @property
    def frame(self) -> float:
        """Return the typical frame duration (the median step between timestamps)."""
        steps = sorted(b - a for a, b in zip(self.times, self.times[1:]) if b > a)
        return steps[len(steps) // 2] if steps else 0.0

    @property
    def duration(self) -> float:
        """Return first to end: what the video lasts."""
        if not self.times:
            return 0.0
        end = self.end if self.end is not None else self.times[-1] + self.frame
        return end - self.times[0]

    def frames_between(self, start: float, end: float | None) -> int:
        """Return how many packets have start <= pts < end (one packet is one frame)."""
        return sum(1 for t in self.times if t >= start - 5e-7 and (end is None or t < end - 5e-7))


def read_packets(path: str, ffprobe_bin: str = "ffprobe", timeout: float = 300) -> VideoPackets:
    """List the first video stream's packets (pts, duration, key flag) with ffprobe inside the boundary.

    Reading packets takes a fraction of a second for a 4-minute file; decoding would take minutes. Packets
    before zero (an mp4 cut by stream copy starts at -1.3 s) are never shown, so they are left out.
    """
    argv = [ffprobe_bin, "-v", "error", "-protocol_whitelist", PROTOCOLS, "-format_whitelist", MEDIA_FORMATS]
    argv += ["-select_streams", "v:0", "-show_entries", "packet=pts_time,duration_time,flags", "-of", "csv=p=0", path]
    try:
        done = sandbox.run(argv, reads=[path], timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ProbeError(f"ffprobe took longer than {timeout:.0f} s to list the video packets") from None
    except (OSError, sandbox.SandboxError) as exc:
        raise ProbeError(str(exc)) from None
    message = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode != 0:
        raise ProbeError(explain_refusal(message) or (message.splitlines() or ["ffprobe failed"])[-1])
    return parse_packets(done.stdout.decode("utf-8", "replace"))


def parse_packets(text: str) -> VideoPackets:
    """Parse ffprobe's `pts_time,duration_time,flags` lines into sorted, de-duplicated times."""
    times: set[float] = set()
    keys: set[float] = set()
    end: float | None = None
    for line in text.splitlines():
        fields = line.strip().split(",")
        if len(fields) < 3:
            continue
        try:
            pts = float(fields[0])
        except ValueError:
            continue  # N/A: a packet without a timestamp
        if pts < 0:
            continue
        times.add(round(pts, 6))
        if "K" in fields[2]:
            keys.add(round(pts, 6))
        try:
            packet_end = pts + float(fields[1])
        except ValueError:
            packet_end = None
        if packet_end is not None and (end is None or packet_end > end):
            end = round(packet_end, 6)
    return VideoPackets(sorted(keys), sorted(times), end)


def keyframe_times(path: str, ffprobe_bin: str = "ffprobe") -> tuple[list[float], float | None]:
    """Return the keyframe times (sorted, no negatives, no duplicates) and the first video timestamp."""
    packets = read_packets(path, ffprobe_bin)
    return packets.keyframes, packets.first


def plan_pieces(
    keyframes: list[float], duration: float, first_pts: float, target_seconds: float = SPLIT_SECONDS
) -> list[Piece]:
    """Cut at keyframes into pieces of about target_seconds; a long stretch without a keyframe makes a longer piece.

    Piece 0 starts at the first video timestamp (seeking to 0 would let it overrun its end by a frame or two,
    shared/notes/split-encoding.md section 5); every other piece starts exactly on a keyframe. A last piece
    shorter than a third of the target is merged into the one before.
    """
    end = first_pts + duration
    cuts = [round(first_pts, 6)]
    previous: float | None = None  # the last keyframe short of the target
    for key in sorted(set(keyframes)):
        if key <= cuts[-1]:
            continue
        if key - cuts[-1] < target_seconds:
            previous = key
            continue
        ideal = cuts[-1] + target_seconds
        # The keyframe nearest the target, but never one that makes a piece shorter than half of it.
        usable = previous is not None and previous - cuts[-1] >= target_seconds / 2
        cut = previous if usable and ideal - previous < key - ideal else key
        if end - cut >= target_seconds / 3:
            cuts.append(round(cut, 6))
        previous = None
        if cut != key and key - cuts[-1] >= target_seconds and end - key >= target_seconds / 3:
            cuts.append(round(key, 6))  # a long stretch without keyframes after the one chosen
        elif cut != key:
            previous = key
    return [Piece(i, start, cuts[i + 1] if i + 1 < len(cuts) else None) for i, start in enumerate(cuts)]


def whole_stream_reason(spec: ConversionSpec) -> str | None:
    """Say why spec must run on the whole file, or None when its video can be encoded in pieces."""
    if spec.mode != "custom":
        return "the video is copied, not encoded: there is nothing to share out" if spec.video_codec == "copy" else None
    tokens = spec.custom_tokens()
    i = 0
    while i < len(tokens):
        token, name = tokens[i], tokens[i].split(":")[0]
        entry = OPTIONS.get(name)
        value = tokens[i + 1] if entry is not None and entry.kind != "flag" and i + 1 < len(tokens) else None
        why = _option_reason(token, name, value)
        if why:
            return why
        i += 2 if value is not None else 1
    return None


def _option_reason(token: str, name: str, value: str | None) -> str | None:
    """Why one custom option (and its value) ties the encode to the whole file, or None."""
    if name in TIMING_OPTIONS:
        return f"the custom arguments {TIMING_OPTIONS[name]}: each piece would do it again"
    if name in ("-pass", "-passlogfile"):
        return f"{token} asks for a two-pass encode, which reads the whole file before the second pass"
    if name in ("-vsync", "-fps_mode") and value not in ("passthrough", "0"):
        return f"{token} {value} may drop or duplicate frames against the whole file's timeline"
    if name in ("-filter_complex", "-lavfi"):
        return f"{name} builds a graph whose labelled outputs may mix audio and video; pieces carry video only"
    if token == "-vn":
        return "-vn leaves no video to encode in pieces"
    if token in COPY_OPTIONS and value == "copy":
        return f"{token} copy copies the video: there is nothing to share out"
    if name == "-map" and value is not None:
        body = value.removeprefix("-").removesuffix("?")
        if value.startswith("[") or (body.startswith("0:v") and body not in ("0:v", "0:v:0")) or body.startswith("0:V"):
            return f"-map {value} picks a video stream other than the first; pieces encode the first video stream"
    if name == "-bsf" and value and "setts" in value:
        return f"{token} {value} rewrites timestamps"
    if name.endswith("-params") and value:
        keys = {pair.partition("=")[0].replace("_", "-") for pair in value.split(":")}
        if keys & MULTIPASS_KEYS:
            return f"{token} asks for a multi-pass encode ({', '.join(sorted(keys & MULTIPASS_KEYS))}), which reads the whole file"
    if value is not None and (token in VIDEO_FILTER_OPTIONS or token.startswith("-filter:v")):
        return _filter_reason(token, value)
    return None


def _filter_reason(option: str, text: str) -> str | None:
    """Why a video filter graph depends on the whole stream (frame count, timing, absolute time), or None."""
    try:
        graph = parse_graph(text)
    except GraphError as exc:
        return f"the filter graph of {option} cannot be read: {exc}"
    for found in graph.filters:
        if found.name in TIMING_FILTERS:
            return f"the filter {found.name} in {option} changes which frames there are or when they are shown"
        values = [value for _, value in found.options]
        if found.name == "yadif" and FIELD_MODES.intersection(
            values[:1] + [v for k, v in found.options if k == "mode"]
        ):
            return f"yadif in {option} outputs one frame per field, so the frame count no longer matches the input's"
        for value in values:
            if POSITION_WORDS.search(value):
                return (
                    f"the filter {found.name} in {option} uses the frame's time or number ({value}); "
                    "each piece restarts both at zero"
                )
    return None
