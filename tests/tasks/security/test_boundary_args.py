"""Hostile custom FFmpeg arguments against the boundary alone (the argument allowlist switched off).

Each case runs through the real conversion path (run_attempt: real ffmpeg and ffprobe, the real
Landlock boundary) in a world with secrets, FIFO read detectors and a listening TCP socket outside
the media root. With the boundary, nothing outside FFmpeg's private folder may be created or
changed, no FIFO opened, no TCP connection made, and the secret may appear nowhere: not in the
result, the error, the log tail, the progress reports or the output file.

How each fails without the boundary: the same case runs again with FFMPEG_SANDBOX=off (the control)
and the control asserts that FFmpeg 5.1 DOES escape in the way the case says (`shows`): a file
written outside, a FIFO opened, a TCP connection, or the secret in the job's log or output. Cases
that do not escape even unconfined say why in `unconfined` (they guard against a regression of the
private working directory, or document that FFmpeg itself refuses them) and have no control.
"""

from __future__ import annotations

import socket
from typing import NamedTuple

import pytest

from tasks.spec import SpecError, parse_spec
from tests.tasks.security.harness import BASE_ARGS, UNSAFE_SWITCH, convert

WRITE, READ, NET, LEAK = "write", "read", "net", "leak"


class Case(NamedTuple):
    """A hostile argument set: its class, template and what it does when FFmpeg runs unconfined."""

    group: str
    args: str
    shows: str | None  # the escape the unconfined control must show (WRITE/READ/NET/LEAK)
    unconfined: str = ""  # when shows is None: why there is no escape even without the boundary


