"""Split encoding, the argv: one video piece, the audio piece, the join (docs/split.md).

Every measured pitfall behind these choices is in shared/notes/split-encoding.md; docs/split.md says
which test covers each one.
"""

from __future__ import annotations

from tasks.command import MUXER, PROGRESS_ARGS, SUBTITLE_CODEC, Threads, audio_options, video_options
from tasks.custom_options import OPTIONS
from tasks.ffmpeg_lib import INPUT_GUARD, MEDIA_FORMATS, PROTOCOLS, compile_argv
from tasks.spec import ConversionSpec

# Video pieces are Matroska: raw .hevc cannot be stream-copied (no timestamps), and mp4 pieces with
# the default vsync duplicate frames of a variable-frame-rate input.
PIECE_FORMAT = "matroska"
PIECE_SUFFIX = ".mkv"
# The audio piece is written by the final container's family. mp4/mov keep an encoder's negative start
# (AAC priming) in an edit list. Matroska shifts it away unless told not to (-avoid_negative_ts disabled),
# except for Opus, whose pre-skip it stores itself as CodecDelay (disabled would count it twice).
AUDIO_FORMAT = {"mkv": "matroska", "webm": "matroska", "mp4": "mp4", "mov": "mov"}
AUDIO_SUFFIX = {"matroska": ".mkv", "mp4": ".mp4", "mov": ".mov"}
FORMAT_NAME = {"matroska": "matroska", "mp4": "mov", "mov": "mov"}  # the demuxer that reads each back
# The default audio encoder of each muxer, for custom specs that name none (FFmpeg 5.1).
DEFAULT_AUDIO = {"mkv": "libvorbis", "webm": "libopus", "mp4": "aac", "mov": "aac"}
# Custom options that act on the written file or on stream copy, not on an encoder: they go to the join only.
JOIN_ONLY = frozenset("-movflags -metadata -map_metadata -map_chapters -default_mode -disposition -tag".split())


