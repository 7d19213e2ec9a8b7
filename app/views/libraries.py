"""The Libraries page: watched folders, their rules and what a scan would do."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from app.extensions import db
from app.models.library import LibraryFile
from app.services import libraries as library_service
from app.services.presets import list_presets
from app.services.queue_schedule import time_zone
from app.services.schedules import describe
from tasks import spec as spec_choices

bp = Blueprint("libraries", __name__, url_prefix="/libraries")


@bp.get("/")
def index():
    """Every library with its counts, and the form to create, edit, preview and delete one."""
    libraries = library_service.list_libraries()
    counts: dict[int, dict[str, int]] = {}
    rows = db.session.execute(
        select(LibraryFile.library_id, LibraryFile.state, func.count()).group_by(
            LibraryFile.library_id, LibraryFile.state
        )
    )
    for library_id, state, n in rows:
        counts.setdefault(library_id, {})[state] = n
    return render_template(
        "libraries/index.html",
        libraries=libraries,
        counts=counts,
        presets=[p.name for p in list_presets()],
        choices=spec_choices,
        describe_schedule=describe,
        time_zone=time_zone(),
    )
