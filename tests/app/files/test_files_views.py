"""The Files page and its JSON endpoints over a real database: errors in the page, selection, durations."""

from __future__ import annotations

import os
import re

import pytest

from tests.app.files.conftest import HOSTILE, touch
from tests.media import make_clip


def alerts(html: str) -> str:
    match = re.search(r'id="files-message"[^>]*>(.*?)</p>', html, re.S)
    return match.group(1).strip() if match else ""


def test_files_page_lists_the_home_folder_with_marks(files_client, media):
    html = files_client.get("/files").get_data(as_text=True)
    assert 'aria-current="location">media<' in html
    rows = re.findall(r'<tr class="entry (dir|file)[^"]*" data-kind="\w+" data-path="([^"]+)"', html)
    assert [os.path.basename(p) for _, p in rows][:3] == ["empty", "Shows", "A clip.mp4"]
    c_row = re.search(r'data-path="[^"]*/c\.avi".*?</tr>', html, re.S).group(0)
    assert "converted</span>" in c_row


def test_bad_paths_show_a_message_in_the_page_not_a_trace(files_client):
    for path, status, words in (
        ("/etc", 400, "outside the media folders"),
        ("../../../etc", 400, "outside"),
        ("nope", 404, "does not exist"),
        ("notes.txt", 400, "is not a folder"),
    ):
        response = files_client.get("/files", query_string={"path": path})
        html = response.get_data(as_text=True)
        assert response.status_code == status, path
        assert words in alerts(html) and "Traceback" not in html
    response = files_client.get("/files?sort=colour")
    assert response.status_code == 400 and "sort: use one of name, size, date" in alerts(
        response.get_data(as_text=True)
    )
    bad = files_client.get("/api/files?cursor=zzz")
    assert bad.status_code == 400 and bad.get_json()["field"] == "cursor"


def test_hostile_names_are_escaped_and_selectable(files_client, media):
    for name in HOSTILE:
        touch(media / name)
    html = files_client.get("/files").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;.mp4" in html
    listed = {e["name"]: e["path"] for e in files_client.get("/api/files").get_json()["entries"]}
    paths = [listed[name] for name in HOSTILE]
    answer = files_client.post("/api/files/selection", json={"add": paths})
    assert answer.status_code == 200 and answer.get_json()["count"] == 3
    assert files_client.get("/api/files/selection").get_json()["paths"] == paths


@pytest.mark.both_databases
def test_selection_is_kept_per_session_and_checked(files_client, files_app, media):
    client = files_client
    assert client.post("/api/files/selection", json={"add": [str(media / "c.avi")]}).get_json()["count"] == 1
    folder = client.post("/api/files/selection", json={"folders": [str(media / "Shows")]}).get_json()
    assert folder["count"] == 3 and str(media / "Shows" / "Season 2" / "s02e01.mp4") in folder["paths"]
    html = client.get("/files").get_data(as_text=True)
    assert re.search(r'class="entry file selected"[^>]*data-path="[^"]*/c\.avi"', html)
    assert '<strong id="selected-count">3</strong>' in html
    removed = client.post("/api/files/selection", json={"remove": [str(media / "c.avi")]}).get_json()
    assert removed["count"] == 2
    other = files_app.test_client()
    assert other.get("/api/files/selection").get_json()["count"] == 0
    for body, words in (
        ({"add": ["/etc/passwd"]}, "outside the media folders"),
        ({"add": [str(media / "Shows")]}, "is not a file"),
        ({"folders": ["../.."]}, "outside"),
        ({"add": "c.avi"}, "give a list"),
    ):
        answer = client.post("/api/files/selection", json=body)
        assert answer.status_code == 400 and words in answer.get_json()["error"]
    assert client.post("/api/files/selection", json={"clear": True}).get_json()["count"] == 0


@pytest.mark.both_databases
def test_durations_are_probed_once_and_cached_by_size_and_mtime(files_client, files_app, media):
    clip = make_clip(media / "real.mp4", seconds=2)
    before = next(e for e in files_client.get("/api/files").get_json()["entries"] if e["name"] == "real.mp4")
    assert before["duration"] is None
    answer = files_client.post("/api/files/durations", json={"paths": [str(clip), str(media / "c.avi")]})
    durations = answer.get_json()["durations"]
    assert abs(durations[str(clip)] - 2.0) < 0.2 and durations[str(media / "c.avi")] is None
    after = next(e for e in files_client.get("/api/files").get_json()["entries"] if e["name"] == "real.mp4")
    assert abs(after["duration"] - 2.0) < 0.2
    from app.extensions import db
    from app.models import MediaProbe

    with files_app.app_context():
        assert db.session.get(MediaProbe, str(media / "c.avi")).error
    make_clip(clip, seconds=1)  # replaced: new size and mtime, so the cached value no longer applies
    stale = next(e for e in files_client.get("/api/files").get_json()["entries"] if e["name"] == "real.mp4")
    assert stale["duration"] is None
    refreshed = files_client.post("/api/files/durations", json={"paths": [str(clip)]}).get_json()["durations"]
    assert abs(refreshed[str(clip)] - 1.0) < 0.2
    refused = files_client.post("/api/files/durations", json={"paths": ["/etc/passwd"]})
    assert refused.status_code == 400 and "outside" in refused.get_json()["error"]


