"""The configure page: conversion settings for the selected files, presets, command preview, submit."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request
from werkzeug.datastructures import MultiDict

from app.schemas.forms import ConfigureForm, ConfigureQuery, PresetBody
from app.schemas.inputs import accepts
from app.services import jobs as job_service
from app.services import presets as preset_service
from app.services.errors import ServiceError
from app.services.preferences import FORM_FIELDS
from app.services.selection import clear_selection, drop_missing, get_selection
from app.views.files import selection_id
from tasks import spec as spec_rules
from tasks.custom_args import reference as custom_args_reference
from tasks.paths import PathError, plan_output, resolve_inside

bp = Blueprint("configure", __name__)

HELP = {
    "mode": "Basic builds the command from the fields below; custom uses your own FFmpeg options instead.",
    "video_codec": "libx265 (H.265) is small and widely supported; libx264 plays everywhere; libsvtav1 (AV1) is "
    "smallest but slow on old devices; copy keeps the video stream as it is.",
    "rate_mode": "CRF keeps the quality constant (recommended); bitrate aims at a fixed rate instead.",
    "crf": "Lower means better quality and bigger files: 0–51 for H.264/H.265 (22 is a good start), 0–63 for AV1.",
    "video_bitrate": "Used with the bitrate mode, e.g. 4M or 2500k.",
    "preset": "Slower presets give smaller files at the same quality but take longer.",
    "bit_depth": "10-bit avoids banding and is usually smaller; choose 8-bit for old players.",
    "max_height": "Shrink taller videos to this many lines, keeping the aspect ratio; empty keeps the size.",
    "audio_codec": "Opus is small and good; AAC plays everywhere; copy keeps the audio as it is.",
    "audio_quality": "The audio bitrate: low, medium or high.",
    "container": "The output file type. WebM holds only AV1 video and Opus audio.",
    "subtitles": "copy keeps subtitles (converted to what the container holds); none drops them.",
    "threads": "FFmpeg threads for these jobs; 0 uses the follower's FFMPEG_THREADS.",
    "custom_args": "FFmpeg output options only, e.g. -c:v libx264 -crf 20 -c:a copy. Frame Shift adds the input, "
    "the output and progress reporting; only the options and filters in the list below are allowed.",
    "output_dir": "A folder inside the media folders; each output is NAME_converted.EXT in it.",
    "if_exists": "If NAME_converted.EXT exists already: rename (NAME_converted (2).EXT), fail, or overwrite it.",
}
CHOICES = {
    "mode": spec_rules.MODES,
    "video_codec": spec_rules.VIDEO_CODECS,
    "rate_mode": spec_rules.RATE_MODES,
    "preset": spec_rules.PRESETS,
    "bit_depth": (10, 8),
    "audio_codec": spec_rules.AUDIO_CODECS,
    "audio_quality": spec_rules.AUDIO_QUALITIES,
    "container": spec_rules.CONTAINERS,
    "subtitles": spec_rules.SUBTITLE_MODES,
    "if_exists": spec_rules.IF_EXISTS,
}


def spec_from_form(form: ConfigureForm) -> dict[str, Any]:
    """Turn the configure form into spec JSON (parse_spec validates it)."""
    spec: dict[str, Any] = {k: getattr(form, k) for k in FORM_FIELDS if getattr(form, k) is not None}
    spec["mode"] = form.mode or "basic"
    spec["custom_args"] = form.custom_args or ""
    spec["if_exists"] = form.if_exists or "rename"
    spec["output_dir"] = None
    if form.output_location == "folder":
        folder = (form.output_dir or "").strip()
        if not folder:
            raise ServiceError(
                "output_dir: type a folder inside the media folders, or choose 'beside the source'", field="output_dir"
            )
        spec["output_dir"] = folder
    return spec


def form_values(spec: dict[str, Any], form: MultiDict | None = None) -> dict[str, Any]:
    """Return what the form shows: a spec's values, or exactly what the user typed after an error."""
    values = {**spec_rules.ConversionSpec().to_dict(), **{k: v for k, v in spec.items() if k in HELP}}
    values["output_location"] = "folder" if values.get("output_dir") else "beside"
    if form is not None:
        values.update({k: form.get(k) for k in (*HELP, "output_location") if form.get(k) is not None})
    values["max_height"] = values.get("max_height") or ""
    values["output_dir"] = values.get("output_dir") or ""
    return values


