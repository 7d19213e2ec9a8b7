"""The Files and Configure pages in real headless Chromium against a live server."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from app.views.ui import human_size
from tests.ui.files.conftest import HOSTILE, screenshot


def jobs_for(server, paths: list[str]):
    from app.extensions import db
    from app.models import Job

    with server.app.app_context():
        rows = db.session.query(Job).filter(Job.input_path.in_(paths)).order_by(Job.id).all()
        db.session.expunge_all()
        return rows


def test_the_size_formatter_matches_hand_written_values(page, live_server):
    """The app's one Python formatter (app/views/ui.py) and its one browser formatter (FS.format.size in
    app.js) agree with hand-written values: the page is rendered by the first, live figures by the second."""
    values = (0, 999, 1000, 45_349, 1_234_567, 3_000_000_000)
    expected = ["0 B", "999 B", "1.0 KB", "45.3 KB", "1.2 MB", "3.0 GB"]
    assert [human_size(n) for n in values] == expected
    page.goto(live_server.url + "/files/")
    assert page.evaluate("(values) => values.map((v) => FrameShift.format.size(v))", list(values)) == expected


def row(page, name: str):
    return page.locator("#file-list tr.entry.file", has=page.get_by_text(name, exact=True))


def test_shift_click_two_clips_configure_h265_mkv_and_submit(page, live_server, clip_folder):
    page.goto(live_server.url + "/files")
    expect(page.get_by_role("heading", name="Files")).to_be_visible()
    page.get_by_role("link", name="Clips").click()
    expect(page.locator(".breadcrumbs [aria-current=location]")).to_have_text("Clips")
    expect(page.locator("#file-list tr.entry.file")).to_have_count(3)
    row(page, "one.mp4").click()
    row(page, "three.mp4").click(modifiers=["Shift"])
    expect(page.locator("#selected-count")).to_have_text("2")
    expect(page.locator("#file-list tr.file.selected")).to_have_count(2)
    expect(row(page, "two.mp4")).not_to_have_class(re.compile("selected"))
    expect(row(page, "one.mp4").locator(".duration")).to_have_text("2s", timeout=15_000)
    # The size column shows each file's real size in decimal units, as the page renders it.
    expect(page.locator("#file-list thead th").nth(2)).to_have_text("Size")
    for name in ("one.mp4", "two.mp4", "three.mp4"):
        expect(row(page, name).locator("td:nth-child(3)")).to_have_text(
            human_size((clip_folder / "Clips" / name).stat().st_size)
        )
    screenshot(page, "files-selection")

    page.get_by_role("link", name="Configure…").click()
    expect(page).to_have_url(re.compile(r"/configure$"))
    expect(page.locator("#file-count")).to_have_text("2")
    page.reload()  # the selection lives on the server
    expect(page.locator("#file-count")).to_have_text("2")
    page.get_by_label("Start from a preset").select_option(label="H.265 MKV (default) (built in)")
    expect(page.get_by_label("Video codec")).to_have_value("libx265")
    expect(page.get_by_label("Container")).to_have_value("mkv")
    one = str(clip_folder / "Clips" / "one.mp4")
    expect(page.locator("#command-preview")).to_contain_text(f"-i {one}".replace(" ", " "), timeout=10_000)
    expect(page.locator("#command-preview")).to_contain_text("-c:v libx265")
    expect(page.locator("#command-preview")).to_contain_text(str(clip_folder / "Clips" / "one_converted.mkv"))
    screenshot(page, "configure-h265")

    page.get_by_role("button", name="Queue 2 jobs").click()
    expect(page).to_have_url(live_server.url + "/")
    paths = [str(clip_folder / "Clips" / n) for n in ("one.mp4", "three.mp4")]
    jobs = jobs_for(live_server, paths)
    assert sorted(j.input_path for j in jobs) == sorted(paths)
    for job in jobs:
        assert job.status == "queued"
        assert job.spec["video_codec"] == "libx265" and job.spec["container"] == "mkv"
        assert job.spec["crf"] == 22 and job.spec["preset"] == "slow" and job.output_path.endswith("_converted.mkv")
        assert job.argv is None  # written by the follower that runs it, not at creation
    assert not page.js_errors


def test_field_errors_live_preview_and_presets_in_the_browser(page, live_server, clip_folder):
    page.goto(live_server.url + f"/files?path={clip_folder / 'Clips'}")
    page.get_by_label("Select two.mp4").check()
    expect(page.locator("#selected-count")).to_have_text("1")
    page.get_by_role("link", name="Configure…").click()
    crf = page.get_by_label("Quality (CRF)")
    crf.fill("99")
    error = page.locator('[data-error-for="crf"]')
    expect(error).to_be_visible()
    expect(error).to_contain_text("between 0 and 63")
    expect(crf).to_have_attribute("aria-invalid", "true")
    crf.fill("24")
    expect(error).to_be_hidden()
    expect(page.locator("#command-preview")).to_contain_text("-crf 24")

    page.get_by_label("Custom FFmpeg arguments").check()
    expect(page.get_by_label("FFmpeg output options")).to_be_visible()
    expect(page.get_by_label("Video codec")).to_be_hidden()
    page.get_by_label("FFmpeg output options").fill("-c:v libx264 -crf 19 -c:a copy")
    expect(page.locator("#command-preview")).to_contain_text("-c:v libx264 -crf 19 -c:a copy")
    page.get_by_label("Basic settings").check()

    page.get_by_label("Preset name").fill("Small phone copy")
    page.get_by_label("Maximum height (pixels)").fill("480")
    page.get_by_role("button", name="Save as new preset").click()
    expect(page.locator("#preset-message")).to_have_text("Saved preset Small phone copy")
    picker = page.get_by_label("Start from a preset")
    expect(picker.locator("option:checked")).to_have_text("Small phone copy")
    page.get_by_label("Start from a preset").select_option(label="AV1 WebM (built in)")
    expect(page.get_by_label("Video codec")).to_have_value("libsvtav1")
    expect(page.get_by_label("Maximum height (pixels)")).to_have_value("")
    expect(page.get_by_role("button", name="Delete selected preset")).to_be_disabled()
    page.get_by_label("Start from a preset").select_option(label="Small phone copy")
    expect(page.get_by_label("Maximum height (pixels)")).to_have_value("480")
    page.get_by_label("Maximum height (pixels)").fill("360")
    page.get_by_label("Preset name").fill("Tiny phone copy")
    page.get_by_role("button", name="Update selected preset").click()
    expect(page.locator("#preset-message")).to_have_text("Updated preset Tiny phone copy")
    page.reload()
    page.get_by_label("Start from a preset").select_option(label="Tiny phone copy")
    expect(page.get_by_label("Maximum height (pixels)")).to_have_value("360")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete selected preset").click()
    expect(page.locator("#preset-message")).to_have_text("Deleted preset Tiny phone copy")
    expect(picker.locator("option", has_text="phone copy")).to_have_count(0)

    page.get_by_label("In one folder").check()
    page.get_by_label("Output folder").fill("/etc")
    expect(page.locator('[data-error-for="output_dir"]')).to_contain_text("outside the media folders")
    page.get_by_role("button", name="Queue 1 job").click()
    expect(page.locator('[data-error-for="output_dir"]')).to_contain_text("outside the media folders")
    expect(page.get_by_label("Output folder")).to_have_value("/etc")
    assert not jobs_for(live_server, [str(clip_folder / "Clips" / "two.mp4")])
    screenshot(page, "configure-field-error")
    assert not page.js_errors


def test_hostile_names_folder_selection_and_bad_paths(page, live_server, clip_folder):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(live_server.url + "/files")
    page.get_by_role("button", name="Clear selection").click()
    expect(page.locator("#selected-count")).to_have_text("0")
    for name in HOSTILE:
        expect(page.locator("#file-list .file-name", has_text=name)).to_have_count(1)
    page.get_by_label(f"Select {HOSTILE[0]}").check()
    page.get_by_label(f"Select {HOSTILE[1]}").check()
    expect(page.locator("#selected-count")).to_have_text("2")
    page.get_by_role("button", name="Select the videos in Clips").click()
    expect(page.locator("#selected-count")).to_have_text("5")
    page.get_by_label("Search this folder").fill("映画")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#file-list tr.entry")).to_have_count(1)
    page.get_by_label("Select every video on this page").check()
    expect(page.locator("#selected-count")).to_have_text("6")
    page.get_by_label("Search this folder").fill("")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_label("Select every video on this page")).to_be_checked()  # all three root files
    page.get_by_label(f"Select {HOSTILE[1]}").uncheck()
    expect(page.locator("#selected-count")).to_have_text("5")
    expect(page.get_by_label("Select every video on this page")).to_have_js_property("indeterminate", True)
    page.get_by_label(f"Select {HOSTILE[1]}").check()
    expect(page.locator("#selected-count")).to_have_text("6")
    page.get_by_role("link", name="Configure…").click()
    expect(page.locator("#selected-files li")).to_have_count(6)
    expect(page.locator("#selected-files")).to_contain_text(HOSTILE[0])
    assert not dialogs and not page.js_errors

    page.goto(live_server.url + "/files?path=../../etc")
    expect(page.locator("#files-message")).to_contain_text("outside the media folders")
    expect(page.locator("body")).not_to_contain_text("Traceback")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(live_server.url + "/files?path=" + str(clip_folder / "Clips"))
    screenshot(page, "files-phone")
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("link", name="Configure…").click()
    expect(page.locator("#command-preview")).to_contain_text("ffmpeg")
    screenshot(page, "configure-dark")


def test_with_login_on_the_pages_send_their_csrf_token(browser, tmp_path, redis_server, clip_folder):
    """Selection changes, the preview, presets and the submit all pass the login guard's CSRF check."""
    from app import create_app
    from tests.conftest import TOKEN
    from tests.support import LiveServer

    flask_app = create_app(
        {
            "FRAME_SHIFT_HOME": str(clip_folder),
            "DATA_DIR": str(tmp_path / "data"),
            "REDIS_URL": redis_server.url,
            "SHARED_TOKEN": TOKEN,
            "FRAME_SHIFT_ADMIN_PASSWORD": "correct horse battery",
        }
    )
    server = LiveServer(flask_app).start()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server.url + "/files?path=" + str(clip_folder / "Clips"))
        expect(page).to_have_url(re.compile(r"/login"))
        page.get_by_label("User name").fill("admin")
        page.get_by_label("Password").fill("correct horse battery")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Files")).to_be_visible()
        page.get_by_label("Select two.mp4").check()
        expect(page.locator("#selected-count")).to_have_text("1")
        page.get_by_role("link", name="Configure…").click()
        expect(page.locator("#command-preview")).to_contain_text("two_converted.mkv")
        page.get_by_label("Preset name").fill("Signed in preset")
        page.get_by_role("button", name="Save as new preset").click()
        expect(page.locator("#preset-message")).to_have_text("Saved preset Signed in preset")
        page.get_by_role("button", name="Queue 1 job").click()
        expect(page).to_have_url(server.url + "/")
        assert [j.spec["container"] for j in jobs_for(server, [str(clip_folder / "Clips" / "two.mp4")])] == ["mkv"]
    finally:
        context.close()
        server.stop()
        from app.extensions import db

        with flask_app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_keyboard_only_selection_with_a_shift_space_range(page, live_server, clip_folder):
    page.goto(live_server.url + "/files?path=" + str(clip_folder / "Clips"))
    page.get_by_label("Select one.mp4").focus()
    page.keyboard.press("Space")
    expect(page.locator("#selected-count")).to_have_text("1")
    page.keyboard.press("Tab")  # focus moves to the next row's checkbox
    page.keyboard.press("Tab")
    expect(page.get_by_label("Select two.mp4")).to_be_focused()
    page.keyboard.press("Shift+Space")
    expect(page.locator("#selected-count")).to_have_text("3")
    expect(page.locator("#file-list tr.file.selected")).to_have_count(3)
    page.get_by_role("link", name="Configure…").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#file-count")).to_have_text("3")
    assert not page.js_errors
