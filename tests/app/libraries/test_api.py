"""/api/libraries: create, refuse a folder outside the media roots, change, preview, rescan, delete."""

from __future__ import annotations

import shutil

from app.extensions import db
from app.models.library import MediaFacts


def _folder(media, name="lib"):
    folder = media / name
    folder.mkdir(exist_ok=True)
    return folder


def test_a_library_outside_the_media_roots_is_refused(client, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    response = client.post("/api/libraries", json={"name": "Out", "folder": str(outside)})
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == "folder" and "outside the media folders" in body["error"]
    assert client.get("/api/libraries").get_json()["libraries"] == []


def test_create_change_and_delete(client, media):
    folder = _folder(media, "crud")
    response = client.post(
        "/api/libraries",
        json={"name": "Films", "folder": str(folder), "preset": "H.265 MKV (default)", "rules": {"min_size_mb": 1}},
    )
    assert response.status_code == 201, response.get_json()
    library = response.get_json()
    assert library["spec"]["video_codec"] == "libx265" and library["rules"]["min_size_mb"] == 1
    assert library["output_policy"] == "beside" and library["recycle_days"] == 7 and library["min_saving_percent"] == 5
    again = client.post("/api/libraries", json={"name": "Inner", "folder": str(folder / ".")})
    assert again.status_code == 409 and again.get_json()["field"] == "folder"
    changed = client.patch(
        f"/api/libraries/{library['id']}", json={"output_policy": "replace", "watch": "polling", "enabled": False}
    )
    assert changed.status_code == 200
    assert changed.get_json()["output_policy"] == "replace" and changed.get_json()["watch"] == "polling"
    no_dir = client.patch(f"/api/libraries/{library['id']}", json={"output_policy": "folder"})
    assert no_dir.status_code == 400 and no_dir.get_json()["field"] == "output_dir"
    assert client.delete(f"/api/libraries/{library['id']}").status_code == 200
    assert client.get(f"/api/libraries/{library['id']}").status_code == 404


def test_preview_says_what_is_queued_skipped_and_why(app, client, clips, media):
    folder = _folder(media, "preview")
    shutil.copy(clips["short"], folder / "film.mp4")
    shutil.copy(clips["other"], folder / "sample.mp4")
    (folder / "notes.txt").write_text("not a video")
    (folder / "film_converted.mkv").write_bytes(b"ours")
    body = {
        "name": "P",
        "folder": str(folder),
        "spec": {"video_codec": "libx264", "container": "mp4"},
        "rules": {"exclude": ["sample*"]},
    }
    result = client.post("/api/libraries/preview", json=body).get_json()
    assert [f["path"] for f in result["wait"]] == ["film.mp4"]  # skip_matching needs its facts
    reasons = {f["path"]: f["reason"] for f in result["skip"]}
    assert reasons == {
        "sample.mp4": "name matches exclude pattern sample*",
        "notes.txt": "extension .txt is not in the library's list",
    }
    st = (folder / "film.mp4").stat()
    with app.app_context():
        db.session.add(
            MediaFacts(
                path=str(folder / "film.mp4"),
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
                container="mov,mp4,m4a,3gp,3g2,mj2",
                video_codec="h264",
                bit_depth=8,
                height=180,
            )
        )
        db.session.commit()
    result = client.post("/api/libraries/preview", json=body).get_json()
    assert {f["path"]: f["reason"] for f in result["skip"]}["film.mp4"].startswith("already matches the target")
    body["spec"] = {"video_codec": "libx265", "container": "mkv"}
    result = client.post("/api/libraries/preview", json=body).get_json()
    assert [f["path"] for f in result["queue"]] == ["film.mp4"]


def test_schema_bounds_and_unknown_fields(client, media):
    folder = _folder(media, "bounds")
    bad = client.post("/api/libraries", json={"name": "B", "folder": str(folder), "scan_minutes": 0})
    assert bad.status_code == 400 and bad.get_json()["field"] == "scan_minutes"
    bad = client.post("/api/libraries", json={"name": "B", "folder": str(folder), "rules": {"max_height": 99999}})
    assert bad.status_code == 400 and bad.get_json()["field"] == "max_height"
    bad = client.post("/api/libraries", json={"name": "B", "folder": str(folder), "schedule": [True] * 10})
    assert bad.status_code == 400 and bad.get_json()["field"] == "schedule"