def gone_message(gone: list[str]) -> str | None:
    """Say which selected files disappeared since they were picked."""
    if not gone:
        return None
    names = ", ".join(p.rsplit("/", 1)[-1] for p in gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
    if len(gone) == 1:
        return f"1 selected file no longer exists and was taken out of the selection: {names}"
    return f"{len(gone)} selected files no longer exist and were taken out of the selection: {names}"


def render_form(
    values: dict[str, Any], errors: dict[str, str] | None = None, status: int = 200, notice: str | None = None
):
    """Render the configure page."""
    paths = get_selection(selection_id())
    presets = [p.to_dict() for p in preset_service.list_presets()]
    return render_template(
        "configure/index.html",
        values=values,
        errors=errors or {},
        paths=paths,
        presets=presets,
        help=HELP,
        choices=CHOICES,
        roots=current_app.config["MEDIA_ROOTS"],
        preset_id=request.args.get("preset_id", type=int),
        notice=notice,
        allowed=custom_args_reference(),
    ), status


@bp.get("/configure")
@accepts(query=ConfigureQuery)
def index(query: ConfigureQuery):
    """The settings form for the selected files: the Settings page's job defaults, or a preset over them."""
    from app.services.preferences import job_defaults

    spec: dict[str, Any] = job_defaults()
    if query.preset_id:
        spec = {**spec, **preset_service.get_preset(query.preset_id).spec}
    return render_form(form_values(spec), notice=gone_message(drop_missing(selection_id())))


def form_error(exc: ServiceError):
    """Show a refused field beside its input, keeping what the person typed."""
    field = exc.field or "form"
    message = exc.message.removeprefix(f"{field}: ") if field in HELP or field == "output" else exc.message
    return render_form(form_values({}, request.form), {field: message}, exc.status)


@bp.post("/configure")
@accepts(form=ConfigureForm, on_error=form_error)
def submit(form: ConfigureForm):
    """Create one job per selected file, then go to the queue."""
    gone = drop_missing(selection_id())
    if gone:
        # Never queue a different set of files than the page showed: show what changed and let the user resubmit.
        return render_form(
            form_values({}, request.form), notice=gone_message(gone) + "; submit again to queue the rest"
        )
    paths = get_selection(selection_id())
    try:
        if not paths:
            raise ServiceError("inputs: no files are selected; pick some on the Files page first", field="inputs")
        created = job_service.create_jobs(paths, spec_from_form(form))
    except ServiceError as exc:
        return form_error(exc)
    clear_selection(selection_id())
    flash(f"{len(created)} job{'s' if len(created) != 1 else ''} queued", "ok")
    return redirect("/")


@bp.post("/api/configure/preview")
@accepts(form=ConfigureForm)
def preview(form: ConfigureForm):
    """The exact FFmpeg command the first selected file would get (form-encoded fields, like the page posts)."""
    spec = job_service.validate_spec(spec_from_form(form))
    roots = current_app.config["MEDIA_ROOTS"]
    paths = get_selection(selection_id())
    if not paths:
        raise ServiceError("inputs: no files are selected; pick some on the Files page first", field="inputs")
    steps = (
        ("inputs", lambda: resolve_inside(paths[0], roots)),
        ("output_dir", lambda: resolve_inside(spec.output_dir, roots) if spec.output_dir else None),
    )
    found = {}
    for field, step in steps:
        try:
            found[field] = step()
        except PathError as exc:
            raise ServiceError(f"{field}: {exc}", field=field) from None
    source, folder = found["inputs"], found["output_dir"]
    if folder is not None and not folder.is_dir():
        raise ServiceError(f"output_dir: {spec.output_dir} is not a folder", field="output_dir")
    try:
        output = plan_output(source, spec.container, spec.if_exists, folder)
    except PathError as exc:
        raise ServiceError(f"output: {exc}", field="output") from None
    argv = job_service.preview_argv(spec, str(source), str(output))
    return jsonify({"argv": argv, "input": str(source), "output": str(output), "count": len(paths)})


def preset_payload(body: PresetBody | None, form: ConfigureForm | None) -> tuple[Any, Any]:
    """Read a preset's name and spec from JSON ({"name", "spec"}) or from the configure form."""
    if form is not None:
        return form.preset_name, spec_from_form(form)
    assert body is not None
    return body.name, body.spec.values() if body.spec is not None else None


@bp.get("/api/presets")
def list_presets():
    """Every preset, built-in ones first."""
    return jsonify({"presets": [p.to_dict() for p in preset_service.list_presets()]})


@bp.post("/api/presets")
@accepts(json=PresetBody, form=ConfigureForm)
def create_preset(body: PresetBody | None, form: ConfigureForm | None):
    """Save a new preset."""
    name, spec = preset_payload(body, form)
    return jsonify(preset_service.create_preset(name, spec).to_dict()), 201


@bp.put("/api/presets/<int:preset_id>")
@accepts(json=PresetBody, form=ConfigureForm)
def update_preset(preset_id: int, body: PresetBody | None, form: ConfigureForm | None):
    """Rename a preset or replace its settings."""
    name, spec = preset_payload(body, form)
    return jsonify(preset_service.update_preset(preset_id, name, spec).to_dict())


@bp.delete("/api/presets/<int:preset_id>")
def delete_preset(preset_id: int):
    """Delete a preset of one's own."""
    preset_service.delete_preset(preset_id)
    return jsonify({"deleted": preset_id})
