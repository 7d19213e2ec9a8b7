"""The allowlist for custom FFmpeg arguments: options, value kinds, filters and encoder parameter keys.

This is the one table that the check (tasks/custom_args.py), docs/custom-args.md and the Configure
page are made from. Nothing here may name, read or write a file: an option or filter is listed only
if it never opens one, whatever its value.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Kind(NamedTuple):
    """A kind of option value: the pattern it must match in full, and how the docs describe it."""

    pattern: str
    about: str


NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
KINDS: dict[str, Kind] = {
    "flag": Kind("", "no value"),
    "codec": Kind(r"[a-z0-9][a-z0-9_\-]*", "an encoder name such as libx265, libopus or copy"),
    "name": Kind(NAME, "a plain word such as slow, film, main10 or yuv420p10le"),
    "int": Kind(r"-?[0-9]+", "a whole number"),
    "number": Kind(r"-?[0-9]+(\.[0-9]+)?", "a number such as 22 or 22.5"),
    "number_or_name": Kind(r"-?[0-9]+(\.[0-9]+)?|" + NAME, "a number or a plain word (e.g. 1, vbr, auto)"),
    "bitrate": Kind(r"[0-9]+(\.[0-9]+)?[kKMG]?", "a bitrate such as 2500k, 4M or 128000"),
    "duration": Kind(
        r"-?(([0-9]+:)?[0-9]{1,2}:[0-9]{1,2}(\.[0-9]+)?|[0-9]+(\.[0-9]+)?(s|ms|us)?)",
        "a duration such as 90, 90.5, 00:01:30 or 1500ms",
    ),
    "rate": Kind(
        r"[0-9]+(\.[0-9]+)?([/:][0-9]+(\.[0-9]+)?)?|[a-z][a-z\-]*", "a frame rate: 25, 29.97, 30000/1001, ntsc"
    ),
    "size": Kind(r"[0-9]+x[0-9]+|[a-z][a-z0-9]*", "a frame size such as 1280x720 or hd720"),
    "bytes": Kind(r"[0-9]+[kKMG]?", "a size in bytes such as 700M or 4G"),
    "aspect": Kind(r"[0-9]+(\.[0-9]+)?([:/][0-9]+(\.[0-9]+)?)?", "an aspect ratio such as 16:9 or 1.7778"),
    "flags": Kind(r"[+\-]?[a-z0-9_]+([+\-][a-z0-9_]+)*", "flags such as +faststart or +faststart+frag_keyframe"),
    "fourcc": Kind(r"[A-Za-z0-9_.]{1,4}|0x[0-9a-fA-F]{1,8}", "a four-character code such as hvc1 or avc1"),
    "layout": Kind(r"[A-Za-z0-9_.+\-()]+", "a channel layout such as stereo or 5.1(side)"),
    "map": Kind("", "a stream of the input: 0, 0:v:0, 0:a?, 0:m:language:eng, -0:s to leave out, or [label]"),
    "map_source": Kind(r"0|-1", "0 (from the input) or -1 (none)"),
    "metadata": Kind("", "key=text, e.g. title=My film (no file names, paths or URLs)"),
    "disposition": Kind(r"0|[+\-]?[a-z_]+([+\-][a-z_]+)*", "default, forced, 0 or +default-forced"),
    "filtergraph": Kind("", "a filter graph made only of the allowed filters below"),
    "x265_params": Kind("", "key=value:key=value with the x265 keys below"),
    "x264_params": Kind("", "key=value:key=value with the x264 keys below"),
    "svtav1_params": Kind("", "key=value:key=value with the SVT-AV1 keys below"),
    "bsf": Kind(r"[a-z0-9_]+(,[a-z0-9_]+)*", "bitstream filter names, e.g. hevc_mp4toannexb (no options)"),
}


class Option(NamedTuple):
    """One allowed option: its value kind, whether it takes a stream specifier (-c:v:0), and what it does."""

    kind: str
    streams: bool
    about: str


def _options(kind: str, streams: bool, about: str, *names: str) -> dict[str, Option]:
    return {name: Option(kind, streams, about) for name in names}


OPTIONS: dict[str, Option] = {
    # Codecs
    **_options("codec", True, "encoder for the selected streams (copy keeps them as they are)", "-c", "-codec"),
    **_options("codec", False, "video, audio or subtitle encoder", "-vcodec", "-acodec", "-scodec"),
    # Rate control and quality
    **_options("number", True, "constant-quality value", "-crf", "-cq", "-global_quality"),
    **_options("int", True, "constant quantizer, quantizer limits", "-qp", "-qmin", "-qmax"),
    **_options("number", True, "quality scale (-q:v, -q:a)", "-q", "-qscale"),
    **_options("bitrate", True, "bitrate, rate limits, rate-control buffer", "-b", "-maxrate", "-minrate", "-bufsize"),
    **_options("name", True, "rate-control mode (e.g. NVENC vbr, cbr, constqp)", "-rc"),
    **_options("int", True, "frames the encoder looks ahead", "-rc-lookahead"),
    **_options("number_or_name", True, "encoder quality switches", "-vbr", "-spatial-aq", "-temporal-aq", "-aq-mode"),
    **_options("number", True, "adaptive-quantization strength", "-aq-strength"),
    **_options("number_or_name", True, "NVENC multipass (kept in memory)", "-multipass"),
    **_options("number_or_name", True, "encoder speed (libaom, libvpx) and row multithreading", "-cpu-used", "-row-mt"),
    **_options("number_or_name", True, "encoder speed/quality trade-off", "-deadline", "-quality", "-usage"),
    **_options("int", True, "compression effort (FLAC, Opus ...) and lowpass cutoff", "-compression_level", "-cutoff"),
    **_options("name", True, "Opus application and frame length", "-application", "-frame_duration"),
    # Encoder settings
    **_options("name", True, "encoder preset (slow, p5, 6 ...)", "-preset"),
    **_options("name", True, "encoder tuning (film, grain, animation ...)", "-tune"),
    **_options("name", True, "codec profile (main, main10, high ...)", "-profile"),
    **_options("name", True, "codec level (4.1, 5.1 ...)", "-level"),
    **_options("name", True, "pixel format (yuv420p, yuv420p10le ...)", "-pix_fmt"),
    **_options("int", True, "GOP length and minimum keyframe interval", "-g", "-keyint_min"),
    **_options("int", True, "B-frames and reference frames", "-bf", "-refs"),
    **_options("name", True, "B-frame reference mode (NVENC)", "-b_ref_mode"),
    **_options("number_or_name", True, "color description", "-color_primaries", "-color_trc", "-colorspace"),
    **_options("number_or_name", True, "color range and chroma location", "-color_range", "-chroma_sample_location"),
    **_options("x265_params", False, "libx265 parameters (allowed keys only)", "-x265-params"),
    **_options("x264_params", False, "libx264 parameters (allowed keys only)", "-x264-params", "-x264opts"),
    **_options("svtav1_params", False, "SVT-AV1 parameters (allowed keys only)", "-svtav1-params"),
    **_options("fourcc", True, "codec tag, e.g. -tag:v hvc1 for Apple players", "-tag"),
    **_options("bsf", True, "bitstream filters", "-bsf"),
    # Streams, maps and metadata
    **_options("map", False, "pick streams of the input (file 0 only) or a filter output [label]", "-map"),
    **_options("map_source", False, "copy global metadata and chapters from the input, or not", "-map_metadata"),
    **_options("map_source", False, "copy chapters from the input, or not", "-map_chapters"),
    **_options("metadata", True, "set a metadata tag (-metadata:s:a:0 language=eng)", "-metadata"),
    **_options("disposition", True, "stream disposition (default, forced ...)", "-disposition"),
    **_options("flag", False, "leave out video, audio, subtitle or data streams", "-vn", "-an", "-sn", "-dn"),
    # Frames, sizes and audio format
    **_options("rate", True, "frame rate", "-r"),
    **_options("number_or_name", False, "frame-rate mode (cfr, vfr, passthrough ...)", "-fps_mode", "-vsync"),
    **_options("size", True, "frame size", "-s"),
    **_options("aspect", True, "display aspect ratio", "-aspect"),
    **_options("int", True, "audio channels and sample rate", "-ac", "-ar"),
    **_options("name", True, "audio sample format", "-sample_fmt"),
    **_options("layout", True, "audio channel layout", "-channel_layout"),
    **_options("int", True, "stop after this many frames", "-frames", "-vframes"),
    # Time, muxing, threads
    **_options("duration", False, "start, duration and end of the output", "-ss", "-t", "-to"),
    **_options("flag", False, "end the output with the shortest stream", "-shortest"),
    **_options("bytes", False, "stop when the output reaches this size", "-fs"),
    **_options("flags", False, "MP4/MOV flags (+faststart ...)", "-movflags"),
    **_options("name", False, "timestamp handling (make_zero, auto ...)", "-avoid_negative_ts"),
    **_options("name", False, "Matroska default-track mode", "-default_mode"),
    **_options("int", False, "muxing queue size", "-max_muxing_queue_size"),
    **_options("number_or_name", True, "encoder threads (0 or auto = FFmpeg decides)", "-threads"),
    **_options("number_or_name", True, "allow experimental encoders (-strict experimental)", "-strict"),
    # Filters
    **_options("filtergraph", True, "filters for the video or audio", "-filter"),
    **_options("filtergraph", False, "video filters (same as -filter:v)", "-vf"),
    **_options("filtergraph", False, "audio filters (same as -filter:a)", "-af"),
    **_options("filtergraph", False, "a filter graph over several streams", "-filter_complex", "-lavfi"),
}

# Filters that never open a file, a device or a network address, whatever their options say.
VIDEO_FILTERS: dict[str, str] = {
    "scale": "resize",
    "zscale": "resize and convert colors (zimg)",
    "crop": "cut the picture",
    "pad": "add borders",
    "fps": "change the frame rate",
    "framerate": "change the frame rate by blending",
    "minterpolate": "motion-interpolated frame rate",
    "format": "convert the pixel format",
    "setsar": "set the pixel aspect ratio",
    "setdar": "set the display aspect ratio",
    "setparams": "set color properties",
    "setrange": "set the color range",
    "setfield": "mark frames as interlaced or progressive",
    "fieldorder": "change the field order",
    "setpts": "change timestamps",
    "settb": "change the time base",
    "yadif": "deinterlace",
    "bwdif": "deinterlace",
    "w3fdif": "deinterlace",
    "estdif": "deinterlace",
    "kerndeint": "deinterlace",
    "idet": "detect interlacing",
    "pullup": "undo telecine",
    "fieldmatch": "inverse telecine",
    "decimate": "drop duplicated frames after inverse telecine",
    "mpdecimate": "drop near-duplicate frames",
    "tinterlace": "interlace",
    "interlace": "interlace",
    "hqdn3d": "denoise",
    "nlmeans": "denoise",
    "atadenoise": "denoise",
    "bm3d": "denoise",
    "vaguedenoiser": "denoise",
    "removegrain": "denoise",
    "deband": "remove banding",
    "gradfun": "remove banding",
    "deflicker": "remove flicker",
    "unsharp": "sharpen or blur",
    "cas": "sharpen",
    "smartblur": "blur",
    "gblur": "blur",
    "boxblur": "blur",
    "transpose": "rotate by 90 degrees",
    "hflip": "mirror",
    "vflip": "flip",
    "rotate": "rotate by any angle",
    "tonemap": "HDR to SDR",
    "colorspace": "convert colors",
    "colormatrix": "convert colors",
    "eq": "brightness, contrast, saturation, gamma",
    "hue": "hue and saturation",
    "colorbalance": "color balance",
    "colorchannelmixer": "mix color channels",
    "colorlevels": "color levels",
    "vibrance": "vibrance",
    "fade": "fade in or out",
    "trim": "keep part of the video",
    "tpad": "add frames at the start or end",
    "cropdetect": "report black borders in the log",
    "blackdetect": "report black parts in the log",
    "drawbox": "draw a box",
    "fillborders": "fill the borders",
    "overlay": "put one stream over another (filter_complex)",
    "hstack": "stack side by side (filter_complex)",
    "vstack": "stack top to bottom (filter_complex)",
    "scale2ref": "scale to another stream's size (filter_complex)",
    "split": "copy a stream (filter_complex)",
    "select": "keep frames matching an expression",
    "showinfo": "log frame information",
    "realtime": "slow down to real time",
    "null": "do nothing",
    "copy": "do nothing",
}
AUDIO_FILTERS: dict[str, str] = {
    "aresample": "resample, fix drift",
    "aformat": "convert sample format, rate or layout",
    "asetrate": "change the sample rate",
    "volume": "change the volume",
    "loudnorm": "EBU R128 loudness normalisation",
    "dynaudnorm": "dynamic normalisation",
    "acompressor": "compress dynamics",
    "compand": "compress or expand dynamics",
    "alimiter": "limit peaks",
    "atempo": "change the speed, keep the pitch",
    "pan": "remix channels",
    "channelmap": "reorder channels",
    "channelsplit": "split channels (filter_complex)",
    "join": "join streams into channels (filter_complex)",
    "amix": "mix streams (filter_complex)",
    "amerge": "merge streams (filter_complex)",
    "asplit": "copy a stream (filter_complex)",
    "highpass": "cut low frequencies",
    "lowpass": "cut high frequencies",
    "equalizer": "equalizer band",
    "bass": "bass",
    "treble": "treble",
    "afade": "fade in or out",
    "atrim": "keep part of the audio",
    "apad": "add silence at the end",
    "adelay": "delay channels",
    "asetpts": "change timestamps",
    "asettb": "change the time base",
    "aselect": "keep frames matching an expression",
    "silenceremove": "remove silence",
    "silencedetect": "report silence in the log",
    "volumedetect": "report the volume in the log",
    "afftdn": "denoise",
    "anlmdn": "denoise",
    "ashowinfo": "log frame information",
    "arealtime": "slow down to real time",
    "anull": "do nothing",
    "acopy": "do nothing",
}
FILTERS: dict[str, str] = {**VIDEO_FILTERS, **AUDIO_FILTERS}

# Keys of -x265-params / -x264-params / -svtav1-params that set encoding, never a file.
# "_" is read as "-", and a "no-" (x264 also "no") prefix switches a key off, as the encoders do.
X265_KEYS = frozenset(
    "log-level aq-mode aq-strength aq-motion psy-rd psy-rdoq rdoq-level sao limit-sao selective-sao deblock "
    "bframes b-adapt bframe-bias b-pyramid ref limit-refs limit-modes rd dynamic-rd me subme merange rect amp "
    "tu-intra-depth tu-inter-depth max-tu-size ctu min-cu-size qg-size keyint min-keyint scenecut "
    "hist-scenecut rc-lookahead lookahead-slices strong-intra-smoothing qcomp ipratio pbratio cbqpoffs "
    "crqpoffs vbv-maxrate vbv-bufsize vbv-init crf crf-max crf-min qp qpmin qpmax bitrate strict-cbr hdr-opt "
    "hdr10 hdr10-opt repeat-headers colorprim transfer colormatrix range master-display max-cll chromaloc "
    "open-gop weightb weightp frame-threads pools wpp pmode pme level-idc high-tier info hrd aud fades tskip "
    "early-skip fast-intra b-intra cutree cu-lossless lossless nr-intra nr-inter rc-grain radl slices rskip "
    "splitrd-skip uhd-bd temporal-layers tune".split()
)
X264_KEYS = frozenset(
    "ref bframes b-adapt b-bias b-pyramid direct weightb weightp me merange subme trellis aq-mode "
    "aq-strength psy psy-rd deblock keyint min-keyint scenecut rc-lookahead mbtree qcomp ipratio "
    "pbratio chroma-qp-offset fast-pskip dct-decimate 8x8dct cabac partitions mixed-refs vbv-maxrate "
    "vbv-bufsize vbv-init crf qp qpmin qpmax qpstep colorprim transfer colormatrix range level nal-hrd aud "
    "bluray-compat open-gop slices threads lookahead-threads sliced-threads force-cfr chroma-me "
    "constrained-intra intra-refresh fgo avcintra-class keyint-min".split()
)
SVTAV1_KEYS = frozenset(
    "preset crf qp tune film-grain film-grain-denoise enable-overlays fast-decode scd keyint lookahead "
    "enable-qm qm-min qm-max enable-tf enable-cdef enable-restoration irefresh-type tile-rows tile-columns "
    "enable-variance-boost variance-boost-strength variance-octile sharpness aq-mode input-depth mbr "
    "rc tbr lp pin color-primaries transfer-characteristics matrix-coefficients color-range "
    "chroma-sample-position mastering-display content-light enable-hdr".split()
)
PARAM_KEYS: dict[str, frozenset[str]] = {
    "x265_params": X265_KEYS,
    "x264_params": X264_KEYS,
    "svtav1_params": SVTAV1_KEYS,
}
PARAM_VALUE = re.compile(r"[A-Za-z0-9_.,+\-()]+")
