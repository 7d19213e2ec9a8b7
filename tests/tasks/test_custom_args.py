"""Custom FFmpeg arguments: the allowlist, the filtergraph parser (FFmpeg's escaping rules), docs and the test switch."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from tasks.custom_args import UNSAFE_SWITCH, check_custom_args, docs_markdown, reference
from tasks.custom_options import FILTERS, KINDS, OPTIONS
from tasks.filtergraph import GraphError, get_token, parse_graph
from tasks.spec import SpecError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def checks_on(monkeypatch):
    """Every test starts with the allowlist on, whatever the environment says."""
    monkeypatch.delenv(UNSAFE_SWITCH, raising=False)


# --- the parser follows FFmpeg's av_get_token and graph grammar --------------------------------


@pytest.mark.parametrize(
    "text,terms,token,rest",
    [
        ("  scale=1", "=", "scale", "=1"),
        (r"mo\vie=x", "=,;[", "movie", "=x"),
        ("mo''vie=x", "=,;[", "movie", "=x"),
        ("'movie'=x", "=,;[", "movie", "=x"),
        (r"a\,b,c", ",", "a,b", ",c"),
        ("'a,b',c", ",", "a,b", ",c"),
        ("ab  ,c", ",", "ab", ",c"),  # unprotected trailing whitespace is dropped
        ("ab\\ ,c", ",", "ab ", ",c"),  # an escaped one is kept
        ("'ab '", ",", "ab ", ""),
        ("tail\\", ",", "tail\\", ""),  # a lone trailing backslash stays
        ("'open", ",", "open", ""),
    ],
)
def test_get_token_reads_like_av_get_token(text, terms, token, rest):
    found, pos = get_token(text, 0, terms)
    assert (found, text[pos:]) == (token, rest)


def test_graph_labels_chains_instances_and_two_levels_of_escaping():
    graph = parse_graph(r"[in] sc\ale@big=w='1280':h=-2 [mid]; [mid]'null'[out]")
    first, second = graph.filters
    assert (first.written, first.name, first.instance) == (r"sc\ale@big", "scale", "big")
    assert first.inputs == ["in"] and first.outputs == ["mid"]
    assert first.options == [("w", "1280"), ("h", "-2")]
    assert (second.written, second.name, second.inputs, second.outputs) == ("'null'", "null", ["mid"], ["out"])
    # Graph level turns 'w=1\:2' into w=1\:2; the option level then reads the value as 1:2.
    assert parse_graph(r"scale=w='1\:2'").filters[0].options == [("w", "1:2")]
    assert parse_graph(r"scale=w=1\\:2").filters[0].options == [("w", "1:2")]
    # A quoted comma is part of the value, not a second filter.
    only = parse_graph("scale='1280,movie=x'").filters
    assert len(only) == 1 and only[0].options == [(None, "1280,movie=x")]
    assert parse_graph(r"[a\]b]null").filters[0].inputs == ["a]b"]
    assert parse_graph("sws_flags=lanczos;scale=640:-2").sws_flags == "lanczos"
    assert [f.name for f in parse_graph("yadif,scale=640:-2;anull").filters] == ["yadif", "scale", "anull"]


@pytest.mark.parametrize("text", ["", "scale,", "[a", "[]null", "scale=1[out", "sws_flags=bicubic", "null;;null"])
def test_graphs_ffmpeg_cannot_read_are_errors(text):
    with pytest.raises(GraphError):
        parse_graph(text)


# --- real-world argument sets are accepted ------------------------------------------------------

ACCEPTED = [
    "-c:v libx265 -crf 22 -preset slow -vf scale=-2:720 -c:a libopus -b:a 128k",
    "-map 0 -c copy",
    "-map 0:v:0 -map 0:a -map 0:s? -c:v libx264 -crf 20 -c:a aac -b:a 192k -c:s mov_text",
    "-map 0 -map -0:s -map 0:m:language:eng? -c copy",
    "-c:v libx265 -preset medium -crf 20 -x265-params log-level=error:aq-mode=3:psy-rd=2.0:no-sao=1 -pix_fmt yuv420p10le",
    "-c:v libx265 -x265-params hdr-opt=1:repeat-headers=1:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:"
    "master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400",
    "-c:v libx264 -preset veryfast -tune film -profile:v high -level 4.1 -x264-params ref=4:bframes=3:no-mbtree=1",
    "-c:v hevc_nvenc -preset p5 -rc vbr -cq 24 -b:v 0 -maxrate 8M -bufsize 16M -spatial-aq 1",
    "-c:v libsvtav1 -preset 6 -crf 30 -svtav1-params tune=0:film-grain=8:enable-overlays=1 -pix_fmt yuv420p10le",
    "-c:v libvpx-vp9 -b:v 0 -crf 31 -row-mt 1 -cpu-used 4 -c:a libopus -vbr on",
    "-vf yadif=mode=1,hqdn3d -c:v libx264 -crf 19",
    "-vf zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,"
    "zscale=t=bt709:m=bt709:r=tv,format=yuv420p",
    "-vf \"scale=-2:'min(720,ih)'\" -c:v libx264",
    "-vf crop=iw-20:ih-20,pad=1920:1080:(ow-iw)/2:(oh-ih)/2,setsar=1",
    "-af loudnorm=I=-16:TP=-1.5:LRA=11 -ar 48000",
    "-af 'pan=stereo|FL=0.5*FC+0.707*FL+0.707*BL+0.5*LFE|FR=0.5*FC+0.707*FR+0.707*BR+0.5*LFE' -ac 2",
    "-filter_complex '[0:v]split=2[a][b];[a]scale=640:-2[small];[b][small]overlay=W-w-10:H-h-10[v]' -map [v] -map 0:a?",
    "-metadata title='My film' -metadata:s:a:0 language=eng -disposition:a:0 default -map_metadata 0 -map_chapters -1",
    "-metadata 'comment=Episode 1: Pilot' -metadata 'artist=AC/DC'",
    "-movflags +faststart -tag:v hvc1 -c:v libx265",
    "-r 24000/1001 -fps_mode cfr -g 48 -keyint_min 24 -bf 3 -refs 4",
    "-ss 00:00:30 -t 60 -to 01:30 -c copy",
    "-vn -c:a flac -compression_level 8",
    "-sn -an -c:v copy -bsf:v hevc_mp4toannexb",
    "-c:v libx264 -preset ultrafast -vf realtime -an",
    "-c:v libx264 -preset not-a-preset",  # FFmpeg refuses the preset itself; nothing here names a file
    "-vf scale@main=1280:-2,format=yuv420p -threads 4",
    "-vf 'fps=30000/1001,setpts=PTS-STARTPTS' -af 'aresample=async=1:first_pts=0'",
    "-s 1280x720 -aspect 16:9 -ac 2 -ar 44100 -sample_fmt s16 -frames:v 100",
    r"-vf 'sc\ale=1280:-2'",  # FFmpeg reads this as scale: allowed
    "-vf \"'scale'=1280:-2\"",
    "-filter:v 'sws_flags=lanczos;scale=1280:-2' -c:v:0 libx264 -b:a:0 96k",
]


@pytest.mark.parametrize("args", ACCEPTED)
def test_real_world_arguments_are_accepted(args):
    assert check_custom_args(args)


# --- everything else is refused, naming the token -----------------------------------------------

REFUSED = [
    # filters that write or read files, under their names and escaped or quoted ones
    ("-vf metadata=mode=print:file=/tmp/x", "metadata"),
    ("-af ametadata=mode=print:file=/tmp/x", "ametadata"),
    ("-vf movie=/etc/passwd", "movie"),
    (r"-vf 'mo\vie=/etc/passwd'", r"mo\vie"),
    ("-vf \"mo''vie=/etc/passwd\"", "mo''vie"),
    ("-vf \"'movie'=/etc/passwd\"", "'movie'"),
    ("-vf \"sc'al'e=1:1,mo'v'ie=x\"", "mo'v'ie"),
    ("-vf 'scale=640:-2,movie@x=/etc/passwd'", "movie@x"),
    ("-filter_complex '[0:v]null[a];amovie=/etc/passwd[b]'", "amovie"),
    ("-vf Movie=x", "Movie"),
    ("-filter:v 'sws_flags=bicubic;movie=x'", "movie"),
    ("-vf subtitles=/media/x.srt", "subtitles"),
    ("-vf ass=a.ass", "ass"),
    ("-vf drawtext=textfile=/etc/passwd", "drawtext"),
    ("-vf drawtext=fontfile=/x.ttf:text=hi", "drawtext"),
    (r"-vf 'dr\awtext=text=hi'", r"dr\awtext"),
    ("-vf sendcmd=f=/tmp/cmds,scale=1:1", "sendcmd"),
    ("-af asendcmd=f=/tmp/cmds", "asendcmd"),
    ("-vf zmq", "zmq"),
    ("-af azmq", "azmq"),
    ("-vf lensfun=db_path=/tmp", "lensfun"),
    ("-vf frei0r=filter_name=/tmp/x.so", "frei0r"),
    ("-af ladspa=file=/tmp/x.so", "ladspa"),
    ("-af lv2=plugin=x", "lv2"),
    ("-vf lut3d=file=/tmp/x.cube", "lut3d"),
    ("-vf deshake=filename=/tmp/log", "deshake"),
    # allowed filters with file-like keys, keys read from files, or path-like values
    ("-vf scale=filename=x", "filename"),
    ("-vf eq=/contrast=/tmp/x", "/contrast"),
    ("-vf scale=w=/etc/passwd", "/etc/passwd"),
    (r"-vf 'scale=w=file\\:x'", "file:x"),
    ("-vf 'scale=w=../../x'", "../../x"),
    ("-vf '[1:v]scale=1:1'", "[1:v]"),
    ("-vf 'scale=1:2[oops'", "cannot be read"),
    # script, two-pass, statistics and report options
    ("-filter_script:v ../secret", "-filter_script:v"),
    ("-filter_complex_script data/secret_key", "-filter_complex_script"),
    ("-/vf /tmp/graph", "-/vf"),
    ("-c:v libx264 -pass 1", "-pass"),
    ("-passlogfile /tmp/x", "-passlogfile"),
    ("-vstats_file /tmp/x", "-vstats_file"),
    ("-vstats", "-vstats"),
    ("-c:v libx264 -stats /tmp/x", "-stats"),
    ("-flags +pass1", "-flags"),
    ("-report", "-report"),
    ("-progress /tmp/p", "-progress"),
    # encoder parameters that name files
    ("-x265-params stats=/tmp/x:pass=1", "stats"),
    ("-x265-params log-level=error:csv=/tmp/x.csv", "csv"),
    ("-x265-params analysis-save=/tmp/a", "analysis-save"),
    ("-x265-params analysis-load=/tmp/a", "analysis-load"),
    ("-x265-params qpfile=/tmp/q", "qpfile"),
    ("-x265-params zonefile=/tmp/z", "zonefile"),
    ("-x265-params dolby-vision-rpu=/tmp/r", "dolby-vision-rpu"),
    ("-x265-params no-stats=1", "no-stats"),
    (r"-x265-params 'st\ats=/tmp/x'", r"st\ats"),
    ("-x265-params crf=20:aq-mode=/tmp/x", "/tmp/x"),
    ("-x264-params stats=/tmp/x", "stats"),
    ("-x264opts qpfile=/tmp/q", "qpfile"),
    ("-svtav1-params fgs-table=/tmp/t", "fgs-table"),
    # extra outputs, formats and protocols
    ("-c:v libx264 out.mkv", "out.mkv"),
    ("-c copy /tmp/evil.mkv", "/tmp/evil.mkv"),
    ("-c copy -", "'-'"),
    ("-c copy -- x.mkv", "-- ends FFmpeg's options"),
    ("-f hls", "-f"),
    ("-y", "-y"),
    ("-c copy tcp://127.0.0.1:9", "tcp://127.0.0.1:9"),
    ("-c copy udp://127.0.0.1:9", "udp://127.0.0.1:9"),
    ("-c copy file:/tmp/x.mkv", "file:/tmp/x.mkv"),
    ("-c copy pipe:1", "pipe:1"),
    ("-metadata title=file:///etc", "file:///etc"),
    ("-metadata title=http://example.com/x", "http://example.com/x"),
    # inputs, attachments, devices and whitelists
    ("-i /etc/passwd", "-i"),
    ("-dump_attachment:t /tmp/x", "-dump_attachment:t"),
    ("-attach /etc/passwd", "-attach"),
    ("-protocol_whitelist file,http", "-protocol_whitelist"),
    ("-format_whitelist hls", "-format_whitelist"),
    ("-init_hw_device vaapi=va:/dev/dri/renderD128", "-init_hw_device"),
    ("-filter_hw_device va", "-filter_hw_device"),
    ("-sdp_file /tmp/x", "-sdp_file"),
    ("-hls_segment_filename /tmp/x", "-hls_segment_filename"),
    # maps outside input 0, bad specifiers and values
    ("-map 1:v", "1:v"),
    ("-map 0:v,1:a", "0:v,1:a"),
    ("-map_metadata 1", "'1'"),
    ("-vn:1", "-vn:1"),
    ("-c:x libx264", "-c:x"),
    ("-crf abc", "abc"),
    ("-preset ../x", "../x"),
    ("-tag:v /tmp", "/tmp"),
    ("-movflags file:x", "file:x"),
    ("-c:v libx264 -vf", "-vf needs a value"),
    ("-c:v 'unterminated", "check your quotes"),
]


@pytest.mark.parametrize("args,token", REFUSED)
def test_everything_else_is_refused_naming_the_token(args, token):
    with pytest.raises(SpecError) as caught:
        check_custom_args(args)
    assert caught.value.field == "custom_args"
    assert token in caught.value.message, caught.value.message


def test_refusals_point_at_the_list():
    with pytest.raises(SpecError) as caught:
        check_custom_args("-c:v libx264 -vstats_file /tmp/x")
    assert str(caught.value) == (
        "custom_args: -vstats_file is not an allowed option; "
        "see the list of allowed options on the Configure page or in docs/custom-args.md"
    )
    with pytest.raises(SpecError) as caught:
        check_custom_args(r"-vf 'mo\vie=/etc/passwd'")
    assert "FFmpeg reads it as movie" in caught.value.message and "docs/custom-args.md" in caught.value.message


def test_empty_arguments_are_refused():
    with pytest.raises(SpecError, match="is empty"):
        check_custom_args("   ")


# --- the test-only switch -----------------------------------------------------------------------


def test_the_switch_only_splits_and_warns(monkeypatch, caplog):
    hostile = "-vf movie=/etc/passwd -passlogfile /tmp/x out.mkv"
    monkeypatch.setenv(UNSAFE_SWITCH, "1")
    with caplog.at_level(logging.WARNING, logger="tasks.custom_args"):
        assert check_custom_args(hostile) == ["-vf", "movie=/etc/passwd", "-passlogfile", "/tmp/x", "out.mkv"]
    assert UNSAFE_SWITCH in caplog.text
    monkeypatch.setenv(UNSAFE_SWITCH, "0")  # read at every call: anything but 1 checks again
    with pytest.raises(SpecError):
        check_custom_args(hostile)


# --- one table: code, docs and the FFmpeg that is installed agree -------------------------------


def test_docs_show_exactly_the_table_in_the_code():
    text = (ROOT / "docs" / "custom-args.md").read_text(encoding="utf-8")
    generated = re.search(r"<!-- generated by [^>]*-->\n(.*)<!-- end of generated part -->", text, re.S)
    assert generated, "docs/custom-args.md lost its generated block"
    assert generated.group(1) == docs_markdown(), "run: python3 -m tasks.custom_args"
    for name in [*OPTIONS, *FILTERS]:
        assert f"`{name}" in generated.group(1), name


def test_reference_rows_cover_every_option_and_filter():
    table = reference()
    shown = {name.removesuffix(":…") for names, _, _ in table["options"] for name in names}
    assert shown == set(OPTIONS)
    assert {names[0] for names, _, _ in table["filters"]} == set(FILTERS)
    assert all(entry.kind in KINDS for entry in OPTIONS.values())
