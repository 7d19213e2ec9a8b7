"""Rough edges a person met in the UI, checked in Chromium: queue tabs and the attempts table at 390 px, the
preset buttons and the rate fields on the Configure page, the bit depth that follows the codec; and the demo
clip `make run` makes in an empty media folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import expect

from tests.ui.conftest import shot
from tests.ui.stats.conftest import no_horizontal_overflow

ROOT = Path(__file__).resolve().parents[3]
OUTSIDE = """(selector) => [...document.querySelectorAll(selector)].filter(el => {
  const box = el.getBoundingClientRect();
  return box.width === 0 || box.left < 0 || box.right > document.documentElement.clientWidth + 0.5
      || el.scrollWidth > el.clientWidth + 1;
}).map(el => el.textContent.trim())"""


def test_queue_tabs_fit_a_phone_without_cutting_a_word(open_page):
    page = open_page("/", width=390)
    tabs = page.locator(".tabs .tab")
    expect(tabs).to_have_count(6)
    assert page.evaluate(OUTSIDE, ".tabs .tab") == [], "a status tab is cut off or scrolled out of sight"
    assert (
        page.evaluate("() => { const t = document.querySelector('.tabs'); return t.scrollWidth - t.clientWidth; }") <= 0
    )
    assert no_horizontal_overflow(page) == 0
    shot(page, "queue-tabs-390")


def test_job_attempts_show_every_column_on_a_phone(open_page, stats_server):
    from app.extensions import db
    from app.models import Attempt, Job

    job_id = stats_server.app.seeded_ids[6]
    with stats_server.app.app_context():
        job = db.session.get(Job, job_id)
        if not job.attempts:
            job.attempts.append(
                Attempt(
                    number=1,
                    task_id=f"edge-{job_id}",
                    follower=job.follower,
                    status="failed",
                    exit_code=1,
                    error="follower alpha@host was lost while writing a very long output name",
                    started_at=job.started_at,
                    finished_at=job.finished_at,
                )
            )
            db.session.commit()
    page = open_page(f"/jobs/{job_id}", width=390)
    table = page.locator("table.attempts")
    expect(table).to_be_visible()
    for label in ("Status", "Follower", "Started", "Finished", "Exit", "Error"):
        cell = table.locator(f'td[data-label="{label}"]')
        expect(cell).to_be_visible()
    expect(table.locator('td[data-label="Error"]')).to_contain_text("very long output name")
    assert page.evaluate(OUTSIDE, "table.attempts td") == [], "an attempt's value is cut off at 390 px"
    assert no_horizontal_overflow(page) == 0
    shot(page, "job-attempts-390")


def pick_and_configure(page, stats_media) -> None:
    """Select the clip in the file browser, then open the Configure page (its list and preview take room)."""
    page.goto(f"/files?{urlencode({'path': str(stats_media / 'Movies')})}")
    page.get_by_label("Select trailer.mp4").check()
    expect(page.locator("#selected-count")).to_have_text("1")
    page.goto("/configure")
    expect(page.locator("#command-preview")).to_contain_text("trailer_converted")


def test_preset_buttons_stay_together_and_rate_fields_follow_the_mode(open_page, stats_media):
    page = open_page("/", width=1280)
    pick_and_configure(page, stats_media)
    tops = [
        page.get_by_role("button", name=name).bounding_box()["y"]
        for name in ("Save as new preset", "Update selected preset", "Delete selected preset")
    ]
    assert max(tops) - min(tops) < 1, f"the preset buttons are on different rows: {tops}"
    rate = page.get_by_label("Rate control")
    expect(rate).to_have_value("crf")
    expect(page.get_by_label("Video bitrate")).to_be_hidden()
    expect(page.get_by_label("Quality (CRF)")).to_be_visible()
    rate.select_option("bitrate")
    expect(page.get_by_label("Video bitrate")).to_be_visible()
    expect(page.get_by_label("Quality (CRF)")).to_be_hidden()
    rate.select_option("crf")
    expect(page.get_by_label("Video bitrate")).to_be_hidden()
    shot(page, "configure-1280")


def test_bit_depth_follows_the_codec_and_ten_bit_h264_is_warned(open_page):
    page = open_page("/configure", width=1280)
    codec, depth = page.get_by_label("Video codec"), page.get_by_label("Bit depth")
    warning = page.locator("#bit-depth-warning")
    expect(depth).to_have_value("10")
    codec.select_option("libx264")
    expect(depth).to_have_value("8")
    expect(warning).to_be_hidden()
    depth.select_option("10")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("10-bit H.264 plays on few devices")
    shot(page, "configure-h264-10bit-warning")
    # A depth the person chose is kept when the codec changes.
    codec.select_option("libx265")
    expect(depth).to_have_value("10")
    expect(warning).to_be_hidden()
    codec.select_option("libx264")
    expect(depth).to_have_value("10")
    expect(warning).to_be_visible()


def test_make_run_puts_a_demo_clip_in_an_empty_media_folder(tmp_path):
    empty, full = tmp_path / "empty", tmp_path / "full"
    empty.mkdir()
    full.mkdir()
    (full / "mine.mkv").write_bytes(b"not touched")
    code = (
        "import sys; sys.path.insert(0, 'scripts'); from pathlib import Path; import run; "
        f"print(run.demo_clip(Path({str(empty)!r}))); print(run.demo_clip(Path({str(full)!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"the media folder {empty} was empty: made demo.mp4" in done.stdout
    assert sorted(p.name for p in full.iterdir()) == ["mine.mkv"]
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_type",
            "-of",
            "json",
            empty / "demo.mp4",
        ],
        capture_output=True,
        text=True,
    )
    info = json.loads(probe.stdout)
    assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"}
    assert 9.5 < float(info["format"]["duration"]) < 10.5
