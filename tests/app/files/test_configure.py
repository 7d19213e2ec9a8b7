"""The configure page and presets over a real database: defaults, field errors, jobs created, preview."""

from __future__ import annotations

import re

import pytest

from app.views.configure import HELP

BASIC_FORM = {
    "mode": "basic",
    "video_codec": "libx265",
    "rate_mode": "crf",
    "crf": "22",
    "video_bitrate": "4M",
    "preset": "slow",
    "bit_depth": "10",
    "max_height": "",
    "audio_codec": "libopus",
    "audio_quality": "high",
    "container": "mkv",
    "subtitles": "copy",
    "threads": "0",
    "custom_args": "",
    "output_location": "beside",
    "output_dir": "",
    "if_exists": "rename",
}


@pytest.fixture
def selected(files_client, media):
    """Two files selected in the client's session."""
    paths = [str(media / "A clip.mp4"), str(media / "b movie.mkv")]
    assert files_client.post("/api/files/selection", json={"add": paths}).status_code == 200
    return paths


def field_error(html: str, field: str) -> str | None:
    match = re.search(
        rf'<p class="field-error" id="error-{field}" data-error-for="{field}"( hidden)?>(.*?)</p>', html, re.S
    )
    assert match, f"no error slot for {field}"
    return None if match.group(1) else match.group(2).strip()


def test_without_a_selection_the_page_says_what_to_do(files_client):
    html = files_client.get("/configure").get_data(as_text=True)
    assert "No files are selected" in html and 'id="submit-jobs" class="button primary" disabled' in html
    response = files_client.post("/configure", data=BASIC_FORM)
    assert response.status_code == 400 and "no files are selected" in response.get_data(as_text=True)


def test_form_has_defaults_help_and_a_label_for_every_control(files_client, selected):
    html = files_client.get("/configure").get_data(as_text=True)
    assert '<option value="libx265" selected>' in html and 'name="crf" type="number" value="22"' in html
    assert '<option value="mkv" selected>' in html and '<option value="slow" selected>' in html
    for field in HELP:
        assert f'id="help-{field}"' in html, field
    ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html)
    unlabeled = [i for i in ids if f'for="{i}"' not in html]
    assert not unlabeled, unlabeled
    for tag in re.findall(r'<input[^>]*type="(?:radio|checkbox)"[^>]*>', html):
        assert "<label" in html[html.index(tag) - 40 : html.index(tag)] or "aria-label" in tag, tag
    assert re.search(
        r'<form method="post" action="/configure"[^>]*>\s*<input type="hidden" name="csrf_token" value="[^"]+">', html
    )


@pytest.mark.both_databases
def test_submit_creates_one_job_per_file_and_goes_to_the_queue(files_client, files_app, selected):
    form = {
        **BASIC_FORM,
        "video_codec": "libx264",
        "container": "mp4",
        "audio_codec": "aac",
        "bit_depth": "8",
        "crf": "20",
    }
    response = files_client.post("/configure", data=form)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    from app.extensions import db
    from app.models import Job

    with files_app.app_context():
        jobs = db.session.query(Job).order_by(Job.id).all()
        assert [j.input_path for j in jobs] == selected
        assert all(
            j.status == "queued"
            and j.spec["video_codec"] == "libx264"
            and j.spec["crf"] == 20
            and j.output_path.endswith("_converted.mp4")
            for j in jobs
        )
    assert files_client.get("/api/files/selection").get_json()["count"] == 0


