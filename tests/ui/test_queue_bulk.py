"""The queue's bulk actions, each confirmed with its count, and the "Hide finished" toggle, in real Chromium."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.ui.conftest import shot


def seed(live_server, path: str, status: str, count: int, tag: str) -> list[int]:
    from app.extensions import db
    from app.models import Job

    with live_server.app.app_context():
        rows = [
            Job(
                name=f"{tag}-{n}.mp4",
                input_path=path,
                output_path=f"{path}.{tag}-{n}.mkv",
                spec={"video_codec": "libx264", "container": "mkv"},
                status=status,
                error="boom" if status == "failed" else None,
            )
            for n in range(count)
        ]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def test_bulk_actions_confirm_with_their_counts_and_hide_finished_is_remembered(page, api, live_server, ui_media):
    api.post("/api/queue/pause")  # retried jobs stay waiting: nothing here should really encode
    try:
        failed = seed(live_server, str(ui_media["forest"]), "failed", 3, "bulkfail")
        done = seed(live_server, str(ui_media["forest"]), "succeeded", 2, "bulkdone")
        dialogs: list[str] = []
        answer = {"accept": False}
        page.on("dialog", lambda d: (dialogs.append(d.message), d.accept() if answer["accept"] else d.dismiss()))
        page.goto("/")
        counts = api.get("/api/jobs?per_page=1")["counts"]

        page.get_by_role("button", name="Retry all failed").click()  # dismissed: nothing changes
        page.wait_for_function(
            "() => !document.querySelector('[data-bulk=\"retry-failed\"]').hasAttribute('aria-disabled')"
        )
        assert {api.job(i)["status"] for i in failed} == {"failed"}
        answer["accept"] = True
        page.get_by_role("button", name="Retry all failed").click()
        expect(page.locator("#flash")).to_contain_text(f"Queued {counts['failed']} failed jobs again.")
        assert dialogs[:2] == [f"Queue {counts['failed']} failed jobs again?"] * 2
        assert {api.job(i)["status"] for i in failed} == {"queued"}

        counts = api.get("/api/jobs?per_page=1")["counts"]
        running = counts["dispatched"] + counts["running"]
        page.get_by_role("button", name="Cancel all").click()
        expect(page.locator("#flash")).to_contain_text(f"Cancelled {counts['queued']} waiting jobs")
        assert (
            dialogs[-1]
            == f"Cancel {counts['queued']} waiting jobs and stop {running} running job{'' if running == 1 else 's'}?"
        )
        assert {api.job(i)["status"] for i in failed} == {"cancelled"}
        expect(page.locator(f'li.job[data-job-id="{failed[0]}"]')).to_have_attribute("data-status", "cancelled")

        # Hide finished: gone from the list at once, and still hidden after a reload (localStorage).
        page.get_by_label("Hide finished").check()
        expect(page.locator(f'li.job[data-job-id="{done[0]}"]')).to_have_count(0)
        page.reload()
        expect(page.get_by_label("Hide finished")).to_be_checked()
        expect(page.locator(f'li.job[data-job-id="{done[0]}"]')).to_have_count(0)
        expect(page.locator("li.job.status-succeeded, li.job.status-cancelled, li.job.status-failed")).to_have_count(0)
        shot(page, "queue-hide-finished")
        page.get_by_label("Hide finished").uncheck()
        expect(page.locator(f'li.job[data-job-id="{done[0]}"]')).to_be_visible()

        counts = api.get("/api/jobs?per_page=1")["counts"]
        finished = counts["succeeded"] + counts["failed"] + counts["cancelled"]
        page.get_by_role("button", name="Clear finished").click()
        expect(page.locator("#flash")).to_contain_text(re.compile(rf"Removed {finished} finished jobs"))
        assert dialogs[-1].startswith(f"Remove {finished} finished jobs from the list ({counts['succeeded']} succeeded")
        expect(page.locator(f'li.job[data-job-id="{done[0]}"]')).to_have_count(0)
        shot(page, "queue-bulk")
        # Nothing left to act on: no question, a plain note.
        asked = len(dialogs)
        page.get_by_role("button", name="Retry all failed").click()
        expect(page.locator("#flash")).to_contain_text("No failed job to retry.")
        assert len(dialogs) == asked and page.js_errors == []
    finally:
        api.post("/api/queue/resume")
