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