@pytest.mark.parametrize(
    "changes,field,words",
    [
        ({"crf": "99"}, "crf", "between 0 and 63"),
        ({"crf": "abc"}, "crf", "whole number"),
        ({"video_codec": "libx265", "container": "webm"}, "video_codec", "cannot go in a webm file"),
        ({"max_height": "10"}, "max_height", "between 64"),
        ({"rate_mode": "bitrate", "video_bitrate": "fast"}, "video_bitrate", "look like 4M"),
        ({"output_location": "folder", "output_dir": ""}, "output_dir", "type a folder"),
        ({"output_location": "folder", "output_dir": "/etc"}, "output_dir", "outside the media folders"),
        ({"mode": "custom", "custom_args": "-i /etc/passwd"}, "custom_args", "-i is not an allowed option"),
    ],
)
def test_errors_show_next_to_their_field_and_keep_what_was_typed(
    files_client, files_app, selected, changes, field, words
):
    response = files_client.post("/configure", data={**BASIC_FORM, **changes})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Traceback" not in html
    message = field_error(html, field)
    assert message and words in message
    assert f'id="f-{field}"' not in html or re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', html)
    if field == "crf":
        assert f'value="{changes["crf"]}"' in html
    from app.extensions import db
    from app.models import Job

    with files_app.app_context():
        assert db.session.query(Job).count() == 0


def test_output_folder_rule_and_if_exists(files_client, files_app, selected, media):
    form = {**BASIC_FORM, "output_location": "folder", "output_dir": str(media / "empty"), "if_exists": "fail"}
    assert files_client.post("/configure", data=form).status_code == 302
    from app.extensions import db
    from app.models import Job

    with files_app.app_context():
        outputs = sorted(j.output_path for j in db.session.query(Job))
    assert outputs == [str(media / "empty" / "A clip_converted.mkv"), str(media / "empty" / "b movie_converted.mkv")]


def test_preview_gives_the_exact_command_for_the_first_file(files_client, selected, media):
    answer = files_client.post(
        "/api/configure/preview", data={**BASIC_FORM, "output_location": "folder", "output_dir": str(media / "Shows")}
    )
    data = answer.get_json()
    assert answer.status_code == 200 and data["input"] == selected[0] and data["count"] == 2
    argv = data["argv"]
    assert argv[0] == "ffmpeg" and argv[argv.index("-i") + 1] == selected[0]
    assert argv[-1] == str(media / "Shows" / "A clip_converted.mkv") == data["output"]
    assert argv[argv.index("-c:v") + 1] == "libx265" and argv[argv.index("-crf") + 1] == "22"
    custom = files_client.post(
        "/api/configure/preview", data={**BASIC_FORM, "mode": "custom", "custom_args": "-c:v libx264 -crf 18"}
    ).get_json()
    assert custom["argv"][-7:-1] == ["-c:v", "libx264", "-crf", "18", "-f", "matroska"]
    bad = files_client.post("/api/configure/preview", data={**BASIC_FORM, "crf": "77"})
    assert bad.status_code == 400 and bad.get_json()["field"] == "crf"


def test_custom_mode_lists_the_allowed_options_and_filters(files_client, selected):
    from tasks.custom_args import reference

    html = files_client.get("/configure").get_data(as_text=True)
    section = re.search(r'<details class="allowed-args" id="allowed-args">(.*?)</details>', html, re.S)
    assert section and "<summary>Allowed options and filters</summary>" in section.group(1)
    table = reference()
    assert section.group(1).count("<tr><td>") == len(table["options"]) + len(table["filters"])
    for code in ("-crf:…", "-x265-params", "-vf", "scale", "loudnorm"):
        assert f"<code>{code}</code>" in section.group(1), code
    assert "<code>movie</code>" not in section.group(1) and "<code>-i</code>" not in section.group(1)
    assert "analysis-save" not in section.group(1) and "log-level" in section.group(1)


def test_refused_custom_args_name_the_token_and_point_at_the_list(files_client, selected):
    form = {**BASIC_FORM, "mode": "custom", "custom_args": r"-c:v libx264 -vf 'mo\vie=/etc/passwd'"}
    answer = files_client.post("/api/configure/preview", data=form)
    data = answer.get_json()
    assert answer.status_code == 400 and data["field"] == "custom_args"
    assert "mo\\vie (FFmpeg reads it as movie)" in data["error"] and "docs/custom-args.md" in data["error"]