CASES = {
    # File-writing filters: each creates its file at init, whatever the frames.
    "metadata-print-file": Case("writing filter", "-vf metadata=mode=print:file={written}/metadata.txt", WRITE),
    "ametadata-print-file": Case("writing filter", "-af ametadata=mode=print:file={written}/ametadata.txt", WRITE),
    "metadata-relative-up": Case("writing filter", "-vf metadata=mode=print:file={up}/outside/written/rel.txt", WRITE),
    "vidstabdetect-result": Case("writing filter", "-vf vidstabdetect=result={written}/transforms.trf", WRITE),
    "psnr-stats-file": Case(
        "writing filter", "-filter_complex '[0:v]split[a][b];[a][b]psnr=stats_file={written}/psnr.log'", WRITE
    ),
    "ssim-stats-file": Case(
        "writing filter", "-filter_complex '[0:v]split[a][b];[a][b]ssim=stats_file={written}/ssim.log'", WRITE
    ),
    "signature-filename": Case("writing filter", "-vf signature=filename={written}/signature.xml:format=xml", WRITE),
    # File-reading filters, pointed at FIFOs outside the root: opened = read.
    "movie-fifo": Case("reading filter", "-filter_complex 'movie={fifo}.mkv[m];[0:v][m]overlay'", READ),
    "amovie-fifo": Case("reading filter", "-filter_complex 'amovie={fifo}.mkv[m];[0:a][m]amix'", READ),
    "subtitles-fifo": Case("subtitle/font file", "-vf subtitles={fifo}.srt", READ),
    "ass-fifo": Case("subtitle/font file", "-vf ass={fifo}.ass", READ),
    "drawtext-textfile": Case("subtitle/font file", "-vf drawtext=textfile={fifo}.txt", READ),
    "drawtext-fontfile": Case("subtitle/font file", "-vf drawtext=text=hello:fontfile={fifo}.ttf", READ),
    "sendcmd-file": Case("reading filter", "-vf sendcmd=f={fifo}.txt,null", READ),
    "lut3d-file": Case("reading filter", "-vf lut3d=file={fifo}.cube", READ),
    "lut1d-file": Case("reading filter", "-vf lut1d=file={fifo}.cube", READ),
    "ladspa-plugin-path": Case("reading filter", "-af ladspa=file={fifo}.so", READ),
    "movie-tcp": Case("protocol", "-filter_complex \"movie='tcp\\://127.0.0.1\\:{port}'[m];[0:v][m]overlay\"", NET),
    # Escaped and quoted filter names: FFmpeg strips the backslash and the quotes.
    "escaped-mo-backslash-vie": Case("escaped name", "-filter_complex 'mo\\vie={fifo}.mkv[m];[0:v][m]overlay'", READ),
    "quoted-mo-empty-quotes-vie": Case(
        "escaped name", "-filter_complex \"mo''vie={fifo}.mkv[m];[0:v][m]overlay\"", READ
    ),
    "quoted-whole-name": Case("escaped name", "-filter_complex \"'movie'={fifo}.mkv[m];[0:v][m]overlay\"", READ),
    "escaped-amovie": Case("escaped name", "-filter_complex 'am\\ovie={fifo}.mkv[m];[0:a][m]amix'", READ),
    "escaped-metadata-writer": Case("escaped name", "-vf 'meta\\data=mode=print:file={written}/esc.txt'", WRITE),
    # Script options.
    "filter-script-secret": Case("script option", "-filter_script:v {secret_graph}", LEAK),
    "filter-script-relative-up": Case("script option", "-filter_script:v {up}/outside/secret-graph.txt", LEAK),
    "filter-complex-script-up-to-data": Case("script option", "-filter_complex_script {up}/cwd/data/secret_key", LEAK),
    "filter-complex-script-data-secret-key": Case(
        "script option",
        "-filter_complex_script data/secret_key",
        None,
        "FFmpeg's working directory is its empty private folder, not the follower's: the relative path names "
        "nothing, with or without the boundary (the issue's original exploit; the boundary is the second wall)",
    ),
    "filter-script-fifo": Case("script option", "-filter_script:v {fifo}.txt", READ),
    # Two-pass and statistics files.
    "passlogfile-outside": Case("two-pass/statistics", "-pass 1 -passlogfile {written}/pass", WRITE),
    "x264-params-stats": Case("two-pass/statistics", "-x264-params stats={written}/x264.stats:pass=1", WRITE),
    "x265-params-stats": Case(
        "two-pass/statistics", "-c:v libx265 -x265-params stats={written}/x265.stats:pass=1:log-level=error", WRITE
    ),
    "vstats-file": Case("two-pass/statistics", "-vstats_file {written}/vstats.log", WRITE),
    "pass-1-relative": Case(
        "two-pass/statistics",
        "-pass 1",
        None,
        "ffmpeg2pass-0.log goes into FFmpeg's working directory, the private folder, which is removed after",
    ),
    "report-relative": Case(
        "two-pass/statistics",
        "-report",
        None,
        "the report goes into the private working folder; FFREPORT cannot be set (the environment is scrubbed)",
    ),
    "progress-file": Case("extra output", "-progress {written}/progress.txt", WRITE),
    # Extra outputs.
    "second-output-outside": Case("extra output", "-map 0 {written}/second.mkv", WRITE),
    "second-output-file-protocol": Case("extra output", "-map 0 file:{written}/file-protocol.mkv", WRITE),
    "tee-muxer": Case("extra output", "-map 0 -f tee '[f=matroska]{written}/tee.mkv'", WRITE),
    "hls-segment-filename": Case(
        "extra output", "-map 0:v -f hls -hls_segment_filename {written}/seg%d.ts {written}/list.m3u8", WRITE
    ),
    "dump-attachment": Case(
        "attachment", "-dump_attachment:t:0 {written}/dumped.txt -i {media}/with-attachment.mkv -map 0", WRITE
    ),
    "attach-secret": Case("attachment", "-attach {secret} -metadata:s:t mimetype=text/plain", LEAK),
    # Extra inputs: only the first input carries the protocol and format whitelists.
    "second-input-secret-subtitles": Case("subtitle/font file", "-i {secret_srt} -map 0 -map 1 -c:s srt", LEAK),
    "second-input-fifo": Case("extra input", "-i {fifo}.mkv -map 0", READ),
    "second-input-concat-list": Case("extra input", "-f concat -safe 0 -i {outside}/list.ffconcat -map 0", READ),
    "second-input-tcp": Case("protocol", "-i tcp://127.0.0.1:{port} -map 0", NET),
    "second-output-tcp": Case("protocol", "-map 0 -f mpegts tcp://127.0.0.1:{port}", NET),
    "progress-tcp": Case("protocol", "-progress tcp://127.0.0.1:{port}", NET),
    "preset-file-fifo": Case("preset file", "-fpre {fifo}.ffpreset", READ),
}


def run_case(world, name: str):
    hostile = world.fill(CASES[name].args)
    # Options before an -i belong to that input: a second input comes first, the encoder options after it.
    custom = f"{hostile} {BASE_ARGS}" if "-i " in hostile else f"{BASE_ARGS} {hostile}"
    return convert(world, custom, tag=name)


def test_at_least_thirty_hostile_sets_in_every_class():
    assert len(CASES) >= 30
    groups = {case.group for case in CASES.values()}
    expected = {"writing filter", "reading filter", "escaped name", "script option", "two-pass/statistics"}
    expected |= {"extra output", "protocol", "subtitle/font file", "attachment", "extra input"}
    assert expected <= groups
    assert all(case.shows or case.unconfined for case in CASES.values())


