"""Natural order, name patterns, the hidden and converted filters, and the search of every subfolder."""

from __future__ import annotations

import os

import pytest

from app.services import folder_scan
from app.services.errors import ServiceError
from app.services.file_filters import name_matcher, natural_key, shown
from app.services.file_search import search_tree
from app.services.files import list_folder
from tests.app.files.conftest import touch


def names(listing) -> list[str]:
    return [e.name for e in listing.entries]


@pytest.fixture(autouse=True)
def fresh_caches():
    folder_scan._order_cache.clear()
    folder_scan._stat_cache.clear()


def test_natural_key_orders_numbers_as_numbers():
    given = ["clip30.mp4", "Clip5.mp4", "clip100.mp4", "clip5b.mp4", "clip05.mp4", "alpha.mkv", "clip.mp4"]
    assert sorted(given, key=lambda n: (natural_key(n), n)) == [
        "alpha.mkv",
        "clip.mp4",
        "Clip5.mp4",
        "clip05.mp4",
        "clip5b.mp4",
        "clip30.mp4",
        "clip100.mp4",
    ]


def test_the_listing_sorts_names_naturally_and_pages_by_cursor_in_that_order(tmp_path):
    for n in (1, 2, 5, 10, 30, 100):
        touch(tmp_path / f"clip{n}.mp4")
    for n in (3, 20):
        (tmp_path / f"Season {n}").mkdir()
    listing = list_folder(None, [tmp_path])
    assert names(listing) == [
        "Season 3",
        "Season 20",
        "clip1.mp4",
        "clip2.mp4",
        "clip5.mp4",
        "clip10.mp4",
        "clip30.mp4",
        "clip100.mp4",
    ]
    assert names(list_folder(None, [tmp_path], order="desc"))[:3] == ["Season 20", "Season 3", "clip100.mp4"]
    first = list_folder(None, [tmp_path], limit=4)
    rest = list_folder(None, [tmp_path], limit=100, cursor=first.next_cursor)
    assert names(first) + names(rest) == names(listing)


def test_patterns_match_whole_names_and_plain_text_any_part():
    assert name_matcher("*.MKV")("Movie.mkv") and not name_matcher("*.mkv")("movie.mkv.part")
    assert name_matcher("clip?.mp4")("clip5.mp4") and not name_matcher("clip?.mp4")("clip30.mp4")
    assert name_matcher("[1080p]*")("[1080p] film.mkv") and not name_matcher("[1080p]*")("1 film.mkv")
    assert name_matcher("ovi")("Movie.mkv") and not name_matcher("xyz")("Movie.mkv")


def test_show_hidden_lists_dotfiles_but_never_frameshift_private_folders(media):
    touch(media / ".Movie.frameshift-abcd1234" / "output.mkv")
    assert not [n for n in names(list_folder(None, [media])) if n.startswith(".")]
    with_hidden = names(list_folder(None, [media], show_hidden=True))
    assert ".b movie.frameshift-1.mkv" not in with_hidden and ".Movie.frameshift-abcd1234" not in with_hidden
    assert names(list_folder(str(media / "Shows"), [media], show_hidden=True)) == [".hidden", "Season 2", "s01e01.mkv"]
    assert shown(".hidden", True) and not shown(".hidden", False) and not shown(".x.frameshift-1", True)


def test_hide_converted_leaves_out_outputs_and_their_sources(files_app, media):
    with files_app.app_context():
        assert names(list_folder(None, [media], hide_converted=True)) == [
            "empty",
            "Shows",
            "A clip.mp4",
            "b movie.mkv",
            "notes.txt",
        ]
        shows = str(media / "Shows" / "Season 2")
        assert names(list_folder(shows, [media], hide_converted=True)) == ["cover.jpg"]


def test_hide_converted_also_leaves_out_sources_a_job_converted_elsewhere(files_app, media):
    from app.extensions import db
    from app.models import Job

    with files_app.app_context():
        source = str(media / "b movie.mkv")
        db.session.add(
            Job(name="b movie.mkv", input_path=source, output_path="/elsewhere/x.mkv", spec={}, status="succeeded")
        )
        db.session.commit()
        listing = list_folder(None, [media], hide_converted=True)
        assert names(listing) == ["empty", "Shows", "A clip.mp4", "notes.txt"] and listing.video_count == 1
        deep = search_tree(None, [media], "*.mkv", hide_converted=True)
        assert names(deep) == [os.path.join("Shows", "s01e01.mkv")]


def test_search_every_subfolder_with_a_pattern(files_app, media):
    with files_app.app_context():
        listing = search_tree(None, [media], "*.mkv")
    assert names(listing) == [
        "b movie.mkv",
        "c_converted.mkv",
        os.path.join("Shows", "s01e01.mkv"),
        os.path.join("Shows", "Season 2", "s02e01_converted.mkv"),
    ]
    assert listing.deep and listing.truncated is None and listing.entries[2].path == str(media / "Shows" / "s01e01.mkv")
    assert [e.output for e in listing.entries] == [False, True, False, True]
    season = search_tree(None, [media], "season")
    assert [(e.name, e.is_dir) for e in season.entries] == [(os.path.join("Shows", "Season 2"), True)]
    assert names(search_tree(None, [media], "secret", show_hidden=True)) == [
        os.path.join("Shows", ".hidden", "secret.mkv")
    ]
    assert names(search_tree(None, [media], "secret")) == []


def test_search_stops_after_the_limit_and_says_so(tmp_path):
    for n in range(30):
        touch(tmp_path / f"d{n % 3}" / f"clip{n}.mp4")
    listing = search_tree(None, [tmp_path], "clip*", limit=10)
    assert len(listing.entries) == 10 and "first 10 matches" in listing.truncated
    assert "looking at 5" in search_tree(None, [tmp_path], "clip*", max_visited=5).truncated
    assert len(search_tree(None, [tmp_path], "clip*").entries) == 30


def test_search_never_leaves_the_media_roots(tmp_path):
    root, outside = tmp_path / "media", tmp_path / "outside"
    touch(root / "in.mkv")
    touch(outside / "secret.mkv")
    (root / "link-dir").symlink_to(outside, target_is_directory=True)
    (root / "link-file.mkv").symlink_to(outside / "secret.mkv")
    inner = root / "sub"
    inner.mkdir()
    (inner / "up").symlink_to(root, target_is_directory=True)  # a loop back up: not followed
    found = names(search_tree(None, [root], "*"))
    assert "in.mkv" in found and "link-file.mkv" not in found and "secret.mkv" not in " ".join(found)
    assert "link-dir" not in found
    for bad in ("/etc", str(outside), str(root / ".." / "outside")):
        with pytest.raises(ServiceError):
            search_tree(bad, [root], "*")


def test_the_api_searches_every_subfolder_and_validates_its_flags(files_client, media):
    data = files_client.get("/api/files", query_string={"q": "s0?e01*", "deep": "1"}).get_json()
    assert data["deep"] is True and [e["name"] for e in data["entries"]] == [
        os.path.join("Shows", "s01e01.mkv"),
        os.path.join("Shows", "Season 2", "s02e01.mp4"),
        os.path.join("Shows", "Season 2", "s02e01_converted.mkv"),
    ]
    page = files_client.get("/files", query_string={"q": "*.mkv", "deep": "1", "hide_converted": "1"})
    assert page.status_code == 200 and b"s01e01.mkv" in page.data and b"c_converted.mkv" not in page.data
    bad = files_client.get("/api/files", query_string={"hidden": "maybe"})
    assert bad.status_code == 400 and bad.get_json()["field"] == "hidden"
