"""Check custom FFmpeg arguments: parsed, never interpolated, and jailed.

Custom arguments may set codecs, filters and options for the one output Frame Shift writes.
They may not add inputs or outputs, name files or URLs, or use filters that open files.
"""

from __future__ import annotations

import re
import shlex

from tasks.spec import SpecError

# Options that take no value (so the next token is another option).
FLAGS = {
    "-an",
    "-vn",
    "-sn",
    "-dn",
    "-shortest",
    "-copyts",
    "-start_at_zero",
    "-copytb",
    "-accurate_seek",
    "-noaccurate_seek",
    "-autorotate",
    "-noautorotate",
    "-hide_banner",
    "-fix_sub_duration",
    "-ignore_unknown",
    "-copy_unknown",
    "-bitexact",
    "-reinit_filter",
}
# Options that add inputs/outputs, write side files or change where data goes.
FORBIDDEN = {
    "-i",
    "-y",
    "-n",
    "-f",
    "-progress",
    "-vstats",
    "-vstats_file",
    "-passlogfile",
    "-report",
    "-filter_script",
    "-filter_complex_script",
    "-attach",
    "-dump_attachment",
    "-dump",
    "-stdin",
    "-nostdin",
    "-protocol_whitelist",
    "-protocol_blacklist",
    "-init_hw_device",
    "-filter_hw_device",
    "-sdp_file",
    "-fpre",
    "-vpre",
    "-apre",
    "-spre",
    "-pre",
    "-x265-params",
    "-x264-params",
    "-svtav1-params",
    "-hls_segment_filename",
    "-master_pl_name",
    "-stats_period",
    "-benchmark_all",
}
# Filters that read or write files by name.
FILE_FILTERS = re.compile(
    r"(^|[,;\[\]:=\s'])(movie|amovie|subtitles|ass|sendcmd|asendcmd|zmq|azmq|lensfun|"
    r"frei0r|ladspa|lv2|coreimage|signature|vidstabdetect|vidstabtransform|drawtext|"
    r"libvmaf|psnr|ssim|showspectrumpic|select=.*file)\b",
    re.IGNORECASE,
)
FILTER_OPTIONS = {"-vf", "-af", "-filter", "-filter_complex", "-lavfi", "-filter:v", "-filter:a"}
PATHLIKE = re.compile(r"(://|^/|^~|(^|/)\.\.(/|$)|^[a-zA-Z]:\\|^file:|^pipe:|^tcp:|^udp:)")


def check_custom_args(custom_args: str) -> list[str]:
    """Return the tokens of safe custom arguments, or raise SpecError("custom_args", why)."""
    try:
        tokens = shlex.split(custom_args)
    except ValueError as exc:
        raise SpecError("custom_args", f"cannot be parsed ({exc}); check your quotes") from None
    if not tokens:
        raise SpecError("custom_args", "is empty; give options such as -c:v libx264 -crf 22")
    i = 0
    while i < len(tokens):
        option = tokens[i]
        if not option.startswith("-") or option == "-":
            raise SpecError(
                "custom_args",
                f"{option!r} is not an option; Frame Shift adds the input and output itself, "
                "so give only options such as -c:v libx264 -crf 22",
            )
        base = option.split(":", 1)[0] if option.count(":") and not option.startswith("-filter") else option
        if option in FORBIDDEN or base in FORBIDDEN:
            raise SpecError(
                "custom_args", f"{option} is not allowed: Frame Shift sets inputs, outputs and logging itself"
            )
        if option in FLAGS:
            i += 1
            continue
        if i + 1 >= len(tokens):
            raise SpecError("custom_args", f"{option} needs a value")
        value = tokens[i + 1]
        if PATHLIKE.search(value):
            raise SpecError(
                "custom_args", f"the value of {option} ({value!r}) looks like a file or URL; that is not allowed"
            )
        if (option in FILTER_OPTIONS or option.split(":")[0] in FILTER_OPTIONS) and FILE_FILTERS.search(value):
            raise SpecError("custom_args", f"the filter in {option} opens files; that is not allowed")
        i += 2
    return tokens
