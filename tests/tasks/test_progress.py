"""Parsing FFmpeg -progress output (recorded sample)."""

from __future__ import annotations

from tasks.progress import ProgressParser

SAMPLE = """frame=125
fps=61.93
stream_0_0_q=28.0
bitrate= 120.5kbits/s
total_size=75264
out_time_us=5000000
out_time_ms=5000000
out_time=00:00:05.000000
dup_frames=0
drop_frames=0
speed=2.48x
progress=continue
frame=250
fps=62.10
total_size=150000
out_time_us=10000000
speed=2.50x
progress=end
"""


def test_blocks_become_percent_fps_speed_eta_size():
    parser = ProgressParser(duration=20.0)
    reports = [r for line in SAMPLE.splitlines() if (r := parser.feed(line))]
    assert len(reports) == 2
    first, last = reports
    assert first.percent == 25.0 and first.fps == 61.93 and first.speed == 2.48
    assert first.eta == round(15 / 2.48, 1) and first.out_size == 75264 and first.frame == 125
    assert not first.done
    assert last.done and last.percent == 100.0 and last.eta == 0.0


def test_unknown_duration_and_na_values():
    parser = ProgressParser(duration=None)
    for line in ["out_time_us=N/A", "speed=N/A", "fps=0.00"]:
        assert parser.feed(line) is None
    report = parser.feed("progress=continue")
    assert report.percent == 0.0 and report.speed is None and report.eta is None


def test_percent_never_reaches_100_before_end():
    parser = ProgressParser(duration=5.0)
    parser.feed("out_time_us=6000000")
    assert parser.feed("progress=continue").percent == 99.9


def test_no_eta_while_ffmpegs_speed_has_not_settled():
    parser = ProgressParser(duration=60.0)
    # 0.5 s into an x265 encode: 2.9 s encoded looks like 5.8x, and 57 s left would read as 9.8 s.
    for line in ["out_time_us=2900000", "speed=5.8x"]:
        parser.feed(line)
    early = parser.feed("progress=continue")
    assert early.speed == 5.8 and early.percent > 0 and early.eta is None
    for line in ["out_time_us=3000000", "speed=1.5x"]:  # 2 s of wall time: settled
        parser.feed(line)
    assert parser.feed("progress=continue").eta == round(57 / 1.5, 1)
