"""A split job's pieces table on its job page follows the pieces live, in real Chromium: rows appear when
the plan is made and change state as the real follower encodes them, with no reload of the page."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import shot

# The UI stack's monitor cuts at SPLIT_SECONDS=60 (the default): 150 s make 3 pieces (60, 60, 30 s).
SPEC = {
    "video_codec": "libx265",
    "preset": "medium",
    "crf": 30,
    "bit_depth": 8,
    "container": "mkv",
    "audio_codec": "aac",
    "split": "always",
}
# Record each piece row's statuses in the order the page showed them, from the page's own DOM.
WATCH = """() => {
  window.notReloaded = true;
  window.seen = {};
  const snap = () => document.querySelectorAll('#pieces tr[data-piece-id]').forEach((row) => {
    const label = row.cells[0].textContent.trim();
    const status = row.querySelector('[data-col="status"]').textContent.trim();
    const list = (window.seen[label] = window.seen[label] || []);
    if (list[list.length - 1] !== status) list.push(status);
  });
  snap();
  new MutationObserver(snap).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def long_clip(ui_media) -> Path:
    """150 s of 160x120 with a keyframe every 2 s and a tone, in the UI stack's media root."""
    path = ui_media["root"] / "split live.mp4"
    lavfi = ["testsrc2=size=160x120:rate=25:duration=150", "sine=frequency=440:duration=150"]
    argv = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", lavfi[0], "-f", "lavfi", "-i", lavfi[1]]
    argv += ["-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)]
    subprocess.run(argv, check=True)
    return path


def test_piece_rows_change_state_on_the_job_page_without_a_reload(page, api, long_clip):
    job = api.post("/api/jobs", {"inputs": [str(long_clip)], "spec": SPEC}, status=201)["jobs"][0]
    page.goto(f"/jobs/{job['id']}")
    expect(page.locator("body")).to_have_attribute("data-live", "open")
    page.evaluate(WATCH)

    # The plan's pieces appear in the table as the monitor makes them, then run on the follower.
    rows = page.locator("#pieces tr[data-piece-id]")
    expect(page.locator("#pieces tr", has_text="piece 2")).to_be_visible(timeout=60_000)
    running = page.locator("#pieces tr.status-running")
    expect(running.first).to_be_visible(timeout=60_000)
    expect(running.first.locator('[data-col="follower"]')).to_contain_text("ui1@")
    shot(page, "job-split-pieces-running")

    final = api.wait_status(job["id"], "succeeded", "failed", timeout=300)
    assert final["status"] == "succeeded", final["error"]
    for piece in final["pieces"]:
        row = page.locator(f'#pieces tr[data-piece-id]:has(td:text-is("{piece["label"]}"))')
        expect(row.locator('[data-col="status"]')).to_have_text("succeeded", timeout=30_000)
        expect(row.locator('[data-col="percent"]')).to_have_text("100%")
    assert rows.count() == len(final["pieces"]) == 6  # plan, 3 video pieces, audio, join
    expect(page.locator('#pieces [data-field="split_note"]')).to_have_text(final["split_note"])

    assert page.evaluate("window.notReloaded") is True
    seen = page.evaluate("window.seen")
    video = {label: statuses for label, statuses in seen.items() if label.startswith("piece ")}
    assert set(video) == {"piece 0", "piece 1", "piece 2"}, seen
    # Each row was shown in an earlier state first, then as succeeded: it changed in place.
    assert all(len(s) >= 2 and s[-1] == "succeeded" for s in video.values()), seen
    assert any("running" in s for s in video.values()), seen
    shot(page, "job-split-pieces-done")
