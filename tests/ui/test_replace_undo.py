"""Undo a library's replacement from the job page in real Chromium: the UI stack's monitor and follower replace
an original (output policy replace), the page shows where the original waits, the button brings it back."""

from __future__ import annotations

import os
import shutil
import time

from playwright.sync_api import expect
from sqlalchemy import select

from tests.support import wait_for
from tests.ui.conftest import shot

SMALL = {
    "video_codec": "libx264",
    "bit_depth": 8,
    "crf": 45,
    "preset": "ultrafast",
    "audio_quality": "low",
    "container": "mkv",
}


def test_the_job_page_undoes_a_replacement(page, api, ui_media, live_server):
    from app.extensions import db
    from app.models.library import LibraryFile

    folder = ui_media["root"] / "Library replace undo"
    folder.mkdir()
    original = folder / "forest.mp4"
    shutil.copy(ui_media["forest"], original)
    old = time.time() - 3600  # already old: taken without the stack's 60 s hold time
    os.utime(original, (old, old))
    before = original.read_bytes()
    library = api.post(
        "/api/libraries",
        {
            "name": "Replace undo",
            "folder": str(folder),
            "spec": SMALL,
            "rules": {"skip_matching": False},
            "output_policy": "replace",
            "watch": "none",
        },
        status=201,
    )
    try:
        with live_server.app.app_context():

            def replaced():
                db.session.expire_all()
                row = db.session.execute(select(LibraryFile).where(LibraryFile.library_id == library["id"])).scalar()
                return row is not None and row.path.endswith("forest.mkv") and row

            row = wait_for(replaced, 180, 0.5, what="the original to be replaced")
            job_id = row.job_id
        page.goto(f"/jobs/{job_id}")
        box = page.locator("#replacement")
        expect(box.locator('[data-field="replacement_state"]')).to_have_text("replaced")
        expect(box).to_contain_text(".frameshift-recycle")
        shot(page, "job-replaced")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Undo: put the original back").click()
        expect(box.locator('[data-field="replacement_state"]')).to_have_text("undone")
        expect(box).to_contain_text("forest_converted.mkv")
        expect(page.get_by_role("button", name="Undo: put the original back")).to_have_count(0)
        shot(page, "job-replacement-undone")
        assert original.read_bytes() == before and not (folder / "forest.mkv").exists()
        assert (folder / "forest_converted.mkv").is_file()
    finally:
        live_server.app.test_client().delete(f"/api/libraries/{library['id']}")
        shutil.rmtree(folder, ignore_errors=True)
