"""The follower's library probe: real clips read by the real child inside its real boundary (tasks/library_probe.py)."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pytest

from tasks import library_probe, probe_sandbox
from tasks.ffmpeg_lib import NOT_MEDIA
from tasks.follower import FollowerSettings
from tests.media import make_clip, make_hevc_clip


def playlist(segment: Path) -> str:
    return f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n{segment}\n#EXT-X-ENDLIST\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A media root with an h264 mp4, a 10-bit hevc mkv, a corrupt file and a playlist named .mp4; a secret outside."""
    base = tmp_path_factory.mktemp("probe")
    media, outside = base / "media", base / "outside"
    media.mkdir()
    outside.mkdir()
    make_clip(media / "h264.mp4", seconds=3)
    make_hevc_clip(media / "hevc.mkv", seconds=2)
    (media / "corrupt.mkv").write_bytes(b"\x1aE\xdf\xa3 this is not really a video" * 100)
    make_clip(outside / "secret.ts", seconds=2)  # a real segment: followed, the playlist would read as a video
    (media / "trap.mp4").write_text(playlist(outside / "secret.ts"))
    # A concat list named .mp4 naming a real clip: FFmpeg's concat demuxer follows it unless the whitelist stops it.
    make_clip(media / "inner.ts", seconds=1)
    (media / "concat.mp4").write_text("ffconcat version 1.0\nfile inner.ts\n")
    (outside / "secret.txt").write_text("the follower's secrets")
    return {"media": media, "outside": outside}


def batch(*paths: Path) -> list[list]:
    return [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in paths]


def test_a_batch_returns_the_facts_of_real_clips_and_an_error_for_what_is_not_media(world):
    media = world["media"]
    conf = FollowerSettings(media_roots=[media])
    files = batch(
        media / "h264.mp4", media / "hevc.mkv", media / "corrupt.mkv", media / "trap.mp4", media / "concat.mp4"
    )
    result = library_probe.probe_files(files, conf)
    facts = result["facts"]
    assert result["left"] == []
    h264 = facts[str(media / "h264.mp4")]
    assert "mp4" in h264["container"].split(",") and h264["video_codec"] == "h264" and h264["bit_depth"] == 8
    assert (h264["width"], h264["height"], h264["audio_codec"]) == (160, 120, "aac")
    assert abs(h264["duration"] - 3) < 0.2 and h264["bitrate"] > 0
    hevc = facts[str(media / "hevc.mkv")]
    assert "matroska" in hevc["container"].split(",") and hevc["video_codec"] == "hevc" and hevc["bit_depth"] == 10
    assert hevc["audio_codec"] == "opus" and abs(hevc["duration"] - 2) < 0.2
    assert facts[str(media / "corrupt.mkv")]["error"].startswith(NOT_MEDIA)
    # The playlist names a real clip outside the roots: followed, it would have come back as an mpegts video.
    trap = facts[str(media / "trap.mp4")]
    assert trap["error"].startswith(NOT_MEDIA) and "video_codec" not in trap, trap
    concat = facts[str(media / "concat.mp4")]
    assert concat["error"].startswith(NOT_MEDIA) and "video_codec" not in concat, concat


def test_paths_outside_the_roots_and_changed_files_are_answered_without_probing(world):
    media = world["media"]
    conf = FollowerSettings(media_roots=[media])
    (media / "link.mp4").unlink(missing_ok=True)
    (media / "link.mp4").symlink_to(world["outside"] / "secret.ts")
    clip = media / "h264.mp4"
    files = [
        [str(world["outside"] / "secret.ts"), 1, 1],
        [str(media / "link.mp4"), 1, 1],
        [str(clip), clip.stat().st_size + 1, clip.stat().st_mtime_ns],
    ]
    facts = library_probe.probe_files(files, conf)["facts"]
    assert "outside the media folders" in facts[str(world["outside"] / "secret.ts")]["error"]
    assert "outside the media folders" in facts[str(media / "link.mp4")]["error"]
    assert facts[str(media / "link.mp4")]["missing"] is True  # this follower's setup, not the file: tried again later
    assert facts[str(clip)] == {"changed": True}


