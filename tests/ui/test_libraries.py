"""The Libraries page in real Chromium, on the UI stack's monitor and a real folder of generated clips:
create, preview (what would be queued or skipped, and why), edit the hours grid by mouse and keyboard,
a deleted folder reported, delete; the queue's own hours on the Followers page; phone width."""

from __future__ import annotations

import re
import shutil
from datetime import datetime

import pytest
from playwright.sync_api import expect

from app.services.schedules import DAYS
from tests.media import make_clip
from tests.support import wait_for
from tests.ui.conftest import shot
from tests.ui.test_pages import UNLABELLED

NAME = "Holiday clips"


@pytest.fixture
def library_folder(request, ui_media, live_server):
    """A folder of new clips inside the media root; afterwards it is gone and nothing of it stays queued."""
    folder = ui_media["root"] / f"Library {request.node.name}"
    folder.mkdir()
    make_clip(folder / "beach.mp4", seconds=1)
    make_clip(folder / "city.mkv", seconds=1)
    make_clip(folder / "trailer sample.mp4", seconds=1)
    (folder / "notes.txt").write_text("not a video")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
    from app.extensions import db
    from app.models import Job
    from app.services.jobs import cancel_job

    with live_server.app.app_context():
        for job in db.session.query(Job).filter(Job.input_path.startswith(str(folder))):
            if job.status in ("queued", "dispatched", "running"):
                cancel_job(job.id)


def cell(page, day: int, hour: int):
    return page.get_by_role("button", name=f"{DAYS[day]} {hour:02d}:00-{hour + 1:02d}:00", exact=True)


def settled_box(locator) -> dict:
    """The locator's box once it has stopped moving (Edit scrolls the form smoothly), after scrolling it into view."""
    seen: list = [None]

    def still() -> dict | None:
        box = locator.bounding_box()
        steady = box is not None and box == seen[0]
        seen[0] = box
        return box if steady else None

    wait_for(still, 15, 0.2, what="the page to stop scrolling")
    locator.scroll_into_view_if_needed()
    seen[0] = None
    return wait_for(still, 15, 0.2, what="the page to stop scrolling")


def test_a_library_is_created_previewed_scheduled_reported_and_deleted(page, api, library_folder):
    page.goto("/libraries/")
    form = page.locator("#library-form")
    form.get_by_label("Name", exact=True).fill(NAME)
    form.get_by_label("Folder", exact=True).fill(str(library_folder))
    form.get_by_label(re.compile("Skip files already in the target")).uncheck()  # decide by name alone
    form.get_by_label("Exclude names").fill("*sample*")
    form.get_by_role("button", name="Preview").click()
    summary = page.locator("#preview-summary")
    expect(summary).to_have_text(
        "These 2 files would be queued, 2 skipped, 0 wait for media facts, 0 are already done."
    )
    # In the order the folder lists them (os.scandir's), so compared sorted.
    assert sorted(page.locator("#preview-queue li").all_inner_texts()) == ["beach.mp4", "city.mkv"]
    assert sorted(page.locator("#preview-skip li").all_inner_texts()) == [
        "notes.txt — extension .txt is not in the library's list",
        "trailer sample.mp4 — name matches exclude pattern *sample*",
    ]
    shot(page, "libraries-preview")

    # No hours at all: whatever the monitor finds waits (nothing of this test converts).
    hours = page.locator("#library-schedule")
    hours.get_by_role("button", name="No hours").click()
    expect(hours.locator(".schedule-summary")).to_contain_text("Work may start: at no hour")
    form.get_by_role("button", name="Save library").click()
    row = page.locator("#library-list tr", has_text=NAME)
    expect(row).to_be_visible()
    expect(row.locator('[data-field="hours"]')).to_have_text("at no hour")
    library = next(lib for lib in api.get("/api/libraries")["libraries"] if lib["name"] == NAME)
    assert library["schedule"] == [0] * 168 and library["rules"]["exclude"] == ["*sample*"]

    # Edit: a day that is not today (nor tomorrow), 02:00-05:00 dragged with the mouse, 05:00 by keyboard.
    day = (datetime.now().weekday() + 3) % 7
    row.get_by_role("button", name="Edit").click()
    expect(page.locator("#form-h")).to_have_text(f"Edit {NAME}")
    expect(cell(page, day, 2)).to_have_attribute("aria-pressed", "false")
    start = settled_box(cell(page, day, 2))
    end = cell(page, day, 4).bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=8)
    page.mouse.up()
    summary_line = hours.locator(".schedule-summary")
    expect(summary_line).to_contain_text(f"Work may start: {DAYS[day]} 02:00-05:00")
    expect(cell(page, day, 3)).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("ArrowRight")  # focus went to the pressed hour (04:00); move to 05:00
    expect(cell(page, day, 5)).to_be_focused()
    page.keyboard.press("Space")
    expect(summary_line).to_contain_text(f"Work may start: {DAYS[day]} 02:00-06:00")
    cell(page, day, 10).click()  # a click toggles one hour, and a second click undoes it
    expect(summary_line).to_contain_text(f"Work may start: {DAYS[day]} 02:00-06:00 & 10:00-11:00")
    cell(page, day, 10).click()
    expect(summary_line).to_contain_text(f"Work may start: {DAYS[day]} 02:00-06:00 (")
    shot(page, "libraries-edit-hours")
    form.get_by_role("button", name="Save library").click()
    row = page.locator("#library-list tr", has_text=NAME)
    expect(row.locator('[data-field="hours"]')).to_have_text(f"{DAYS[day]} 02:00-06:00")
    saved = api.get(f"/api/libraries/{library['id']}")
    assert [i for i, flag in enumerate(saved["schedule"]) if flag] == [day * 24 + h for h in (2, 3, 4, 5)]
    shot(page, "libraries")

    # The folder goes away: the monitor reports it, the page shows it.
    shutil.rmtree(library_folder)
    wait_for(
        lambda: api.get(f"/api/libraries/{library['id']}")["problem"], 30, 0.2, what="the monitor to report the folder"
    )
    page.reload()
    problem = page.locator("#library-list tr", has_text=NAME).get_by_role("status")
    expect(problem).to_have_text(re.compile("is gone or cannot be read"))
    shot(page, "libraries-problem")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#library-list tr", has_text=NAME).get_by_role("button", name="Delete").click()
    expect(page.locator("#library-list tr", has_text=NAME)).to_have_count(0)
    assert all(lib["name"] != NAME for lib in api.get("/api/libraries")["libraries"])


