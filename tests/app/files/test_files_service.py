"""The file browser's listing rules on real folders: order, filters, search, cursors, the jail, selection."""

from __future__ import annotations

import os

import pytest

from app.services import folder_scan
from app.services.errors import ServiceError
from app.services.files import list_folder
from app.services.selection import videos_under
from tests.app.files.conftest import touch


def names(listing) -> list[str]:
    return [e.name for e in listing.entries]


def test_folders_first_then_files_by_name_case_insensitive(media):
    listing = list_folder(None, [media])
    assert names(listing) == ["empty", "Shows", "A clip.mp4", "b movie.mkv", "c.avi", "c_converted.mkv", "notes.txt"]
    assert listing.folder == media and listing.crumbs == [(media.name, str(media))]
    assert names(list_folder(None, [media], order="desc"))[:3] == ["Shows", "empty", "notes.txt"]


def test_sort_by_size_and_date_both_ways(media):
    folder_scan._stat_cache.clear()
    folder_scan._order_cache.clear()
    by_size = names(list_folder(None, [media], sort="size"))
    assert by_size[2:] == ["notes.txt", "c_converted.mkv", "A clip.mp4", "c.avi", "b movie.mkv"]
    assert names(list_folder(None, [media], sort="size", order="desc"))[2:] == by_size[2:][::-1]
    by_date = names(list_folder(None, [media], sort="date"))
    assert by_date[2:] == ["notes.txt", "c.avi", "A clip.mp4", "b movie.mkv", "c_converted.mkv"]
    assert names(list_folder(None, [media], sort="date", order="desc"))[2:] == by_date[2:][::-1]


def test_hidden_files_never_show(media):
    assert not [n for n in names(list_folder(None, [media])) if n.startswith(".")]
    assert names(list_folder(str(media / "Shows"), [media])) == ["Season 2", "s01e01.mkv"]


def test_video_filter_and_search(media):
    assert names(list_folder(None, [media], videos_only=True)) == [
        "empty",
        "Shows",
        "A clip.mp4",
        "b movie.mkv",
        "c.avi",
        "c_converted.mkv",
    ]
    assert names(list_folder(None, [media], search="  MOVIE ")) == ["b movie.mkv"]
    listing = list_folder(None, [media], search="c", videos_only=True)
    assert names(listing) == ["A clip.mp4", "c.avi", "c_converted.mkv"] and listing.total == 3


def test_unicode_and_hostile_names_list_and_search(media):
    for name in ("ünïcödé 映画.mov", "-rf 'x\".mkv", "<b>bold</b>.mp4".replace("/", "")):
        touch(media / name)
    assert "ünïcödé 映画.mov" in names(list_folder(None, [media], search="映画"))
    assert names(list_folder(None, [media], search="-rf")) == ["-rf 'x\".mkv"]


def test_converted_output_beside_the_source_is_marked(media):
    marks = {e.name: e.converted for e in list_folder(None, [media]).entries}
    assert marks["c.avi"] is True
    assert marks["A clip.mp4"] is False and marks["b movie.mkv"] is False
    assert marks["c_converted.mkv"] is False  # the output itself is not "already converted"
    season = {e.name: e.converted for e in list_folder(str(media / "Shows" / "Season 2"), [media]).entries}
    assert season["s02e01.mp4"] is True


@pytest.mark.parametrize("bad", ["/etc", "../../..", "Shows/../../..", "/", "nope", "notes.txt", "a\x00b"])
def test_paths_outside_the_roots_or_wrong_are_refused(media, bad):
    with pytest.raises(ServiceError) as caught:
        list_folder(bad, [media])
    assert caught.value.field == "path" and "Traceback" not in caught.value.message


def test_symlinks_leading_outside_are_hidden_and_refused(media, tmp_path):
    outside = tmp_path / "outside"
    touch(outside / "secret.mkv")
    (media / "escape").symlink_to(outside)
    (media / "escape.mkv").symlink_to(outside / "secret.mkv")
    (media / "inside link").symlink_to(media / "Shows")
    shown = names(list_folder(None, [media]))
    assert "escape" not in shown and "escape.mkv" not in shown and "inside link" in shown
    with pytest.raises(ServiceError, match="outside the media folders"):
        list_folder(str(media / "escape"), [media])
    assert str(outside / "secret.mkv") not in videos_under(str(media), [media], 100)


def test_recursive_folder_selection_finds_videos_only(media):
    found = videos_under(str(media / "Shows"), [media], 100)
    assert found == [str(media / "Shows" / "s01e01.mkv"), str(media / "Shows" / "Season 2" / "s02e01.mp4")]
    everything = videos_under(str(media), [media], 100)
    assert str(media / "c_converted.mkv") not in everything and str(media / "notes.txt") not in everything
    assert len(everything) == 5
    with pytest.raises(ServiceError, match="more than 2 videos"):
        videos_under(str(media), [media], 2)
    with pytest.raises(ServiceError, match="outside"):
        videos_under("/etc", [media], 100)


def test_bad_sort_order_and_cursor_are_clear_errors(media):
    for kwargs, field in (({"sort": "colour"}, "sort"), ({"order": "up"}, "order"), ({"cursor": "%%%"}, "cursor")):
        with pytest.raises(ServiceError) as caught:
            list_folder(None, [media], **kwargs)
        assert caught.value.field == field
    cursor = list_folder(None, [media], limit=2).next_cursor
    with pytest.raises(ServiceError, match="another sort"):
        list_folder(None, [media], sort="size", cursor=cursor)


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory):
    """10,000 files plus a few folders."""
    root = tmp_path_factory.mktemp("big")
    for i in range(10_000):
        (root / f"clip {i:05d}.mp4").write_bytes(b"\0" * (i % 97))
    for name in ("dir a", "dir b"):
        (root / name).mkdir()
    return root


@pytest.mark.parametrize("sort,order", [("name", "asc"), ("name", "desc"), ("size", "asc"), ("date", "desc")])
def test_ten_thousand_files_page_through_by_cursor_exactly_once(big_folder, sort, order):
    seen, cursor, pages = [], None, 0
    while True:
        listing = list_folder(str(big_folder), [big_folder], sort=sort, order=order, cursor=cursor, limit=500)
        assert listing.total == 10_002 and len(listing.entries) <= 500
        seen += names(listing)
        pages += 1
        cursor = listing.next_cursor
        if cursor is None:
            break
    assert pages == 21 and len(seen) == 10_002 and len(set(seen)) == 10_002
    assert seen[:2] == (["dir a", "dir b"] if order == "asc" else ["dir b", "dir a"])
    if sort == "size":
        sizes = [os.stat(big_folder / n).st_size for n in seen[2:]]
        assert sizes == sorted(sizes)


def test_a_cursor_survives_files_appearing_before_it(media):
    first = list_folder(None, [media], limit=3)
    touch(media / "0 new first.mkv")
    rest = list_folder(None, [media], cursor=first.next_cursor, limit=100)
    assert names(first) + names(rest) == [
        "empty",
        "Shows",
        "A clip.mp4",
        "b movie.mkv",
        "c.avi",
        "c_converted.mkv",
        "notes.txt",
    ]