@pytest.mark.parametrize("name", list(CASES))
def test_boundary_holds(world, no_arg_check, monkeypatch, name):
    """Inside the boundary the hostile arguments reach nothing: no file outside the private folder is created
    or changed, no FIFO outside is opened, no TCP connection arrives, the secret appears nowhere.
    Fails without the boundary: see test_unconfined_control_escapes for the same case with FFMPEG_SANDBOX=off."""
    monkeypatch.delenv("FFMPEG_SANDBOX", raising=False)
    outcome = run_case(world, name)
    assert outcome.started, f"FFmpeg never started: a check refused the arguments\n{outcome.describe()}"
    assert outcome.escapes == [], outcome.describe()
    assert not (world.cwd / "ffmpeg2pass-0.log").exists()


CONTROLS = [name for name, case in CASES.items() if case.shows]


@pytest.mark.parametrize("name", CONTROLS)
def test_unconfined_control_escapes(world, no_arg_check, monkeypatch, name):
    """The same case with FFMPEG_SANDBOX=off: FFmpeg 5.1 really escapes, so test_boundary_holds can fail."""
    monkeypatch.setenv("FFMPEG_SANDBOX", "off")
    case = CASES[name]
    outcome = run_case(world, name)
    assert outcome.started, outcome.describe()
    shown = {
        WRITE: [c for c in outcome.changed if str(world.outside) in c],
        READ: outcome.fifo_opened,
        NET: outcome.connections,
        LEAK: outcome.leaks,
    }[case.shows]
    assert shown, f"expected a {case.shows} escape without the boundary\n{outcome.describe()}"


@pytest.mark.parametrize("name", list(CASES))
def test_allowlist_refuses_it_too(world, monkeypatch, name):
    """The first wall: with the allowlist on (the default), every hostile set is refused before anything runs,
    naming the token. Fails if the allowlist lets one through (or is switched off)."""
    monkeypatch.delenv(UNSAFE_SWITCH, raising=False)
    with pytest.raises(SpecError) as refused:
        parse_spec({"mode": "custom", "custom_args": f"{BASE_ARGS} {world.fill(CASES[name].args)}", "container": "mkv"})
    assert refused.value.field == "custom_args"


@pytest.mark.parametrize("mode", ["landlock", "off"])
def test_udp_and_unix_sockets_are_refused_inside_the_boundary(world, no_arg_check, tmp_path, monkeypatch, mode):
    """What Landlock ABI 7 does not stop, UDP and connecting to a pathname UNIX socket (a redis.sock, a
    docker.sock), the boundary's seccomp filter does (tasks/seccomp.py: no socket() at all). With the
    allowlist off an extra output tries both. The control (FFMPEG_SANDBOX=off) shows both arrive without
    the boundary; before the seccomp filter they arrived inside it too."""
    monkeypatch.setenv("FFMPEG_SANDBOX", mode)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(3)
    path = tmp_path / "app.sock"
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(str(path))
    unix.listen(1)
    unix.settimeout(3)
    try:
        port = udp.getsockname()[1]
        outcome = convert(world, f"{BASE_ARGS} -map 0 -f mpegts udp://127.0.0.1:{port}", tag=f"gap-udp-{mode}")
        assert outcome.started
        try:
            arrived_udp = bool(udp.recv(65536))
        except TimeoutError:
            arrived_udp = False
        outcome = convert(world, f"{BASE_ARGS} -map 0 -f mpegts unix:{path}", tag=f"gap-unix-{mode}")
        assert outcome.started
        try:
            conn, _ = unix.accept()
            conn.close()
            arrived_unix = True
        except TimeoutError:
            arrived_unix = False
    finally:
        udp.close()
        unix.close()
    expected = mode == "off"
    assert (arrived_udp, arrived_unix) == (expected, expected)


@pytest.mark.parametrize("target", ["udp://127.0.0.1:9", "unix:/run/redis/redis.sock", "rtp://127.0.0.1:9"])
def test_allowlist_refuses_socket_outputs(monkeypatch, target):
    """The allowlist refuses them first: an extra output (a URL of any protocol) is refused."""
    monkeypatch.delenv(UNSAFE_SWITCH, raising=False)
    for args in (f"-map 0 -f mpegts {target}", f"-progress {target}", f"-f tee [f=mpegts]{target}"):
        with pytest.raises(SpecError):
            parse_spec({"mode": "custom", "custom_args": f"{BASE_ARGS} {args}", "container": "mkv"})
