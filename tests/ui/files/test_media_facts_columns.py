"""The Files page in Chromium: codec, resolution and bitrate from a library's probe, in the page and in tree rows."""

from __future__ import annotations

from playwright.sync_api import expect

from app.extensions import db
from app.models.library import MediaFacts
from tests.ui.files.conftest import screenshot


def test_codec_resolution_and_bitrate_columns_in_the_page_and_in_an_expanded_folder(page, live_server, clip_folder):
    clip = clip_folder / "Clips" / "one.mp4"
    st = clip.stat()
    with live_server.app.app_context():
        db.session.add(
            MediaFacts(
                path=str(clip),
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
                container="mov,mp4,m4a,3gp,3g2,mj2",
                video_codec="h264",
                bit_depth=8,
                width=160,
                height=120,
                duration=2.0,
                bitrate=123_456,
            )
        )
        db.session.commit()
    try:
        page.goto(live_server.url + "/files?path=" + str(clip_folder / "Clips"))
        one = page.locator("#file-list tr.entry.file", has=page.locator(".file-name", has_text="one.mp4"))
        expect(one.locator("td.codec")).to_have_text("h264")
        expect(one.locator("td.resolution")).to_have_text("160×120")
        expect(one.locator("td.bitrate")).to_have_text("123 kb/s")
        two = page.locator("#file-list tr.entry.file", has=page.locator(".file-name", has_text="two.mp4"))
        expect(two.locator("td.codec")).to_have_text("")  # never probed: blank, and nothing probes it now
        screenshot(page, "files-media-facts")

        page.goto(live_server.url + "/files")
        page.get_by_role("button", name="Show what is in Clips here").click()
        nested = page.locator("#file-list tr[data-depth='1']", has=page.locator(".file-name", has_text="one.mp4"))
        expect(nested.locator("td.codec")).to_have_text("h264")
        expect(nested.locator("td.resolution")).to_have_text("160×120")
        expect(nested.locator("td.bitrate")).to_have_text("123 kb/s")
        assert nested.locator("td").count() == page.locator("#file-list thead th").count()
        assert not page.js_errors
    finally:
        with live_server.app.app_context():
            db.session.delete(db.session.get(MediaFacts, str(clip)))
            db.session.commit()
