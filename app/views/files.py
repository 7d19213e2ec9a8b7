"""The file browser page and its JSON endpoints: listing, durations, the server-side selection."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify, render_template, request

from app.schemas.files import Durations, FilesPageQuery, FilesQuery, SelectionChange
from app.schemas.inputs import accepts
from app.services.errors import ServiceError
from app.services.file_search import search_tree
from app.services.files import SORTS, add_media_facts, list_folder
from app.services.media_info import annotate, probe_durations
from app.services.selection import change_selection, get_selection
from app.views.ui import human_seconds, human_size

bp = Blueprint("files", __name__)

# The selection id has its own cookie, not a key in Flask's session: the session cookie is rewritten by every
# response (permanent sessions are refreshed), so a slow request that started before the selection existed
# (a duration probe) would put back a session without it.
SELECTION_COOKIE = "frameshift_selection"
SELECTION_MAX_AGE = 30 * 24 * 3600


def roots():
    """Return the configured media roots."""
    return current_app.config["MEDIA_ROOTS"]


def selection_id() -> str | None:
    """Return this browser's selection id."""
    return request.cookies.get(SELECTION_COOKIE)


def load_listing(query: FilesQuery):
    """List the requested folder and mark what is cached, converted and selected."""
    if query.deep_search:
        args = query.listing_args()
        listing = search_tree(
            query.path,
            roots(),
            args["search"],
            videos_only=args["videos_only"],
            show_hidden=args["show_hidden"],
            hide_converted=args["hide_converted"],
        )
    else:
        listing = list_folder(query.path, roots(), **query.listing_args())
    annotate(listing.entries)
    add_media_facts(listing.entries)  # codec, resolution, bitrate from library probes (one query, no probe)
    chosen = set(get_selection(selection_id()))
    for entry in listing.entries:
        entry.selected = entry.path in chosen
    return listing, len(chosen)


def _page(listing, error: str | None, count: int, status: int = 200):
    return render_template(
        "files/index.html", listing=listing, error=error, count=count, sorts=SORTS, roots=roots(), args=request.args
    ), status


@bp.get("/files")
@accepts(query=FilesPageQuery, on_error=lambda exc: _page(None, exc.message, 0, exc.status))
def index(query: FilesPageQuery):
    """Browse a media folder and pick files to convert."""
    try:
        listing, count = load_listing(query)
    except ServiceError as exc:
        # A bad path or argument: say so in the page, with a way back home.
        return _page(None, exc.message, 0, exc.status)
    return _page(listing, None, count)


@bp.get("/api/files")
@accepts(query=FilesQuery)
def api_list(query: FilesQuery):
    """One page of a folder as JSON (cursor pagination: pass `next_cursor` back as `cursor`)."""
    listing, count = load_listing(query)
    return jsonify({**listing.to_dict(), "selected_count": count})


@bp.post("/api/files/durations")
@accepts(json=Durations)
def api_durations(body: Durations):
    """Durations of up to 60 files, probed with ffprobe only when the cache lacks them."""
    found = probe_durations(body.paths, roots())
    return jsonify({"durations": found})


@bp.get("/api/files/selection")
def api_selection():
    """The files this session selected."""
    paths = get_selection(selection_id())
    return jsonify({"count": len(paths), "paths": paths})


@bp.post("/api/files/selection")
@accepts(json=SelectionChange)
def api_change_selection(body: SelectionChange):
    """Change the selection: {"add": [...], "remove": [...], "folders": [...], "matching": {...}, "clear": true}."""
    matching = body.matching.model_dump() if body.matching is not None else None
    new_id, paths = change_selection(
        selection_id(),
        roots(),
        add=body.add,
        remove=body.remove,
        folders=body.folders,
        matching=matching,
        clear=bool(body.clear),
    )
    response = jsonify({"count": len(paths), "paths": paths[:500] if body.folders or body.matching else []})
    if new_id != selection_id():
        response.set_cookie(
            SELECTION_COOKIE,
            new_id,
            max_age=SELECTION_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )
    return response


@bp.app_template_filter("fs_size")
def fs_size(value: int | None) -> str:
    """Format a byte count for the Files page (empty for folders): the one formatter, ui.human_size."""
    return "" if value is None else human_size(value)


@bp.app_template_filter("fs_duration")
def fs_duration(seconds: float | None) -> str:
    """Format a video's duration for the Files page (empty when unknown): the one formatter, ui.human_seconds."""
    return "" if seconds is None else human_seconds(seconds)


@bp.app_template_filter("fs_mtime")
def fs_mtime(mtime_ns: int) -> str:
    """Format a modification time (UTC) to the minute."""
    return datetime.fromtimestamp(mtime_ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
