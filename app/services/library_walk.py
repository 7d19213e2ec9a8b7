"""Listing a library's folder with os.scandir, leaving out what Frame Shift itself writes."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

RECYCLE = ".frameshift-recycle"
FINGERPRINT_BYTES = 1024 * 1024
# Our outputs and temporaries: NAME_converted.EXT (and "NAME_converted (2).EXT"), .NAME.frameshift-TAG/ folders.
OWN_OUTPUT = re.compile(r"_converted(?: \(\d+\))?\.[^.]+$")


@dataclass(frozen=True)
class Seen:
    """One regular file as the listing saw it."""

    path: str
    relative: str
    size: int
    mtime_ns: int


def ours(name: str) -> bool:
    """Return True for a name Frame Shift writes (an output, a private folder, the recycle folder)."""
    return bool(OWN_OUTPUT.search(name)) or ".frameshift-" in name or name == RECYCLE


def walk(folder: str) -> Iterator[Seen]:
    """Yield every regular file under folder, depth first; hidden names and our own files are left out.

    Symlinks are not followed (a link could lead outside the media roots or loop); an unreadable
    sub-folder is skipped, an unreadable library folder raises OSError for the caller to report.
    """
    stack = [(folder, "")]
    first = True
    while stack:
        current, prefix = stack.pop()
        try:
            entries = os.scandir(current)
        except OSError:
            if first:
                raise
            continue
        first = False
        with entries:
            for entry in entries:
                name = entry.name
                if name.startswith(".") or ours(name):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append((entry.path, f"{prefix}{name}/"))
                    elif entry.is_file(follow_symlinks=False):
                        st = entry.stat(follow_symlinks=False)
                        yield Seen(entry.path, prefix + name, st.st_size, st.st_mtime_ns)
                except OSError:
                    continue  # gone between listing and stat


def fingerprint(path: str, size: int | None = None) -> str:
    """A content fingerprint: SHA-256 of the size, the first MB and the last MB (a rename keeps it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        end = os.fstat(handle.fileno()).st_size if size is None else size
        digest.update(str(end).encode())
        digest.update(handle.read(FINGERPRINT_BYTES))
        if end > FINGERPRINT_BYTES:
            handle.seek(max(FINGERPRINT_BYTES, end - FINGERPRINT_BYTES))
            digest.update(handle.read(FINGERPRINT_BYTES))
    return digest.hexdigest()