def test_the_queue_hours_are_set_on_the_followers_page(page, live_server, api):
    client = live_server.app.test_client()
    day = (datetime.now().weekday() + 3) % 7
    try:
        page.goto("/followers/")
        box = page.locator("#queue-hours")
        if not box.evaluate("details => details.open"):
            box.locator("summary").click()
        box.get_by_role("button", name="No hours").click()
        box.get_by_role("button", name=f"Switch every hour of {DAYS[day]}").click()
        expect(box.locator(".schedule-summary")).to_contain_text(f"Work may start: {DAYS[day]} all day")
        box.get_by_role("button", name="Save queue hours").click()
        expect(page.get_by_text(f"Queue hours saved: {DAYS[day]} all day.")).to_be_visible()
        assert api.get("/api/queue/schedule")["text"] == f"{DAYS[day]} all day"
        page.reload()
        expect(page.locator("#queue-hours-text")).to_have_text(f"{DAYS[day]} all day")
        expect(cell(page, day, 0)).to_have_attribute("aria-pressed", "true")
        expect(cell(page, (day + 1) % 7, 0)).to_have_attribute("aria-pressed", "false")
        shot(page, "followers-queue-hours")
        page.goto("/")
        expect(page.locator("#hours-banner")).to_contain_text(
            f"Outside the queue's hours ({DAYS[day]} all day, {api.get('/api/queue/schedule')['time_zone']}): "
            f"waiting jobs start {DAYS[day]} 00:00; running jobs go on."
        )
        shot(page, "queue-outside-hours")
        page.goto("/followers/")
        bad = client.put("/api/queue/schedule", json={"schedule": [True] * 24})
        assert bad.status_code == 400 and bad.get_json()["field"] == "schedule"
        assert "168" in bad.get_json()["error"]
        box.get_by_role("button", name="Any time").click()
        box.get_by_role("button", name="Save queue hours").click()
        expect(page.get_by_text("Queue hours saved: any time.")).to_be_visible()
        assert api.get("/api/queue/schedule")["schedule"] is None
        page.goto("/")
        expect(page.locator("h1")).to_have_text("Queue")
        expect(page.locator("#hours-banner")).to_have_count(0)
    finally:
        client.put("/api/queue/schedule", json={"schedule": None})


def test_the_libraries_page_fits_a_phone(browser, live_server, api, library_folder):
    created = live_server.app.test_client().post(
        "/api/libraries", json={"name": "Phone", "folder": str(library_folder), "schedule": [False] * 168}
    )
    assert created.status_code == 201, created.get_json()
    try:
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
        )
        page = context.new_page()
        for path, name in (("/libraries/", "libraries-phone"), ("/followers/", "followers-hours-phone")):
            page.goto(path)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
            assert page.evaluate(UNLABELLED) == [], f"{path} has controls without a label"
            shot(page, name)
        context.close()
    finally:
        live_server.app.test_client().delete(f"/api/libraries/{created.get_json()['id']}")
