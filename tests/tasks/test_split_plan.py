"""Planning a split: the packet listing read from ffprobe and the pieces cut at keyframes (pure functions, no
FFmpeg). Split from test_split_layer.py, which runs the layer on real FFmpeg."""

from __future__ import annotations

import pytest

from tasks.split import parse_packets, plan_pieces


def test_packet_listing_ignores_negative_and_missing_times_and_the_plan_cuts_near_the_target():
    # An mp4 cut by stream copy: its first keyframe at -1.3 s is never shown; N/A is a packet without a time.
    listing = "-1.300000,0.040000,K__\n-0.040000,0.040000,___\n0.000000,0.040000,___\nN/A,0.040000,K__\n"
    listing += "".join(f"{n * 0.04:.6f},0.040000,{'K' if n % 50 == 0 else '_'}__\n" for n in range(1, 400))
    packets = parse_packets(listing)
    assert packets.first == 0.0 and len(packets.times) == 400
    assert packets.keyframes == [2.0 * k for k in range(1, 8)]
    assert packets.duration == pytest.approx(16.0) and packets.frames_between(2.0, 4.0) == 50
    # Keyframes every 2 s, 5 s pieces: the nearest keyframe to each target, never a piece under half of it.
    pieces = plan_pieces(packets.keyframes, packets.duration, packets.first, 5)
    assert [(p.start, p.end) for p in pieces] == [(0.0, 6.0), (6.0, 12.0), (12.0, None)]
    assert [p.start for p in plan_pieces(packets.keyframes, packets.duration, packets.first, 4.5)] == [0, 4, 8, 12]
    # A tail shorter than a third of a piece joins the one before; no keyframe for long: fewer, longer pieces.
    assert [p.start for p in plan_pieces([4.0, 9.5], 10.0, 0.0, 4)] == [0.0, 4.0]
    assert [p.start for p in plan_pieces([11.0], 20.0, 0.5, 3)] == [0.5, 11.0]
