"""The file picker's search of every subfolder, the tree, natural order and the filters, in headless Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.app.files.conftest import make_app, touch
from tests.support import LiveServer
from tests.ui.files.conftest import screenshot


@pytest.fixture(scope="module")
def picker_media(tmp_path_factory):
    root = tmp_path_factory.mktemp("picker-media")
    for n in (1, 2, 10, 30):
        touch(root / "Show" / f"clip{n}.mp4", 1000 * n)
    touch(root / "Show" / "clip5.mkv", 500)
    touch(root / "Show" / "clip5_converted.mkv", 400)
    touch(root / "Show" / "Extras" / "deep clip7.mkv", 70)
    touch(root / "Show" / ".hidden note.txt", 1)
    touch(root / "Show" / ".clip1.frameshift-abcd" / "output.mkv", 1)
    touch(root / "top.mkv", 5)
    return root


@pytest.fixture(scope="module")
def picker_server(tmp_path_factory, picker_media, redis_server):
    server = LiveServer(make_app(picker_media, tmp_path_factory.mktemp("picker-data"), redis_server.url)).start()
    yield server
    server.stop()


def file_names(page) -> list[str]:
    return page.locator("#file-list tr.entry.file .file-name").all_inner_texts()


def test_natural_order_filters_and_a_search_of_every_subfolder(page, picker_server, picker_media):
    page.goto(picker_server.url + "/files?path=" + str(picker_media / "Show"))
    expect(page.locator("#file-list tr.entry.file")).to_have_count(6)
    assert file_names(page) == [
        "clip1.mp4",
        "clip2.mp4",
        "clip5.mkv",
        "clip5_converted.mkv",
        "clip10.mp4",
        "clip30.mp4",
    ]
    page.get_by_label("Hide converted").check()
    page.get_by_label("Show hidden").check()
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#file-list tr.entry.file")).to_have_count(5)
    names = file_names(page)
    assert names == [".hidden note.txt", "clip1.mp4", "clip2.mp4", "clip10.mp4", "clip30.mp4"]
    assert not [n for n in page.locator("#file-list tr").all_inner_texts() if "frameshift" in n]

    page.goto(picker_server.url + "/files")
    page.get_by_label("Search this folder").fill("*clip?.mkv")
    page.get_by_label("All subfolders").check()
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".files-summary")).to_contain_text("in this folder and every folder below")
    assert file_names(page) == ["Show/clip5.mkv", "Show/Extras/deep clip7.mkv"]
    # The results are selectable like any row.
    page.locator("#file-list tr.entry.file", has_text="deep clip7.mkv").click()
    expect(page.locator("#selected-count")).to_have_text("1")
    screenshot(page, "files-search-subfolders")
    assert page.js_errors == []


def test_a_search_that_hits_its_limit_says_so(page, picker_server, picker_media, monkeypatch):
    from app.services import file_search

    monkeypatch.setattr(file_search, "SEARCH_LIMIT", 3)
    page.goto(picker_server.url + "/files?q=clip*&deep=1")
    expect(page.locator("#search-truncated")).to_contain_text("showing the first 3 matches")
    expect(page.locator("#file-list tr.entry")).to_have_count(3)


def test_folders_expand_in_place_as_a_tree(page, picker_server, picker_media):
    page.goto(picker_server.url + "/files")
    show = page.locator("#file-list tr.entry.dir", has_text="Show")
    show.get_by_role("button", name="Show what is in Show here").click()
    extras = page.locator("#file-list tr.entry.dir", has_text="Extras")
    expect(extras).to_have_attribute("data-depth", "1")
    # Children sit right under their folder, in natural order, before the root's own files.
    expect(page.locator("#file-list tr.entry.file .file-name")).to_have_text(
        ["clip1.mp4", "clip2.mp4", "clip5.mkv", "clip5_converted.mkv", "clip10.mp4", "clip30.mp4", "top.mkv"]
    )
    extras.get_by_role("button", name="Show what is in Extras here").click()
    deep = page.locator("#file-list tr.entry.file", has_text="deep clip7.mkv")
    expect(deep).to_have_attribute("data-depth", "2")
    deep.click()  # selecting works on rows the tree added
    expect(page.locator("#selected-count")).to_have_text("1")
    extras.locator("button.select-dir").click()
    expect(page.locator("#files-message")).to_contain_text("videos in")
    screenshot(page, "files-tree")
    show.get_by_role("button", name="Show what is in Show here").click()
    expect(page.locator("#file-list tr.entry.file .file-name")).to_have_text(["top.mkv"])
    expect(show.locator("button.tree-toggle")).to_have_attribute("aria-expanded", "false")
    assert page.js_errors == []
