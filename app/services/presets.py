"""Saved conversion settings: a few built-in presets plus the user's own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Preset
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.jobs import validate_spec

# Read-only presets every installation offers; their names are reserved.
BUILTIN: dict[str, dict[str, Any]] = {
    "H.265 MKV (default)": {
        "video_codec": "libx265",
        "crf": 22,
        "preset": "slow",
        "bit_depth": 10,
        "audio_codec": "libopus",
        "container": "mkv",
    },
    "H.264 MP4 compatible": {
        "video_codec": "libx264",
        "crf": 20,
        "preset": "medium",
        "bit_depth": 8,
        "audio_codec": "aac",
        "audio_quality": "high",
        "container": "mp4",
    },
    "AV1 WebM": {
        "video_codec": "libsvtav1",
        "crf": 30,
        "preset": "medium",
        "bit_depth": 10,
        "audio_codec": "libopus",
        "container": "webm",
        "subtitles": "copy",
    },
}
# Where a file goes is chosen per submission, not stored in a preset.
NOT_IN_PRESET = ("output_dir", "if_exists", "extra")


def _clean_spec(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ServiceError("spec: give the conversion settings as an object", field="spec")
    spec = validate_spec(data).to_dict()
    for key in NOT_IN_PRESET:
        spec.pop(key, None)
    return spec


def _clean_name(name: Any) -> str:
    text = " ".join(str(name or "").split())
    if not text:
        raise ServiceError("name: give the preset a name", field="name")
    if len(text) > 120:
        raise ServiceError("name: keep it under 120 characters", field="name")
    return text


def ensure_builtin_presets() -> None:
    """Create the built-in presets the first time they are needed."""
    have = set(db.session.execute(select(Preset.name).where(Preset.builtin.is_(True))).scalars())
    missing = [name for name in BUILTIN if name not in have]
    for name in missing:
        db.session.add(Preset(name=name, spec=_clean_spec(BUILTIN[name]), builtin=True))
    if missing:
        db.session.commit()


def list_presets() -> list[Preset]:
    """Return built-in presets first, then the user's, by name."""
    ensure_builtin_presets()
    return list(db.session.execute(select(Preset).order_by(Preset.builtin.desc(), Preset.name)).scalars())


def get_preset(preset_id: int) -> Preset:
    """Return one preset or raise NotFound."""
    preset = db.session.get(Preset, preset_id)
    if preset is None:
        raise NotFound(f"preset {preset_id} does not exist")
    return preset


def _name_free(name: str, except_id: int | None = None) -> None:
    other = db.session.execute(select(Preset).where(Preset.name == name)).scalar()
    if other is not None and other.id != except_id:
        raise Conflict(f"name: a preset called {name!r} already exists; pick another name", field="name")


def create_preset(name: Any, spec: Any) -> Preset:
    """Save a new preset after validating its spec."""
    ensure_builtin_presets()
    clean_name, clean_spec = _clean_name(name), _clean_spec(spec)
    _name_free(clean_name)
    preset = Preset(name=clean_name, spec=clean_spec)
    db.session.add(preset)
    db.session.commit()
    return preset


def update_preset(preset_id: int, name: Any = None, spec: Any = None) -> Preset:
    """Rename a preset and/or replace its settings; built-in presets are read-only."""
    preset = get_preset(preset_id)
    if preset.builtin:
        raise Conflict(f"{preset.name!r} is built in and cannot be changed; save your settings as a new preset")
    if name is not None:
        clean_name = _clean_name(name)
        _name_free(clean_name, preset.id)
        preset.name = clean_name
    if spec is not None:
        preset.spec = _clean_spec(spec)
    db.session.commit()
    return preset


def delete_preset(preset_id: int) -> None:
    """Delete a user's preset; built-in presets stay."""
    preset = get_preset(preset_id)
    if preset.builtin:
        raise Conflict(f"{preset.name!r} is built in and cannot be deleted")
    db.session.delete(preset)
    db.session.commit()