def test_a_file_that_hangs_the_reader_is_unreadable_and_the_rest_go_back(world, tmp_path, monkeypatch):
    """A FIFO named .mp4 blocks open() forever: the batch is bounded, that file is marked, later files are left."""
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(world["media"] / "h264.mp4", media / "a.mp4")
    os.mkfifo(media / "stuck.mp4")
    shutil.copy(world["media"] / "h264.mp4", media / "z.mp4")
    monkeypatch.setenv("LIBRARY_PROBE_FILE_SECONDS", "3")
    paths = [str(media / n) for n in ("a.mp4", "stuck.mp4", "z.mp4")]
    answers, stopped = library_probe.run_child(paths, [media])
    assert stopped == "file time"
    assert answers[0]["video_codec"] == "h264"
    assert "took longer than 3 s" in answers[1]["error"]
    assert 2 not in answers  # never reached: the leader sends it again


BOUNDARY_CHECK = r"""
import json, os, socket, sys
media, outside, writable, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
seen = {}
def attempt(name, action):
    try:
        action()
        seen[name] = "allowed"
    except OSError as exc:
        seen[name] = "denied" if exc.errno in (1, 13) else f"errno {exc.errno}"
attempt("read a media file", lambda: open(os.path.join(media, "h264.mp4"), "rb").read(16))
attempt("list the media root", lambda: os.listdir(media))
attempt("read a file outside", lambda: open(outside, "rb").read(16))
attempt("create a file in the media root", lambda: open(os.path.join(media, "new.txt"), "xb"))
attempt("append to a media file", lambda: open(os.path.join(media, "h264.mp4"), "ab"))
attempt("rename a media file", lambda: os.rename(os.path.join(media, "h264.mp4"), os.path.join(media, "x.mp4")))
attempt("create a folder in the media root", lambda: os.mkdir(os.path.join(media, "folder")))
attempt("create a file in a writable folder", lambda: open(os.path.join(writable, "new.txt"), "xb"))
attempt("connect to a TCP port", lambda: socket.create_connection(("127.0.0.1", port), 2).close())
print(json.dumps(seen))
"""


def run_check(world, tmp_path) -> dict[str, str]:
    writable = tmp_path / "writable"
    writable.mkdir(exist_ok=True)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        argv = [probe_sandbox.interpreter(), "-I", "-B", "-c", BOUNDARY_CHECK]
        argv += [str(world["media"]), str(world["outside"] / "secret.txt"), str(writable), str(server.getsockname()[1])]
        proc = probe_sandbox.start([world["media"]], argv)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    for leftover in ("new.txt", "folder", "x.mp4"):
        assert not (world["media"] / leftover).exists(), f"{leftover} was made in the media root"
    return json.loads(out)


def test_inside_the_boundary_the_child_reads_the_media_roots_and_nothing_else_writes_nothing_and_has_no_network(
    world, tmp_path
):
    seen = run_check(world, tmp_path)
    assert seen == {
        "read a media file": "allowed",
        "list the media root": "allowed",
        "read a file outside": "denied",
        "create a file in the media root": "denied",
        "append to a media file": "denied",
        "rename a media file": "denied",
        "create a folder in the media root": "denied",
        "create a file in a writable folder": "denied",
        "connect to a TCP port": "denied",
    }


def test_control_without_the_boundary_the_same_check_reads_and_writes(world, tmp_path, monkeypatch):
    """The check can fail: with FFMPEG_SANDBOX=off the same child reads outside, writes and connects."""
    monkeypatch.setenv("FFMPEG_SANDBOX", "off")
    seen = run_check_unconfined(world, tmp_path)
    assert seen["read a file outside"] == "allowed"
    assert seen["create a file in a writable folder"] == "allowed"
    assert seen["connect to a TCP port"] == "allowed"


