"""Presets over the JSON API and from the configure form, on a real database: built-in ones locked, custom ones
created, renamed and deleted (moved out of test_configure.py, which tests the configure page)."""

from __future__ import annotations

import pytest

from tests.app.files.test_configure import BASIC_FORM


@pytest.mark.both_databases
def test_presets_builtin_create_edit_delete(files_client):
    listed = files_client.get("/api/presets").get_json()["presets"]
    builtin = {p["name"]: p for p in listed if p["builtin"]}
    assert {"H.265 MKV (default)", "H.264 MP4 compatible", "AV1 WebM"} <= set(builtin)
    assert (
        builtin["AV1 WebM"]["spec"]["video_codec"] == "libsvtav1" and builtin["AV1 WebM"]["spec"]["container"] == "webm"
    )
    created = files_client.post(
        "/api/presets",
        json={"name": "Phone", "spec": {"video_codec": "libx264", "container": "mp4", "max_height": 720}},
    )
    assert created.status_code == 201
    preset = created.get_json()
    assert preset["spec"]["max_height"] == 720 and "output_dir" not in preset["spec"]
    again = files_client.post("/api/presets", json={"name": "Phone", "spec": {}})
    assert again.status_code == 409 and again.get_json()["field"] == "name"
    bad = files_client.post("/api/presets", json={"name": "Bad", "spec": {"crf": 500}})
    assert bad.status_code == 400 and bad.get_json()["field"] == "crf"
    assert files_client.post("/api/presets", json={"name": " ", "spec": {}}).get_json()["field"] == "name"
    form_made = files_client.post("/api/presets", data={**BASIC_FORM, "preset_name": "From the form", "crf": "30"})
    assert form_made.status_code == 201 and form_made.get_json()["spec"]["crf"] == 30
    renamed = files_client.put(
        f"/api/presets/{preset['id']}",
        json={
            "name": "Phone 720p",
            "spec": {"video_codec": "libx264", "container": "mp4", "max_height": 720, "crf": 26},
        },
    )
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Phone 720p"
    assert renamed.get_json()["spec"]["crf"] == 26
    locked = builtin["H.265 MKV (default)"]["id"]
    assert files_client.put(f"/api/presets/{locked}", json={"name": "x"}).status_code == 409
    assert files_client.delete(f"/api/presets/{locked}").status_code == 409
    assert files_client.delete(f"/api/presets/{preset['id']}").status_code == 200
    assert files_client.delete(f"/api/presets/{preset['id']}").status_code == 404
    names = [p["name"] for p in files_client.get("/api/presets").get_json()["presets"]]
    assert "Phone 720p" not in names and "From the form" in names
