"""The file moves behind output policy `replace`, and its undo; no database here.

Names: P the original, R its place in the recycle folder, Q the job's output (NAME_converted.EXT),
T where the output goes (P's folder and base name with the output's extension), K where an undo
keeps the output. Every step looks at what is on disk first, so a run interrupted anywhere (a
crash, a power cut) is finished by running the same function again. The order keeps every file at
a name the database knows: the original is linked into the recycle folder before anything else
moves, and a name is handed over with one rename. docs/libraries.md ("Replace the original").
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from app.services.library_walk import RECYCLE
from tasks.paths import free_name

# link(2) refusals that mean "this file system has no hard links here": fall back to rename(2).
NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}


def exists(path: str) -> bool:
    """True when something (even a dangling link) has this name."""
    return os.path.lexists(path)


def same_file(a: str, b: str) -> bool:
    """True when both names lead to one file (False when either is missing)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def target_path(original: str, output: str) -> str:
    """P's folder and base name with the output's extension: movie.avi and movie_converted.mkv give movie.mkv."""
    stem = os.path.splitext(os.path.basename(original))[0]
    return os.path.join(os.path.dirname(original), stem + os.path.splitext(output)[1])


def recycle_folder(library_folder: str, replacement_id: int) -> str:
    """The folder of one replacement inside the library's recycle folder."""
    return os.path.join(library_folder, RECYCLE, str(replacement_id))


def recycle_path(library_folder: str, replacement_id: int, original: str) -> str:
    """Where the original waits: .frameshift-recycle/ID/ plus its path inside the library (findable by hand)."""
    return os.path.join(recycle_folder(library_folder, replacement_id), os.path.relpath(original, library_folder))


def kept_path(original: str, target: str) -> str:
    """A free NAME_converted.EXT (or NAME_converted (N).EXT) beside the original, for the output an undo keeps."""
    extension = os.path.splitext(target)[1].lstrip(".") or "out"
    wanted = Path(os.path.dirname(original)) / f"{Path(original).stem}_converted.{extension}"
    return str(free_name(wanted))


def is_same_name(original: str, target: str) -> bool:
    """True when the output takes the original's own name (same extension, or a case-only difference)."""
    return original == target or same_file(original, target)


def link_or_move(src: str, dst: str) -> None:
    """Give src's file the name dst too (a hard link); where links are impossible, move it. Never over a file."""
    try:
        os.link(src, dst)
    except FileExistsError:
        if not same_file(src, dst):
            raise
    except OSError as exc:
        if exc.errno not in NO_LINKS:
            raise
        if exists(dst):
            raise FileExistsError(errno.EEXIST, "a file already has this name", dst) from None
        os.rename(src, dst)


def move_noclobber(src: str, dst: str) -> None:
    """Move src to dst, refusing to replace a file that is already at dst."""
    link_or_move(src, dst)
    if exists(src) and same_file(src, dst):
        os.unlink(src)


def replace_forward(original: str, recycled: str, output: str, target: str) -> None:
    """Put the original in the recycle folder and the output at its place (idempotent)."""
    same = is_same_name(original, target)
    os.makedirs(os.path.dirname(recycled), exist_ok=True)
    if not exists(recycled):
        link_or_move(original, recycled)  # 1. the original is safe under the recycle name (still at P when linked)
    if not exists(output) and not (exists(target) and not same_file(target, recycled)):
        raise FileNotFoundError(errno.ENOENT, "the output is gone", output)  # nothing would take P's place
    if exists(output):
        if same:
            os.replace(output, target)  # 2. one rename: P names the output; R keeps the original
        else:
            move_noclobber(output, target)  # 2. T names the output (never over someone's file)
    if not same and exists(original) and same_file(original, recycled):
        os.unlink(original)  # 3. the original's old name goes; it lives on under R


def replace_backward(original: str, recycled: str, output: str, target: str) -> None:
    """Undo a partial replace_forward: the original back at P, the output back at Q."""
    if exists(target) and not same_file(target, recycled):  # T names the output
        if exists(output) and same_file(output, target):
            os.unlink(target)
        elif not exists(output):
            os.rename(target, output)
    if exists(recycled):
        if not exists(original):
            os.rename(recycled, original)
        elif same_file(original, recycled):
            os.unlink(recycled)


def undo_forward(original: str, recycled: str, target: str, kept: str) -> None:
    """Bring the original back from the recycle folder; the output stays under the name kept (idempotent)."""
    same = is_same_name(original, target)
    if exists(recycled) and exists(target) and not exists(kept):
        link_or_move(target, kept)  # 1. the output is safe under NAME_converted.EXT
    if exists(recycled):
        if same:
            os.replace(recycled, original)  # 2. one rename: P names the original again
        else:
            move_noclobber(recycled, original)
    if not same and exists(target) and same_file(target, kept):
        os.unlink(target)  # 3. the output's borrowed name goes


def remove_recycled(library_folder: str | None, replacement_id: int, recycled: str | None) -> None:
    """Delete an original from the recycle folder, with the replacement's own folder there."""
    if recycled and exists(recycled):
        os.unlink(recycled)
    if library_folder:
        shutil.rmtree(recycle_folder(library_folder, replacement_id), ignore_errors=True)


def library_folder_of(recycled: str, replacement_id: int) -> str | None:
    """The library folder a recycle path lies in (it holds /.frameshift-recycle/ID/)."""
    marker = f"{os.sep}{RECYCLE}{os.sep}{replacement_id}{os.sep}"
    cut = recycled.find(marker)
    return recycled[:cut] if cut > 0 else None