def run_check_unconfined(world, tmp_path) -> dict[str, str]:
    """The same check, where writing into the media root is not attempted (it would succeed and leave files)."""
    writable = tmp_path / "writable"
    writable.mkdir(exist_ok=True)
    media = tmp_path / "media-copy"
    media.mkdir()
    shutil.copy(world["media"] / "h264.mp4", media / "h264.mp4")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        argv = [probe_sandbox.interpreter(), "-I", "-B", "-c", BOUNDARY_CHECK]
        argv += [str(media), str(world["outside"] / "secret.txt"), str(writable), str(server.getsockname()[1])]
        proc = probe_sandbox.start([media], argv)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


def test_the_child_gets_a_clean_environment(world, monkeypatch):
    monkeypatch.setenv("SHARED_TOKEN", "do-not-leak")
    argv = [probe_sandbox.interpreter(), "-I", "-B", "-c", "import os, json; print(json.dumps(dict(os.environ)))"]
    proc = probe_sandbox.start([world["media"]], argv)
    out, _ = proc.communicate(timeout=60)
    env = json.loads(out)
    assert "SHARED_TOKEN" not in env and "REDIS_URL" not in env
    assert set(env) <= {"PATH", "LANG", "LC_ALL", "TZ", "LC_CTYPE"}


def test_one_child_reads_the_whole_batch(world):
    """In-process: every file of a batch is read by the same child (no process per file)."""
    media = world["media"]
    proc = probe_sandbox.start([media])
    paths = [str(media / "h264.mp4")] * 5 + [str(media / "hevc.mkv")] * 5
    request = {"paths": paths, "formats": library_probe.MEDIA_FORMATS, "protocols": library_probe.PROTOCOLS}
    out, err = proc.communicate(json.dumps(request).encode(), timeout=60)
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert lines[0] == {"ready": True}, err.decode()
    assert [line["video_codec"] for line in lines[1:]] == ["h264"] * 5 + ["hevc"] * 5


def test_the_task_refuses_a_forged_batch_and_reads_a_signed_one(world, monkeypatch):
    """The Celery task checks the signature (bound to its task id) before reading anything, like transcode.run."""
    from tasks.signing import PayloadRefused, sign
    from tests.conftest import TOKEN

    conf = FollowerSettings(media_roots=[world["media"]], shared_token=TOKEN)
    monkeypatch.setattr(library_probe, "settings", lambda: conf)
    body = {"task_id": "task-1", "expires": 2**40, "files": batch(world["media"] / "h264.mp4")}
    forged = library_probe.probe.apply(args=[sign(body, "another-token")], task_id="task-1")
    assert isinstance(forged.result, PayloadRefused) and "signature" in str(forged.result)
    replayed = library_probe.probe.apply(args=[sign(body, TOKEN)], task_id="task-2")
    assert isinstance(replayed.result, PayloadRefused) and "replay" in str(replayed.result)
    signed = library_probe.probe.apply(args=[sign(body, TOKEN)], task_id="task-1")
    assert signed.result["facts"][str(world["media"] / "h264.mp4")]["video_codec"] == "h264"


def test_the_whitelist_alone_refuses_a_concat_list_named_mp4(world, monkeypatch):
    """With the boundary off, FFmpeg's format whitelist alone refuses a concat list named .mp4 (FFmpeg 8, which
    PyAV bundles, no longer probes a playlist named .mp4 as HLS at all; the concat demuxer still follows lists)."""
    monkeypatch.setenv("FFMPEG_SANDBOX", "off")
    media = world["media"]
    answers, _ = library_probe.run_child([str(media / "concat.mp4"), str(media / "h264.mp4")], [media])
    assert answers[0]["error"].startswith(NOT_MEDIA) and "video_codec" not in answers[0], answers[0]
    assert answers[1]["video_codec"] == "h264"
