"""The Files page shows codec, resolution, duration and bitrate from media_facts, while the file is unchanged."""

from __future__ import annotations

from app.extensions import db
from app.models.library import MediaFacts


def remember(path, **fields) -> None:
    st = path.stat()
    values = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, **fields}
    db.session.add(MediaFacts(path=str(path), **values))
    db.session.commit()


def entries(client, folder) -> dict[str, dict]:
    response = client.get("/api/files", query_string={"path": str(folder)})
    assert response.status_code == 200, response.get_json()
    return {e["name"]: e for e in response.get_json()["entries"]}


def test_the_files_api_returns_the_columns_from_current_facts_and_blanks_otherwise(files_app, files_client, media):
    with files_app.app_context():
        remember(media / "b movie.mkv", video_codec="hevc", width=1920, height=1080, duration=42.5, bitrate=3_500_000)
        remember(media / "c.avi", video_codec="mpeg4", width=640, height=480, duration=9.0, bitrate=900_000)
        (media / "c.avi").write_bytes(b"\0" * 201)  # changed since its probe: its facts are stale
        remember(media / "A clip.mp4", error="not a video file Frame Shift can read")
    shown = entries(files_client, media)
    movie = shown["b movie.mkv"]
    assert (movie["video_codec"], movie["width"], movie["height"], movie["bitrate"], movie["duration"]) == (
        "hevc",
        1920,
        1080,
        3_500_000,
        42.5,
    )
    for name in ("c.avi", "A clip.mp4", "notes.txt"):
        assert shown[name]["video_codec"] is None and shown[name]["width"] is None and shown[name]["bitrate"] is None
    assert shown["c.avi"]["duration"] is None


def test_the_files_page_shows_the_columns(files_app, files_client, media):
    with files_app.app_context():
        remember(media / "b movie.mkv", video_codec="hevc", width=1920, height=1080, duration=42.5, bitrate=3_500_000)
    html = files_client.get("/files", query_string={"path": str(media)}).get_data(as_text=True)
    assert '<th scope="col">Codec</th>' in html and ">Resolution</th>" in html and ">Bitrate</th>" in html
    assert '<td class="codec">hevc</td>' in html
    assert "1920×1080" in html and "3,500 kb/s" in html
