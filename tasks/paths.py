"""Path rules shared by leader and follower: media-root jail, output names, path mapping."""

from __future__ import annotations

import os
from pathlib import Path

VIDEO_EXTENSIONS = frozenset(
    ".mkv .mp4 .m4v .mov .avi .wmv .flv .webm .ts .m2ts .mts .mpg .mpeg .vob .3gp .ogv .divx .rmvb".split()
)


class PathError(ValueError):
    """A path from a user or a payload is not acceptable."""


def parse_roots(value: str | None) -> list[Path]:
    """Split a colon-separated list of media roots into resolved paths."""
    return [Path(p).expanduser().resolve() for p in (value or "").split(os.pathsep) if p.strip()]


def inside(resolved: Path, roots: list[Path]) -> bool:
    """The one rule for "inside the media roots": an already resolved path is a root or lies beneath one."""
    return any(resolved == root or root in resolved.parents for root in roots)


def root_of(resolved: Path, roots: list[Path]) -> Path | None:
    """Return the (deepest) media root that holds an already resolved path, or None."""
    holding = [root for root in roots if inside(resolved, [root])]
    return max(holding, key=lambda root: len(root.parts)) if holding else None


def resolve_inside(path: str, roots: list[Path], *, must_exist: bool = True) -> Path:
    """Resolve path (symlinks too) and require it to lie inside one of roots."""
    if not isinstance(path, str) or not path.strip():
        raise PathError("no path was given")
    if "\x00" in path:
        raise PathError("the path contains a NUL byte")
    if not roots:
        raise PathError("no media roots are configured; set FRAME_SHIFT_HOME or MEDIA_ROOTS")
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = roots[0] / candidate
    try:
        resolved = candidate.resolve()
        if not inside(resolved, roots):
            raise PathError(
                f"{path} is outside the media folders ({', '.join(map(str, roots))}); pick a file inside them"
            )
        if must_exist and not resolved.exists():
            raise PathError(f"{path} does not exist")
    except (OSError, UnicodeError) as exc:
        # A name over 255 bytes (ENAMETOOLONG), a path over PATH_MAX, a lone surrogate: no such file can exist.
        shown = path if len(path) <= 120 else path[:60] + "..." + path[-40:]
        raise PathError(f"{shown!r} cannot be a file here: {getattr(exc, 'strerror', None) or exc}") from None
    return resolved


def is_video(path: Path) -> bool:
    """Return True when the file name looks like a video."""
    return path.suffix.lower() in VIDEO_EXTENSIONS


def default_output(source: Path, container: str, output_dir: Path | None = None) -> Path:
    """Return NAME_converted.EXT beside the source, or in output_dir."""
    folder = output_dir or source.parent
    return folder / f"{source.stem}_converted.{container}"


def output_folder(text: str, roots: list[Path]) -> Path:
    """The one rule for an output folder: inside the media roots (resolved) and an existing folder."""
    folder = resolve_inside(text, roots)
    if not folder.is_dir():
        raise PathError(f"{text} is not a folder; create it or leave the field empty")
    return folder


def free_name(wanted: Path, taken: set[str] | frozenset[str] = frozenset()) -> Path:
    """Return wanted, or wanted with ' (2)', ' (3)' ... so it names no existing or taken file."""
    candidate, n = wanted, 1
    while candidate.exists() or str(candidate) in taken:
        n += 1
        candidate = wanted.with_name(f"{wanted.stem} ({n}){wanted.suffix}")
    return candidate


def plan_output(
    source: Path,
    container: str,
    if_exists: str,
    output_dir: Path | None = None,
    taken: set[str] | frozenset[str] = frozenset(),
) -> Path:
    """Apply the output rule: never the source, never overwrite unless asked."""
    wanted = default_output(source, container, output_dir)
    if len(wanted.name.encode("utf-8", "surrogateescape")) > 255:
        raise PathError(f"the output name {wanted.name[:60]}... would be longer than 255 bytes; rename the source file")
    if wanted.resolve() == source.resolve():
        raise PathError("the output would replace the source file; choose another folder or container")
    if if_exists == "overwrite" and str(wanted) not in taken:
        return wanted
    if if_exists == "fail" and (wanted.exists() or str(wanted) in taken):
        raise PathError(f"{wanted} already exists; choose 'rename' or 'overwrite' if you want to go on")
    return free_name(wanted, taken)


def temp_folder(final: Path, tag: str) -> Path:
    """Return the hidden private folder beside final where FFmpeg writes before the output is verified."""
    return final.with_name(f".{final.stem}.frameshift-{tag}")


def temp_output(final: Path, tag: str) -> Path:
    """Return the temporary file FFmpeg writes inside its private folder."""
    return temp_folder(final, tag) / f"output{final.suffix}"


def parse_path_map(value: str | None) -> list[tuple[str, str]]:
    """Parse 'LEADER=LOCAL;LEADER2=LOCAL2' into prefix pairs."""
    pairs = []
    for item in (value or "").split(";"):
        if "=" in item:
            leader, local = item.split("=", 1)
            pairs.append((leader.rstrip("/") or "/", local.rstrip("/") or "/"))
    return pairs


def map_path(path: str, pairs: list[tuple[str, str]]) -> str:
    """Translate a leader path to this follower's mount, using the longest matching prefix."""
    for leader, local in sorted(pairs, key=lambda p: len(p[0]), reverse=True):
        if path == leader or path.startswith(leader + "/"):
            return local + path[len(leader) :]
    return path


def unmap_path(path: str, pairs: list[tuple[str, str]]) -> str:
    """Translate a follower path back to the leader's name for it."""
    return map_path(path, [(local, leader) for leader, local in pairs])