@pytest.mark.both_databases
def test_a_succeeded_job_marks_its_input_as_converted(files_client, files_app, media):
    from app.extensions import db
    from app.models import Job

    with files_app.app_context():
        db.session.add(
            Job(
                name="b movie.mkv", input_path=str(media / "b movie.mkv"), output_path="/x", spec={}, status="succeeded"
            )
        )
        db.session.add(
            Job(name="A clip.mp4", input_path=str(media / "A clip.mp4"), output_path="/y", spec={}, status="failed")
        )
        db.session.commit()
    marks = {e["name"]: e["converted"] for e in files_client.get("/api/files").get_json()["entries"]}
    assert marks["b movie.mkv"] is True and marks["A clip.mp4"] is False


def test_api_listing_pages_with_a_cursor(files_client):
    first = files_client.get("/api/files?limit=3").get_json()
    second = files_client.get(f"/api/files?limit=3&cursor={first['next_cursor']}").get_json()
    assert [e["name"] for e in first["entries"]] == ["empty", "Shows", "A clip.mp4"]
    assert [e["name"] for e in second["entries"]] == ["b movie.mkv", "c.avi", "c_converted.mkv"]
    assert [e["output"] for e in second["entries"]] == [False, False, True]
    html = files_client.get("/files?limit=3").get_data(as_text=True)
    assert 'id="next-page"' in html


@pytest.mark.both_databases
def test_month_old_selections_are_pruned_when_a_new_one_starts(files_app, media):
    from datetime import timedelta

    from app.extensions import db
    from app.models import Selection, utcnow

    with files_app.app_context():
        db.session.add(Selection(id="old", paths=["/x"], updated_at=utcnow() - timedelta(days=31)))
        db.session.add(Selection(id="recent", paths=["/y"], updated_at=utcnow() - timedelta(days=2)))
        db.session.commit()
    client = files_app.test_client()
    assert client.post("/api/files/selection", json={"add": [str(media / "c.avi")]}).status_code == 200
    with files_app.app_context():
        assert db.session.get(Selection, "old") is None and db.session.get(Selection, "recent") is not None


def test_several_media_roots_can_be_browsed_and_nothing_between_them(tmp_path, redis_server):
    from tests.app.files.conftest import make_app

    first, second = tmp_path / "movies", tmp_path / "shows"
    touch(first / "m.mkv")
    touch(second / "s.mkv")
    touch(tmp_path / "between.mkv")
    flask_app = make_app(first, tmp_path / "data", redis_server.url)
    flask_app.config["MEDIA_ROOTS"] = [first, second]
    client = flask_app.test_client()
    html = client.get("/files").get_data(as_text=True)
    assert 'id="root-picker"' in html and f'<option value="{second}">' in html
    other = client.get("/api/files", query_string={"path": str(second)}).get_json()
    assert [e["name"] for e in other["entries"]] == ["s.mkv"] and other["crumbs"][0]["path"] == str(second)
    assert client.get("/api/files", query_string={"path": str(tmp_path)}).status_code == 400
    assert client.post("/api/files/selection", json={"add": [str(second / "s.mkv")]}).get_json()["count"] == 1


def test_a_symlinked_clip_inside_the_roots_gets_its_duration(files_client, media):
    clip = make_clip(media / "Shows" / "real.mp4", seconds=1)
    (media / "link.mp4").symlink_to(clip)
    listed = next(e for e in files_client.get("/api/files").get_json()["entries"] if e["name"] == "link.mp4")
    found = files_client.post("/api/files/durations", json={"paths": [listed["path"]]}).get_json()["durations"]
    assert abs(found[listed["path"]] - 1.0) < 0.2
    again = next(e for e in files_client.get("/api/files").get_json()["entries"] if e["name"] == "link.mp4")
    assert abs(again["duration"] - 1.0) < 0.2


def test_select_all_matching_videos_of_a_folder_across_pages(files_client, media):
    for i in range(30):
        touch(media / f"episode {i:02d}.mkv")
    touch(media / "episode notes.txt")
    html = files_client.get("/files?limit=5&q=episode").get_data(as_text=True)
    assert "Select all 30 matching videos in this folder" in html
    answer = files_client.post("/api/files/selection", json={"matching": {"path": str(media), "q": "EPISODE"}})
    assert answer.status_code == 200 and answer.get_json()["count"] == 30
    assert str(media / "episode notes.txt") not in answer.get_json()["paths"]
    html = files_client.get("/files?limit=5").get_data(as_text=True)
    assert "Select all 33 videos in this folder" in html  # 30 episodes + A clip, b movie, c (not c_converted)
    assert 'id="select-matching"' not in files_client.get("/files?path=Shows").get_data(as_text=True)  # one page
    for body in ({"matching": {"path": "/etc"}}, {"matching": "all"}):
        refused = files_client.post("/api/files/selection", json=body)
        assert refused.status_code == 400 and refused.get_json()["error"]


def test_a_stale_session_cookie_from_a_slower_request_keeps_the_selection(files_client, media):
    """A duration probe that started before the first pick answers last with the old session cookie."""
    files_client.get("/files")  # the page puts a CSRF token in the session
    before = files_client.get_cookie("session")
    assert before is not None
    assert files_client.post("/api/files/selection", json={"add": [str(media / "c.avi")]}).get_json()["count"] == 1
    files_client.set_cookie("session", before.value)  # what the slower response's Set-Cookie does
    html = files_client.get("/configure").get_data(as_text=True)
    assert '<strong id="file-count">1</strong>' in html


def test_a_media_folder_that_is_gone_is_a_message(files_client, media):
    import shutil

    shutil.rmtree(media)
    response = files_client.get("/files")
    assert response.status_code == 404 and "is gone" in alerts(response.get_data(as_text=True))
