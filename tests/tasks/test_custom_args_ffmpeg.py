"""The custom-arguments allowlist against the FFmpeg that is installed: filters exist, none names a file,
and FFmpeg unescapes filter names the way tasks/filtergraph.py does."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tasks.custom_options import FILTERS
from tasks.filtergraph import parse_graph

FFMPEG = shutil.which("ffmpeg")
pytestmark = pytest.mark.skipif(FFMPEG is None, reason="needs ffmpeg")


def test_no_listed_filter_has_an_option_that_names_a_file():
    for name in FILTERS:
        text = subprocess.run([FFMPEG, "-hide_banner", "-h", f"filter={name}"], capture_output=True, text=True).stdout
        assert "Unknown filter" not in text, name
        keys = re.findall(r"^\s{2,}([A-Za-z0-9_/.-]+)\s+<", text, re.M)
        assert not [k for k in keys if re.search(r"file|path|url|dump|shader|model", k, re.I)], name


def test_the_check_would_see_a_file_option():
    """The scan above can fail: the same scan finds deshake's filename option."""
    text = subprocess.run([FFMPEG, "-hide_banner", "-h", "filter=deshake"], capture_output=True, text=True).stdout
    assert "filename" in re.findall(r"^\s{2,}([A-Za-z0-9_/.-]+)\s+<", text, re.M)


@pytest.mark.parametrize("graph", [r"sc\ale=8:8", "'scale'=8:8", "sc''ale=8:8", "scale=w='8':h=8"])
def test_ffmpeg_reads_escaped_names_the_way_the_parser_does(graph):
    """FFmpeg itself accepts these as the scale filter, so unescaping before the lookup is right."""
    assert parse_graph(graph).filters[0].name == "scale"
    run = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-f", "lavfi", "-i", "nullsrc=s=16x16:d=0.04", "-vf", graph]
        + ["-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 0, run.stderr[-500:]


ALLOWED_AND_REAL = [
    "-vf yadif=mode=1,hqdn3d -c:v libx264 -crf 19",
    "-vf crop=iw-20:ih-20,pad=640:480:(ow-iw)/2:(oh-ih)/2,setsar=1 -c:v libx264",
    "-af loudnorm=I=-16:TP=-1.5:LRA=11 -ar 48000 -c:v libx264",
    "-filter_complex '[0:v]split=2[a][b];[a]scale=160:-2[small];[b][small]overlay=W-w-10:H-h-10[v]' -map [v] -map 0:a?",
    "-filter:v 'sws_flags=lanczos;scale=160:-2' -c:v:0 libx264 -b:a:0 96k",
    "-metadata title='My film' -metadata:s:a:0 language=eng -disposition:a:0 default -map_metadata 0 -map_chapters -1",
    "-r 24000/1001 -fps_mode cfr -g 48 -keyint_min 24 -bf 3 -refs 4 -c:v libx264 -x264-params ref=4:no-mbtree=1",
    "-af 'pan=stereo|FL=0.5*FC+0.707*FL|FR=0.5*FC+0.707*FR' -ac 2 -c:v libx264 -preset ultrafast -tune film",
]


@pytest.mark.parametrize("args", ALLOWED_AND_REAL)
def test_allowed_arguments_are_real_ffmpeg_arguments(args, tmp_path):
    """What the table allows, FFmpeg accepts: a short synthetic clip converts with each set."""
    from tasks.custom_args import check_custom_args

    tokens = check_custom_args(args)
    source = "testsrc=d=0.3:s=320x240[out0];sine=d=0.3[out1]"
    run = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i", source, *tokens]
        + ["-f", "matroska", str(tmp_path / "out.mkv")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-500:]
