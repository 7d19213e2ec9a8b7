"""Media-root jail, output naming, path mapping, payload signatures."""

from __future__ import annotations

import os

import pytest

from tasks.paths import PathError, map_path, parse_path_map, plan_output, resolve_inside, temp_output, unmap_path
from tasks.signing import sign, verify


@pytest.fixture
def media(tmp_path):
    root = tmp_path / "media"
    (root / "shows").mkdir(parents=True)
    (root / "shows" / "a.mkv").write_bytes(b"x")
    (tmp_path / "secret.txt").write_text("no")
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    return root


def test_paths_must_stay_inside_roots(media):
    assert resolve_inside(str(media / "shows" / "a.mkv"), [media]) == media / "shows" / "a.mkv"
    assert resolve_inside("shows/a.mkv", [media]) == media / "shows" / "a.mkv"
    for bad in (
        str(media / ".." / "secret.txt"),
        "../secret.txt",
        str(media / "link.txt"),
        "/etc/passwd",
        "",
        "a\x00b",
    ):
        with pytest.raises(PathError):
            resolve_inside(bad, [media])
    with pytest.raises(PathError, match="does not exist"):
        resolve_inside(str(media / "missing.mkv"), [media])


def test_output_rule_never_overwrites_or_replaces_source(media):
    source = media / "shows" / "a.mkv"
    assert plan_output(source, "mp4", "rename") == media / "shows" / "a_converted.mp4"
    (media / "shows" / "a_converted.mp4").write_bytes(b"old")
    assert plan_output(source, "mp4", "rename") == media / "shows" / "a_converted (2).mp4"
    assert plan_output(source, "mp4", "overwrite") == media / "shows" / "a_converted.mp4"
    with pytest.raises(PathError, match="already exists"):
        plan_output(source, "mp4", "fail")
    taken = {str(media / "shows" / "a_converted (2).mp4")}
    assert plan_output(source, "mp4", "rename", taken=taken) == media / "shows" / "a_converted (3).mp4"
    weird = media / "shows" / "x_converted.mkv"
    weird.write_bytes(b"x")
    same = media / "shows" / "x.mkv"
    same.write_bytes(b"x")
    assert plan_output(same, "mkv", "rename") != same
    assert temp_output(media / "o.mkv", "abcd1234") == media / ".o.frameshift-abcd1234" / "output.mkv"


def test_path_mapping_longest_prefix_both_ways():
    pairs = parse_path_map("/media=/mnt/nas;/media/movies=/mnt/movies")
    assert map_path("/media/movies/a.mkv", pairs) == "/mnt/movies/a.mkv"
    assert map_path("/media/tv/b.mkv", pairs) == "/mnt/nas/tv/b.mkv"
    assert map_path("/mediafoo/c.mkv", pairs) == "/mediafoo/c.mkv"
    assert unmap_path("/mnt/nas/tv/b.mkv", pairs) == "/media/tv/b.mkv"


def test_signature_covers_every_field():
    payload = sign({"job_id": 1, "input": "/m/a.mkv", "spec": {"crf": 22}}, "token-1")
    assert verify(payload, "token-1")
    assert not verify(payload, "token-2")
    assert not verify({**payload, "input": "/etc/passwd"}, "token-1")
    assert not verify({**payload, "spec": {"crf": 23}}, "token-1")
    assert not verify({k: v for k, v in payload.items() if k != "sig"}, "token-1")
    assert not verify(payload, "")