def _split_tokens(tokens: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Sort custom tokens into (encoder options, -map pairs, join-only options)."""
    encode: list[str] = []
    maps: list[str] = []
    join: list[str] = []
    i = 0
    while i < len(tokens):
        name = tokens[i].split(":")[0]
        entry = OPTIONS.get(name)
        width = 2 if entry is not None and entry.kind != "flag" and i + 1 < len(tokens) else 1
        group = maps if name == "-map" else join if name in JOIN_ONLY else encode
        group.extend(tokens[i : i + width])
        i += width
    return encode, maps, join


def _guarded_input(threads: Threads, **extra: object) -> dict[str, object]:
    options: dict[str, object] = {**INPUT_GUARD}  # before -i: after it they would apply to the output
    if threads.decoder:
        options["threads"] = threads.decoder
    options.update(extra)
    return options


def piece_argv(
    spec: ConversionSpec,
    source: str,
    start: float,
    end: float | None,
    target: str,
    threads: Threads = Threads(),
    ffmpeg_bin: str = "ffmpeg",
) -> list[str]:
    """Return the argv that encodes the video frames with start <= pts < end into a Matroska piece.

    -ss/-to go before -i with the exact keyframe times: decoding from there is frame-exact even for an
    open-GOP source. -fps_mode passthrough keeps every timestamp of a variable-frame-rate input.
    """
    seek: dict[str, object] = {"ss": f"{start:.6f}"}
    if end is not None:
        seek["to"] = f"{end:.6f}"
    input_options = _guarded_input(threads, **seek)
    global_args = ["-hide_banner", "-y", *PROGRESS_ARGS]
    encoder_threads = spec.threads or threads.encoder
    if spec.mode == "custom":
        argv = compile_argv(ffmpeg_bin, source, target, input_options, {}, [], global_args)
        encode, _maps, _join = _split_tokens(spec.custom_tokens())
        if encoder_threads and "-threads" not in encode:
            encode += ["-threads", str(encoder_threads)]
        tokens = ["-map", "0:v:0", *encode, "-an", "-sn", "-dn", "-fps_mode", "passthrough", "-f", PIECE_FORMAT]
        return argv[:-1] + tokens + argv[-1:]
    out: dict[str, object] = {"f": PIECE_FORMAT, **video_options(spec)}
    if spec.video_codec == "libx265" and encoder_threads == 1:
        # x265 ignores -threads: one thread means one pool thread and one frame thread.
        out["x265-params"] = f"{out['x265-params']}:pools=1:frame-threads=1"
    out.update({"an": None, "sn": None, "dn": None, "fps_mode": "passthrough"})
    if encoder_threads:
        out["threads"] = encoder_threads
    return compile_argv(ffmpeg_bin, source, target, input_options, out, ["v:0"], global_args)


def audio_codec_out(spec: ConversionSpec, source_codec: str | None) -> str | None:
    """Return the audio codec the output will carry (the source's when copied), or None when unknown."""
    if spec.mode == "custom":
        encode, _maps, _join = _split_tokens(spec.custom_tokens())
        named = next((encode[i + 1] for i, t in enumerate(encode[:-1]) if t in ("-c:a", "-acodec", "-codec:a")), None)
        named = named or next((encode[i + 1] for i, t in enumerate(encode[:-1]) if t in ("-c", "-codec")), None)
        chosen = named or DEFAULT_AUDIO[spec.container]
    else:
        chosen = spec.audio_codec
    return source_codec if chosen == "copy" else chosen


def audio_format(spec: ConversionSpec) -> str:
    """Return the muxer of the audio piece."""
    return AUDIO_FORMAT[spec.container]


def audio_name(spec: ConversionSpec) -> str:
    """Return the file name of the audio piece inside the pieces folder."""
    return "audio" + AUDIO_SUFFIX[audio_format(spec)]


def audio_argv(
    spec: ConversionSpec,
    source: str,
    target: str,
    source_codec: str | None = None,
    threads: Threads = Threads(),
    ffmpeg_bin: str = "ffmpeg",
) -> list[str]:
    """Return the argv that converts audio and subtitles once, keeping the encoder's own timestamps.

    Per-piece audio drifts at every boundary (Opus +8 ms, AAC +21 ms), so audio is one piece of its own.
    source_codec is the input's audio codec (ffprobe's codec_name): needed when the audio is copied.
    """
    fmt = audio_format(spec)
    keep_start: list[str] = []
    codec = audio_codec_out(spec, source_codec) or ""
    if fmt == "matroska" and "opus" not in codec:
        keep_start = ["-avoid_negative_ts", "disabled"]
    input_options = _guarded_input(threads)
    global_args = ["-hide_banner", "-y", *PROGRESS_ARGS]
    if spec.mode == "custom":
        argv = compile_argv(ffmpeg_bin, source, target, input_options, {}, [], global_args)
        encode, maps, _join = _split_tokens(spec.custom_tokens())
        tokens = [*maps, *encode, "-vn", "-dn", *keep_start, "-f", fmt]
        return argv[:-1] + tokens + argv[-1:]
    out: dict[str, object] = {"f": fmt, "vn": None, "dn": None, **audio_options(spec)}
    selectors = ["a?"]
    if spec.subtitles == "copy":
        selectors.append("s?")
        out["c:s"] = SUBTITLE_CODEC[spec.container]
    argv = compile_argv(ffmpeg_bin, source, target, input_options, out, selectors, global_args)
    return argv[:-1] + keep_start + argv[-1:]


def join_argv(
    list_file: str,
    audio: str | None,
    source: str,
    target: str,
    spec: ConversionSpec,
    video_start: float,
    start_time: float,
    ffmpeg_bin: str = "ffmpeg",
) -> list[str]:
    """Return the argv that joins the pieces (concat demuxer, stream copy) with the audio piece into target.

    -copyts keeps every timestamp as the pieces and the audio piece hold them (a re-read would otherwise
    shift all streams by the audio's negative start); -itsoffset puts the video back where the source
    had it (video_start - start_time: e.g. 21 ms after AAC in an mkv). The concat list names files in the
    join's own folder with relative names, so -safe 1 holds.
    """
    guard = ["-protocol_whitelist", PROTOCOLS]
    argv = [ffmpeg_bin, "-hide_banner", "-y", *PROGRESS_ARGS, "-copyts"]
    argv += [*guard, "-format_whitelist", f"concat,{PIECE_FORMAT}", "-f", "concat", "-safe", "1"]
    argv += ["-itsoffset", f"{video_start - start_time:.6f}", "-i", list_file]
    maps = ["-map", "0:v:0"]
    if audio is not None:
        argv += [*guard, "-format_whitelist", FORMAT_NAME[audio_format(spec)], "-i", audio]
        maps += ["-map", "1:a?", "-map", "1:s?"]
    metadata = "2" if audio is not None else "1"
    argv += [*guard, "-format_whitelist", MEDIA_FORMATS, "-i", source]
    join_tokens: list[str] = []
    if spec.mode == "custom":
        _encode, _maps, join_tokens = _split_tokens(spec.custom_tokens())
        for i, token in enumerate(join_tokens[:-1]):
            # The user's input 0 is the source, which the join reads as its last input.
            if token.split(":")[0] in ("-map_metadata", "-map_chapters") and join_tokens[i + 1].startswith("0"):
                join_tokens[i + 1] = metadata + join_tokens[i + 1][1:]
    for option in ("-map_metadata", "-map_chapters"):
        if option not in join_tokens:
            maps += [option, metadata]
    argv += [*maps, "-c", "copy", *join_tokens]
    return argv + ["-f", MUXER[spec.container], target]
