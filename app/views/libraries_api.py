"""JSON API of libraries: /api/libraries (create, list, show, change, delete, preview, rescan)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from app.schemas.inputs import accepts
from app.schemas.libraries import LibraryFields, Rescan
from app.services import libraries as library_service

bp = Blueprint("libraries_api", __name__, url_prefix="/api/libraries")


def _values(body: LibraryFields) -> dict:
    values = body.model_dump(exclude_unset=True)
    if body.spec is not None:
        values["spec"] = body.spec.values()
    return values


@bp.get("")
def index():
    """Every library with its settings and its last scan's problem."""
    return jsonify({"libraries": [library.to_dict() for library in library_service.list_libraries()]})


@bp.post("")
@accepts(json=LibraryFields)
def create(body: LibraryFields):
    """Create a library (name and folder required); the monitor scans it at once."""
    return jsonify(library_service.create_library(_values(body)).to_dict()), 201


@bp.get("/<int:library_id>")
def show(library_id: int):
    """One library."""
    return jsonify(library_service.get_library(library_id).to_dict())


@bp.patch("/<int:library_id>")
@accepts(json=LibraryFields)
def update(library_id: int, body: LibraryFields):
    """Change the fields given; the monitor scans again."""
    return jsonify(library_service.update_library(library_id, _values(body)).to_dict())


@bp.delete("/<int:library_id>")
def delete(library_id: int):
    """Forget a library (its files and jobs stay)."""
    library_service.delete_library(library_id)
    return jsonify({"deleted": library_id})


@bp.post("/preview")
@accepts(json=LibraryFields)
def preview(body: LibraryFields):
    """What these settings would queue and skip (and why), without saving anything."""
    return jsonify(library_service.preview(_values(body)))


@bp.post("/<int:library_id>/preview")
@accepts(json=LibraryFields)
def preview_saved(library_id: int, body: LibraryFields):
    """What a saved library (with the changes given) would queue and skip now."""
    return jsonify(library_service.preview(_values(body), library_id))


@bp.post("/<int:library_id>/rescan")
@accepts(json=Rescan)
def rescan(library_id: int, body: Rescan):
    """Scan now; requeue=failed|skipped|all forgets those outcomes so the files are considered again."""
    return jsonify(library_service.request_rescan(library_id, body.requeue))
