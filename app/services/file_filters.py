"""How the file browser orders and filters names: natural order, name patterns, hidden and converted files."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.models import Job, JobStatus

_DIGITS = re.compile(r"(\d+)")
PRIVATE_MARK = ".frameshift-"  # Frame Shift's private work folders: .NAME.frameshift-TAG (tasks/paths.temp_folder)


def natural_key(name: str) -> str:
    """Return a sort key that orders clip5 before clip30: each run of digits becomes its length, then its digits.

    A plain string (compared fast, as the folder listing's cursor needs) that orders like the name, casefolded,
    except that numbers compare by value; clip5 and clip05 tie (the name itself breaks the tie).
    """
    return _DIGITS.sub(_number, name.casefold())


def _number(match: re.Match[str]) -> str:
    digits = match.group().lstrip("0") or "0"
    return f"{len(digits):03d}{digits}"  # a name holds at most 255 bytes, so 3 digits hold any length


def is_private(name: str) -> bool:
    """Return True for Frame Shift's own hidden work folders and temporary files: never listed, even as hidden."""
    return name.startswith(".") and PRIVATE_MARK in name


def shown(name: str, show_hidden: bool) -> bool:
    """Return True when a name may be listed: dotfiles only when asked, Frame Shift's private ones never."""
    if not name.startswith("."):
        return True
    return show_hidden and not is_private(name)


def has_pattern(text: str) -> bool:
    """Return True when the search text is a pattern (`*` any run of characters, `?` one character)."""
    return "*" in text or "?" in text


def name_matcher(search: str) -> Callable[[str], bool]:
    """Return a test for names: a pattern matches the whole name, plain text any part of it (case-insensitive)."""
    needle = search.strip().casefold()
    if not needle:
        return lambda name: True
    if has_pattern(needle):
        # `[` has no special meaning for users here: escape it so "[1080p]*" matches literally.
        compiled = re.compile(fnmatch.translate(needle.replace("[", "[[]")), re.DOTALL)
        return lambda name: compiled.match(name.casefold()) is not None
    return lambda name: needle in name.casefold()


def converted_by_jobs(paths: Iterable[str]) -> set[str]:
    """Return the paths among `paths` that a succeeded job already converted (one query per 500 paths)."""
    wanted = list(paths)
    done: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        done.update(
            db.session.execute(
                select(Job.input_path).where(Job.input_path.in_(chunk), Job.status == JobStatus.SUCCEEDED.value)
            ).scalars()
        )
    return done


def converted_names_in(folder: Path, names: Iterable[str]) -> set[str]:
    """Return the names in one folder that a succeeded job converted (its output may be elsewhere)."""
    base = str(folder)
    by_path = {f"{base}/{name}": name for name in names}
    return {by_path[path] for path in converted_by_jobs(by_path)}
