"""The whole journey a person makes, in real Chromium against a real system (issue #2 item 5):
browse to a folder of clips, shift-click two, configure H.265 in MKV, submit, watch both bars move
and finish, open a job, cancel a running job, retry a failed one, reorder two waiting jobs."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.media import ffprobe
from tests.support import wait_for
from tests.ui.conftest import FOLDER, shot
from tests.ui.test_queue import QUICK, RECORD, row


def newest_id(api) -> int:
    jobs = api.get("/api/jobs?per_page=1")["jobs"]
    return jobs[0]["id"] if jobs else 0


def pick_files(page, first: str, last: str | None = None) -> None:
    """On the Files page: open the clips folder, click one file, shift-click another."""
    page.get_by_role("link", name="Files", exact=True).click()
    page.get_by_role("link", name=FOLDER).click()
    expect(page.get_by_role("navigation", name="Breadcrumb")).to_contain_text(FOLDER)
    page.locator("tr.entry.file", has_text=first).locator(".file-name").click()
    if last:
        page.locator("tr.entry.file", has_text=last).locator(".file-name").click(modifiers=["Shift"])


def configure_and_submit(page, count: int) -> None:
    """Configure H.265 in MKV and queue the jobs."""
    page.get_by_role("link", name="Configure…").click()
    expect(page.locator("#file-count")).to_have_text(str(count))
    page.get_by_label("Video codec").select_option("libx265")
    page.get_by_label("Container").select_option("mkv")
    page.get_by_label("Bit depth").select_option("8")
    expect(page.locator("#command-preview")).to_contain_text("libx265")
    page.get_by_role("button", name=f"Queue {count} job{'s' if count != 1 else ''}").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("#flash")).to_contain_text(f"{count} job")


def test_browse_select_configure_watch_cancel_retry_reorder(page, api, ui_media):
    before = newest_id(api)
    page.goto("/")
    shot(page, "queue-empty")

    # 1. Browse to the clips, select two with shift-click, configure H.265 in MKV, submit.
    pick_files(page, "beach.mp4", "city.mp4")
    expect(page.locator("#selected-count")).to_have_text("2")
    shot(page, "files")
    page.get_by_role("link", name="Configure…").click()
    shot(page, "configure")
    page.go_back()
    configure_and_submit(page, 2)
    page.evaluate(RECORD)
    created = [j for j in api.get("/api/jobs?per_page=10")["jobs"] if j["id"] > before]
    assert sorted(j["name"] for j in created) == ["beach.mp4", "city.mp4"]
    ids = [j["id"] for j in created]

    # 2. Both progress bars move without a reload, then both reach done.
    def moving():
        seen = page.evaluate("() => window.__seen")
        return all(len({v for v in seen.get(str(i), []) if 0 < v < 100}) >= 2 for i in ids)

    try:
        wait_for(moving, 90, 0.1, what="both progress bars to move")
    except AssertionError as error:  # say what the page and the API saw, so a failure in CI can be read
        fields = ("status", "percent", "follower", "attempt", "waiting_reason", "error")
        jobs = {i: {k: job[k] for k in fields} for i, job in ((i, api.job(i)) for i in ids)}
        seen = page.evaluate("() => window.__seen")
        live = page.evaluate("() => document.body.dataset.live")
        raise AssertionError(f"{error}; the page saw {seen}, its stream is {live!r}; the API says {jobs}") from None
    shot(page, "queue-progress")
    for job_id in ids:
        card = row(page, job_id)
        expect(card.locator('[data-field="status"]')).to_have_text("succeeded", timeout=90_000)
        expect(card.locator("progress")).to_have_attribute("value", "100.0")
        expect(card).to_contain_text("saved")
    assert page.evaluate("() => window.__noReload") is True
    for job in created:
        output = Path(api.job(job["id"])["output_path"])
        video = next(s for s in ffprobe(output)["streams"] if s["codec_type"] == "video")
        assert video["codec_name"] == "hevc" and output.suffix == ".mkv"

    # 3. Open a job's detail page.
    beach = next(j for j in created if j["name"] == "beach.mp4")
    row(page, beach["id"]).get_by_role("link", name="beach.mp4").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("beach.mp4")
    expect(page.locator('[data-field="status"]')).to_have_text("succeeded")
    expect(page.locator("pre.argv")).to_contain_text("libx265")
    expect(page.get_by_text(str(ui_media["beach"]), exact=True)).to_be_visible()
    expect(page.locator("dd.saved")).to_contain_text("%")
    expect(page.locator("table.attempts tbody tr")).to_have_count(1)
    expect(page.locator("table.attempts")).to_contain_text("ui1@")
    shot(page, "job-detail")
    page.get_by_role("link", name="Queue", exact=True).first.click()

    # 4. Cancel a running job and retry a failed one (both picked and queued through the UI).
    before = newest_id(api)
    pick_files(page, "mountain (long).mp4")
    page.locator("tr.entry.file", has_text="zz broken.mkv").locator(".file-name").click()
    expect(page.locator("#selected-count")).to_have_text("2")
    configure_and_submit(page, 2)
    created = {j["name"]: j["id"] for j in api.get("/api/jobs?per_page=10")["jobs"] if j["id"] > before}
    long_id, broken_id = created["mountain (long).mp4"], created["zz broken.mkv"]

    long_card = row(page, long_id)
    expect(long_card.locator('[data-field="status"]')).to_have_text("running", timeout=30_000)
    wait_for(
        lambda: float(long_card.locator("progress").get_attribute("value")) > 0, 60, what="the long encode to start"
    )
    long_card.get_by_role("button", name=re.compile("^Cancel")).click()
    expect(long_card.locator('[data-field="status"]')).to_have_text("cancelled", timeout=30_000)
    # The broken job may still be on its follower (its private folder beside its output exists until it ends).
    leftovers = [p.name for p in ui_media["folder"].iterdir() if "frameshift-" in p.name and "mountain" in p.name]
    assert leftovers == [], f"a cancelled job left a partial file: {leftovers}"

    broken_card = row(page, broken_id)
    expect(broken_card.locator('[data-field="status"]')).to_have_text("failed", timeout=60_000)
    leftovers = [p.name for p in ui_media["folder"].iterdir() if "frameshift-" in p.name]
    assert leftovers == [], f"a failed or cancelled job left a partial file: {leftovers}"
    expect(broken_card.locator(".note")).not_to_be_empty()
    shot(page, "queue-failed")
    broken_card.get_by_role("button", name=re.compile("^Retry")).click()
    wait_for(
        lambda: api.job(broken_id)["attempt"] == 2 and api.job(broken_id)["status"] == "failed",
        60,
        what="the retried job to run a second attempt",
    )
    expect(broken_card.locator('[data-field="status"]')).to_have_text("failed")
    expect(broken_card).to_contain_text("attempt 2")

    # 5. Reorder two waiting jobs (the queue paused so they wait).
    page.get_by_role("button", name="Pause queue").click()
    expect(page.locator("#paused-banner")).to_be_visible()
    waiting = api.post(
        "/api/jobs", {"inputs": [str(ui_media["forest"]), str(ui_media["other"])], "spec": QUICK}, status=201
    )["jobs"]
    first, second = (j["id"] for j in waiting)
    page.get_by_role("link", name=re.compile("^Waiting")).click()
    expect(page.locator("li.job")).to_have_count(2)
    row(page, second).get_by_role("button", name=re.compile("up$")).click()
    wait_for(
        lambda: [j["id"] for j in api.get("/api/jobs?status=queued")["jobs"]] == [second, first],
        10,
        what="the second waiting job to move up",
    )
    expect(page.locator("li.job").first).to_have_attribute("data-job-id", str(second))
    expect(row(page, second).locator(".position")).to_have_text("#1 in queue")
    shot(page, "queue-reordered")
    page.get_by_role("button", name="Resume queue").click()
    for job_id in (first, second):
        api.wait_status(job_id, "succeeded")
