"""Which queued jobs split, and which need their input's length read first (app/services/split_jobs.decide)."""

from __future__ import annotations

import pytest

from app.models import Job
from app.services.split_jobs import decide, needs_length

H264 = {"video_codec": "libx264", "preset": "ultrafast", "container": "mkv", "audio_codec": "aac", "bit_depth": 8}
CFR = {"mode": "custom", "custom_args": "-c:v libx264 -fps_mode cfr", "container": "mkv"}


def job(spec: dict) -> Job:
    return Job(name="a.mp4", input_path="/media/a.mp4", output_path="/media/a.mkv", spec=spec, status="queued")


# (spec, free slots in the fleet, input length in s) -> (split?, note starts with, length read?), written out by
# hand from docs/split.md: never/always win, a whole-stream custom spec runs whole, auto needs 2 slots and more
# than SPLIT_MIN_SECONDS (300 by default).
CASES = [
    ({**H264, "split": "never"}, 4, 900, (False, None, False)),
    ({**H264, "split": "always"}, 1, 10, (True, None, False)),
    ({**H264, "split": "auto"}, 1, 900, (False, None, False)),
    ({**H264, "split": "auto"}, 2, 900, (True, None, True)),
    ({**H264, "split": "auto"}, 2, 300, (False, None, True)),
    ({**H264, "split": "auto"}, 8, None, (False, None, True)),
    ({**H264, "video_codec": "copy", "split": "always"}, 4, 900, (False, "runs whole", False)),
    ({**CFR, "split": "auto"}, 4, 900, (False, "runs whole", False)),
]


@pytest.mark.parametrize(("spec", "slots", "length", "expected"), CASES)
def test_decide_reads_the_length_only_when_needs_length_says_so(app, spec, slots, length, expected):
    reads = []

    def duration():
        reads.append(1)
        return length

    with app.app_context():
        split, note = decide(job(spec), slots, duration)
        asked = needs_length(job(spec), slots)
    want_split, want_note, want_read = expected
    assert split is want_split
    assert (note or "").startswith(want_note or "") and (note is None) == (want_note is None)
    assert bool(reads) is want_read and asked is want_read
