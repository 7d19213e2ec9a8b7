"""The queue page in real Chromium: live progress by push, recovery after a dropped connection,
search, pages, clear finished, pause, and drag-and-drop reordering."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support import wait_for
from tests.ui.conftest import shot

HEVC_SLOW = {"video_codec": "libx265", "preset": "slow", "crf": 28, "container": "mkv", "bit_depth": 8}
QUICK = {"video_codec": "libx264", "preset": "ultrafast", "container": "mkv", "bit_depth": 8}

# Record every value each progress bar takes, and mark the document so a reload would be noticed.
RECORD = """() => {
  window.__noReload = true;
  window.__seen = {};
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'attributes' && m.target.tagName === 'PROGRESS') {
        const li = m.target.closest('li.job');
        if (li) (window.__seen[li.dataset.jobId] ||= []).push(Number(m.target.getAttribute('value')));
      }
    }
  }).observe(document.getElementById('queue'), {subtree: true, attributes: true, attributeFilter: ['value']});
}"""
DETAIL_RECORD = """() => {
  window.__values = [];
  new MutationObserver((mutations) => {
    for (const m of mutations) if (m.target.tagName === 'PROGRESS') window.__values.push(Number(m.target.getAttribute('value')));
  }).observe(document.getElementById('job'), {subtree: true, attributes: true, attributeFilter: ['value']});
}"""


# What a running job shows: its bar's value and the speed and ETA texts (null unless it is running).
STATS = """(root) => {
  const el = root.matches('li.job') ? root : root.querySelector('.page-head');
  if (!el || el.dataset.status !== 'running') return null;
  const text = (field) => root.querySelector('[data-field="' + field + '"]').textContent.trim();
  const stats = root.querySelector('.stats');
  return {percent: Number(root.querySelector('progress').getAttribute('value')), speed: text('speed'),
          eta: text('eta'), hidden: Boolean(stats && stats.hidden)};
}"""


def eta_range(text: str) -> tuple[float, float] | None:
    """The seconds an ETA text can stand for ("12s", "1m 05s", "1h 02m"), or None if it is no duration."""
    if match := re.fullmatch(r"(\d+)s", text):
        value, step = int(match[1]), 1
    elif match := re.fullmatch(r"(\d+)m (\d\d)s", text):
        value, step = int(match[1]) * 60 + int(match[2]), 1
    elif match := re.fullmatch(r"(\d+)h (\d\d)m", text):
        return int(match[1]) * 3600 + int(match[2]) * 60, int(match[1]) * 3600 + int(match[2]) * 60 + 60
    else:
        return None
    return value - 0.5 * step, value + 0.5 * step


def plausible_stats(stats: dict | None, clip_seconds: float) -> bool:
    """True when a running job shows a speed (N.NN×) and an ETA that is what is left of the clip at that speed."""
    if not stats or stats["hidden"] or not 0 < stats["percent"] < 100:
        return False
    speed = re.fullmatch(r"(\d+\.\d\d)×", stats["speed"])
    shown = eta_range(stats["eta"])
    assert stats["speed"] == "—" or speed, f"speed shown as {stats['speed']!r}"
    assert stats["eta"] == "—" or shown, f"ETA shown as {stats['eta']!r}"
    if not speed or not shown or float(speed[1]) == 0:
        return False
    # ETA = (duration - encoded time) / speed; allow for the rounding of the bar (0.1), the speed (0.005)
    # and the clip's length (FFmpeg may report a few hundredths more).
    value = float(speed[1])
    left_low = (1 - (stats["percent"] + 0.1) / 100) * clip_seconds
    left_high = (1 - (stats["percent"] - 0.1) / 100) * (clip_seconds + 0.1)
    low, high = left_low / (value + 0.005), left_high / max(value - 0.005, 1e-6)
    assert shown[0] <= high + 0.1 and shown[1] >= low - 0.1, (
        f"ETA {stats['eta']} does not fit {stats['percent']}% of {clip_seconds}s done at {stats['speed']} "
        f"(expected {low:.1f}–{high:.1f}s)"
    )
    return True


def row(page, job_id: int):
    return page.locator(f'li.job[data-job-id="{job_id}"]')


def test_progress_arrives_live_and_survives_a_dropped_connection(page, api, ui_media, flaky_network):
    page.goto(flaky_network.url + "/")
    expect(page.locator("#live-status")).to_have_text("Live")
    page.evaluate(RECORD)
    first = api.post("/api/jobs", {"inputs": [str(ui_media["beach"])], "spec": HEVC_SLOW}, status=201)["jobs"][0]
    # The new job shows up without a reload, then its bar moves while FFmpeg runs.
    expect(row(page, first["id"])).to_be_visible()
    # Its job page, open beside the queue, is live too.
    detail = page.context.new_page()
    detail.goto(f"{flaky_network.url}/jobs/{first['id']}")
    detail.evaluate(DETAIL_RECORD)
    wait_for(
        lambda: any(0 < v < 100 for v in page.evaluate(f"() => window.__seen['{first['id']}'] || []")),
        60,
        what="the progress bar to move",
    )
    card = row(page, first["id"])
    expect(card.locator('[data-field="follower"]')).to_contain_text("ui1@")
    expect(card.locator('[data-field="fps"]')).to_have_text(re.compile(r"\d"))
    # Speed and ETA are shown while it runs, on the queue and on the job page, agree with the bar, and
    # are repainted as it moves (seen plausible at two different percentages on each page).
    seen: dict[str, set[float]] = {"queue": set(), "job": set()}

    def speed_and_eta() -> bool:
        for name, tab, root in (("queue", page, f'li.job[data-job-id="{first["id"]}"]'), ("job", detail, "#job")):
            stats = tab.locator(root).evaluate(STATS)
            if plausible_stats(stats, 10.0):
                seen[name].add(stats["percent"])
        return all(len(values) >= 2 for values in seen.values())

    wait_for(speed_and_eta, 60, 0.1, what="speed and ETA on the queue and the job page while the job runs")
    shot(page, "queue-running")
    expect(card.locator('[data-field="status"]')).to_have_text("succeeded", timeout=60_000)
    expect(card.locator("progress")).to_have_attribute("value", "100.0")
    expect(detail.locator('[data-field="status"]')).to_have_text("succeeded")
    expect(detail.locator("table.attempts")).to_contain_text("succeeded")
    assert any(0 < v < 100 for v in detail.evaluate("() => window.__values")), "the job page did not move"
    detail.close()

    # Drop the connection: the page says so, misses what happens meanwhile, and catches up by itself.
    flaky_network.cut()
    expect(page.locator("#live-status")).to_have_text("Reconnecting…")
    second = api.post("/api/jobs", {"inputs": [str(ui_media["forest"])], "spec": QUICK}, status=201)["jobs"][0]
    api.wait_status(second["id"], "succeeded")
    assert row(page, second["id"]).count() == 0
    flaky_network.restore()
    expect(page.locator("#live-status")).to_have_text("Live", timeout=20_000)
    expect(row(page, second["id"]).locator('[data-field="status"]')).to_have_text("succeeded")
    assert page.evaluate("() => window.__noReload") is True, "the page reloaded instead of updating in place"


def test_search_pages_and_clear_finished(page, api, live_server):
    from app.extensions import db
    from app.models import Job

    with live_server.app.app_context():
        db.session.add_all(
            [
                Job(
                    name=f"bulk-{n:03d}.mp4",
                    input_path=f"/nowhere/bulk-{n:03d}.mp4",
                    output_path=f"/nowhere/bulk-{n:03d}.mkv",
                    spec={"video_codec": "libx264", "container": "mkv"},
                    status="succeeded",
                    percent=100.0,
                    input_size=2_000_000,
                    output_size=500_000,
                )
                for n in range(120)
            ]
        )
        db.session.commit()
    page.goto("/?status=succeeded")
    total = api.get("/api/jobs?status=succeeded&per_page=1")["total"]
    expect(page.locator(".pagination")).to_contain_text(f"Page 1 of {-(-total // 50)} · {total} jobs")
    expect(page.locator("li.job")).to_have_count(50)
    expect(page.locator('[data-count="succeeded"]')).to_have_text(str(total))
    page.get_by_role("link", name="Older ›").click()
    expect(page.locator(".pagination")).to_contain_text("Page 2 of")
    page.get_by_label("Search jobs by file name").fill("bulk-01")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("li.job")).to_have_count(10)
    expect(page.locator("li.job .job-name").first).to_have_text("bulk-019.mp4")
    expect(page.locator("li.job").first).to_contain_text("75% saved")
    shot(page, "queue-search")

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Clear finished").click()
    expect(page.locator("#flash")).to_contain_text(re.compile(r"Removed \d+ finished jobs"))
    expect(page.locator('[data-count="succeeded"]')).to_have_text("0")
    assert api.get("/api/jobs?status=succeeded")["total"] == 0


def test_pause_and_drag_to_reorder(page, api, ui_media):
    page.goto("/?status=queued")
    page.get_by_role("button", name="Pause queue").click()
    expect(page.locator("#paused-banner")).to_be_visible()
    inputs = [str(ui_media["forest"]), str(ui_media["other"]), str(ui_media["forest"])]
    created = api.post("/api/jobs", {"inputs": inputs, "spec": QUICK}, status=201)["jobs"]
    ids = [job["id"] for job in created]
    expect(page.locator("li.job")).to_have_count(3)
    expect(page.locator("li.job .position").first).to_have_text("#1 in queue")
    assert page.locator("li.job").evaluate_all("els => els.map(e => Number(e.dataset.jobId))") == ids
    shot(page, "queue-waiting")

    row(page, ids[2]).drag_to(row(page, ids[0]))
    wanted = [ids[2], ids[0], ids[1]]
    wait_for(
        lambda: [j["id"] for j in api.get("/api/jobs?status=queued")["jobs"]] == wanted,
        10,
        what="the dragged job to be first in the queue",
    )
    expect(page.locator("li.job")).to_have_count(3)
    # The list refreshes after the move's answer: on a loaded machine that can come after the API has it.
    expect(page.locator("li.job").first).to_have_attribute("data-job-id", str(ids[2]))
    assert page.locator("li.job").evaluate_all("els => els.map(e => Number(e.dataset.jobId))") == wanted

    # The same with the keyboard: Enter on "Down"; focus stays on that button after the list refreshes.
    down = row(page, ids[2]).get_by_role("button", name=re.compile(" down$"))
    down.focus()
    page.keyboard.press("Enter")
    wanted = [ids[0], ids[2], ids[1]]
    wait_for(
        lambda: [j["id"] for j in api.get("/api/jobs?status=queued")["jobs"]] == wanted,
        10,
        what="the job to move down",
    )
    expect(page.locator("li.job").nth(1)).to_have_attribute("data-job-id", str(ids[2]))
    expect(row(page, ids[2]).get_by_role("button", name=re.compile(" down$"))).to_be_focused()

    # "Top" moves the last waiting job to the head of the queue.
    row(page, ids[1]).get_by_role("button", name=re.compile(" to the top of the queue$")).click()
    wanted = [ids[1], ids[0], ids[2]]
    wait_for(
        lambda: [j["id"] for j in api.get("/api/jobs?status=queued")["jobs"]] == wanted,
        10,
        what="the job to move to the top",
    )
    expect(page.locator("li.job").first).to_have_attribute("data-job-id", str(ids[1]))
    expect(row(page, ids[1]).locator(".position")).to_have_text("#1 in queue")
    assert page.locator("li.job").evaluate_all("els => els.map(e => Number(e.dataset.jobId))") == wanted

    page.get_by_role("button", name="Resume queue").click()
    expect(page.locator("#paused-banner")).to_be_hidden()
    for job_id in ids:
        api.wait_status(job_id, "succeeded")
    expect(page.locator('[data-count="queued"]')).to_have_text("0")


HIDE = """(hidden) => {
  Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => hidden ? 'hidden' : 'visible'});
  document.dispatchEvent(new Event('visibilitychange'));
}"""


def test_a_hidden_tab_lets_its_stream_go_and_catches_up_when_shown(page, api, ui_media):
    page.add_init_script("window.FRAME_SHIFT_HIDDEN_GRACE = 300")
    page.goto("/")
    expect(page.locator("#live-status")).to_have_text("Live")
    page.evaluate(HIDE, True)
    expect(page.locator("#live-status")).to_have_text("Paused")
    job = api.post("/api/jobs", {"inputs": [str(ui_media["forest"])], "spec": QUICK}, status=201)["jobs"][0]
    api.wait_status(job["id"], "succeeded")
    assert row(page, job["id"]).count() == 0
    page.evaluate(HIDE, False)
    expect(page.locator("#live-status")).to_have_text("Live")
    expect(row(page, job["id"]).locator('[data-field="status"]')).to_have_text("succeeded")


def refresh_list(page) -> bool:
    """Ask the queue list to re-read itself, as a change does, and wait until it has."""
    return page.evaluate(
        """() => new Promise((resolve) => {
            const queue = document.getElementById('queue');
            queue.addEventListener('queue:refreshed', () => resolve(true), {once: true});
            queue.dispatchEvent(new CustomEvent('queue:changed'));
        })"""
    )


def test_a_click_held_while_the_list_refreshes_still_acts(page, api, ui_media):
    """The list is re-read about once a second while jobs change; a refresh between mousedown and mouseup
    must not swallow the click (it did when the list's HTML was replaced wholesale: the button under the
    pointer was a new node at mouseup, so the browser sent the click to the list instead)."""
    page.goto("/?status=queued")
    page.get_by_role("button", name="Pause queue").click()
    expect(page.locator("#paused-banner")).to_be_visible()
    try:
        job_id = api.post("/api/jobs", {"inputs": [str(ui_media["forest"])], "spec": QUICK}, status=201)["jobs"][0][
            "id"
        ]
        cancel = row(page, job_id).get_by_role("button", name="Cancel")
        expect(cancel).to_be_visible()
        # The row may first appear from the live stream and then move to its place in the server's order (other
        # modules' queued jobs share this list): let one refresh settle it, so the pointer stays on the button.
        assert refresh_list(page)
        cancel.evaluate("el => { el.__before = true; }")  # a mark that only the same node keeps
        box = cancel.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        assert refresh_list(page)
        assert cancel.evaluate("el => el.__before === true"), "the refresh replaced the button under the pointer"
        assert cancel.bounding_box() == box, "the refresh moved the button under the pointer"
        page.mouse.up()
        api.wait_status(job_id, "cancelled", timeout=10)
    finally:
        page.get_by_role("button", name="Resume queue").click()
        expect(page.locator("#paused-banner")).to_be_hidden()
