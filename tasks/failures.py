"""Why an FFmpeg run failed, in words a user can act on: from its exit status, its log and errno."""

from __future__ import annotations

import errno
import os
import re
import signal
from pathlib import Path

UNKNOWN_ENCODER = re.compile(r"Unknown encoder '([^']+)'|Encoder ([\w-]+) not found|Unrecognized option '(?:c|codec)")
DENIED = re.compile(r"^(.*?): Permission denied$")
OOM_HINT = "most often the kernel's out-of-memory killer: give the follower more memory or fewer slots"


def free_mb(folder: Path) -> float:
    """Free space for unprivileged writers in folder's filesystem, in MB (nan when unknown)."""
    try:
        stats = os.statvfs(folder)
    except OSError:
        return float("nan")
    return stats.f_bavail * stats.f_frsize / 1e6


def disk_full(folder: Path) -> str:
    """The message for a full output filesystem."""
    return f"the output folder is full: {free_mb(folder):.0f} MB free on {folder}; free some space or choose another output folder"


def from_errno(exc: OSError, folder: Path, what: str) -> str:
    """Explain an OSError the follower itself met while writing the output (outside FFmpeg)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return disk_full(folder)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"permission denied: this follower cannot {what} in {folder} ({exc.strerror}); check the folder's owner and mode"
    return f"could not {what} in {folder}: {exc.strerror or exc}"


def explain(exit_code: int, log_tail: list[str], source: Path, output_folder: Path, private: Path) -> str:
    """Return why FFmpeg failed; fall back to its last log line."""
    if exit_code < 0:
        name = signal.Signals(-exit_code).name if -exit_code in signal.Signals._value2member_map_ else "?"
        note = f"; {OOM_HINT}" if -exit_code == signal.SIGKILL else ""
        return f"FFmpeg was killed by signal {-exit_code} ({name}){note}"
    text = "\n".join(log_tail)
    if "No space left on device" in text or "Disk quota exceeded" in text:
        return disk_full(output_folder)
    if not source.exists():
        return f"the input file disappeared while converting: {source} (moved or deleted?)"
    match = UNKNOWN_ENCODER.search(text)
    if match:
        name = match.group(1) or match.group(2) or "?"
        return f"this follower's FFmpeg has no encoder {name}: install an FFmpeg build with it, or pick another codec"
    if "Cannot allocate memory" in text:
        return f"FFmpeg ran out of memory; {OOM_HINT}"
    for line in reversed(log_tail):
        denied = DENIED.match(line.strip())
        if denied:
            name = denied.group(1).strip()
            if name.startswith(str(private)):
                return f"permission denied writing the output in {output_folder}; check the folder's owner and mode"
            # Anything else is outside what this job may touch: the boundary refused it (docs/security.md).
            return f"FFmpeg was refused access to {name}: a job may read only its input and write only its output"
    last = next((line for line in reversed(log_tail) if line.strip()), "")
    return f"FFmpeg exited with code {exit_code}: {last}".rstrip(": ")