def test_configure_page_loads_a_preset_without_javascript(files_client, selected):
    presets = files_client.get("/api/presets").get_json()["presets"]
    av1 = next(p for p in presets if p["name"] == "AV1 WebM")
    html = files_client.get(f"/configure?preset_id={av1['id']}").get_data(as_text=True)
    assert '<option value="libsvtav1" selected>' in html and '<option value="webm" selected>' in html


@pytest.mark.both_databases
def test_the_form_starts_from_the_job_defaults_of_the_settings_page(files_client, files_app, selected, media):
    from app.services.preferences import save_job_defaults

    with files_app.app_context():
        save_job_defaults(
            {
                "video_codec": "libx264",
                "container": "mp4",
                "audio_codec": "aac",
                "crf": "19",
                "bit_depth": "8",
                "output_dir": str(media / "empty"),
                "if_exists": "fail",
            }
        )
    html = files_client.get("/configure").get_data(as_text=True)
    assert '<option value="libx264" selected>' in html and 'name="crf" type="number" value="19"' in html
    assert '<option value="fail" selected>' in html and f'value="{media / "empty"}"' in html
    assert re.search(r'name="output_location" value="folder" checked', html)
    presets = files_client.get("/api/presets").get_json()["presets"]
    av1 = next(p for p in presets if p["name"] == "AV1 WebM")
    html = files_client.get(f"/configure?preset_id={av1['id']}").get_data(as_text=True)
    assert '<option value="libsvtav1" selected>' in html and '<option value="fail" selected>' in html


def test_hostile_file_names_become_jobs_with_safe_argv(files_client, files_app, media):
    from tests.app.files.conftest import HOSTILE, touch

    paths = [str(touch(media / name, 10)) for name in HOSTILE]
    assert files_client.post("/api/files/selection", json={"add": paths}).get_json()["count"] == 3
    preview = files_client.post("/api/configure/preview", data=BASIC_FORM).get_json()
    assert preview["argv"][preview["argv"].index("-i") + 1] == paths[0]
    assert files_client.post("/configure", data=BASIC_FORM).status_code == 302
    from app.extensions import db
    from app.models import Job
    from app.services.jobs import planned_argv

    with files_app.app_context():
        jobs = {j.input_path: j for j in db.session.query(Job)}
        dash = jobs[str(media / HOSTILE[1])]
        argv = planned_argv(dash)
    assert sorted(jobs) == sorted(paths)
    assert argv[argv.index("-i") + 1] == str(media / HOSTILE[1])  # absolute: never read as an option
    assert dash.output_path == str(media / "-rf 'quoted\" name_converted.mkv") and argv[-1] == dash.output_path


def test_files_deleted_after_picking_are_taken_out_with_a_notice(files_client, files_app, selected):
    import os

    os.remove(selected[1])
    html = files_client.get("/configure").get_data(as_text=True)
    assert "1 selected file no longer exists and was taken out" in html and "b movie.mkv" in html
    assert '<strong id="file-count">1</strong>' in html
    assert files_client.post("/configure", data=BASIC_FORM).status_code == 302
    from app.extensions import db
    from app.models import Job

    with files_app.app_context():
        assert [j.input_path for j in db.session.query(Job)] == [selected[0]]


def test_a_file_deleted_while_the_form_is_open_is_not_queued_silently(files_client, files_app, selected):
    import os

    files_client.get("/configure")
    os.remove(selected[0])
    response = files_client.post("/configure", data={**BASIC_FORM, "crf": "30"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "submit again to queue the rest" in html and "A clip.mp4" in html
    assert 'name="crf" type="number" value="30"' in html
    from app.extensions import db
    from app.models import Job

    with files_app.app_context():
        assert db.session.query(Job).count() == 0
    assert files_client.post("/configure", data=BASIC_FORM).status_code == 302
