"""The file browser page and its JSON endpoints: listing, durations, the server-side selection."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify, render_template, request

from app.services.errors import ServiceError
from app.services.files import PAGE_SIZE, SORTS, list_folder
from app.services.media_info import annotate, probe_durations
from app.services.selection import change_selection, get_selection

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


def listing_args() -> dict:
    """Read the listing's query arguments."""
    raw_limit = request.args.get("limit") or str(PAGE_SIZE)
    if not raw_limit.isdigit():
        raise ServiceError(f"limit: must be a whole number (got {raw_limit!r})", field="limit")
    return {
        "sort": request.args.get("sort") or "name",
        "order": request.args.get("order") or "asc",
        "videos_only": request.args.get("videos") in ("1", "on", "true"),
        "search": request.args.get("q") or "",
        "cursor": request.args.get("cursor") or None,
        "limit": int(raw_limit),
    }


def load_listing():
    """List the requested folder and mark what is cached, converted and selected."""
    listing = list_folder(request.args.get("path") or None, roots(), **listing_args())
    annotate(listing.entries)
    chosen = set(get_selection(selection_id()))
    for entry in listing.entries:
        entry.selected = entry.path in chosen
    return listing, len(chosen)


@bp.get("/files")
def index():
    """Browse a media folder and pick files to convert."""
    try:
        listing, count = load_listing()
    except ServiceError as exc:
        # A bad path or argument: say so in the page, with a way back home.
        return render_template(
            "files/index.html", listing=None, error=exc.message, count=0, sorts=SORTS, roots=roots(), args=request.args
        ), exc.status
    return render_template(
        "files/index.html", listing=listing, error=None, count=count, sorts=SORTS, roots=roots(), args=request.args
    )


@bp.get("/api/files")
def api_list():
    """One page of a folder as JSON (cursor pagination: pass `next_cursor` back as `cursor`)."""
    listing, count = load_listing()
    return jsonify({**listing.to_dict(), "selected_count": count})


def json_body() -> dict:
    """Return the request's JSON object, or raise a clear error."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ServiceError("the request body must be a JSON object")
    return data


@bp.post("/api/files/durations")
def api_durations():
    """Durations of up to 60 files, probed with ffprobe only when the cache lacks them."""
    found = probe_durations(json_body().get("paths"), roots())
    return jsonify({"durations": found})


@bp.get("/api/files/selection")
def api_selection():
    """The files this session selected."""
    paths = get_selection(selection_id())
    return jsonify({"count": len(paths), "paths": paths})


@bp.post("/api/files/selection")
def api_change_selection():
    """Change the selection: {"add": [...], "remove": [...], "folders": [...], "matching": {...}, "clear": true}."""
    data = json_body()
    new_id, paths = change_selection(
        selection_id(),
        roots(),
        add=data.get("add"),
        remove=data.get("remove"),
        folders=data.get("folders"),
        matching=data.get("matching"),
        clear=bool(data.get("clear")),
    )
    response = jsonify(
        {"count": len(paths), "paths": paths[:500] if data.get("folders") or data.get("matching") else []}
    )
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
    """Format a byte count: 1.2 MB."""
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return ""


@bp.app_template_filter("fs_duration")
def fs_duration(seconds: float | None) -> str:
    """Format seconds as H:MM:SS or M:SS."""
    if seconds is None:
        return ""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@bp.app_template_filter("fs_mtime")
def fs_mtime(mtime_ns: int) -> str:
    """Format a modification time (UTC) to the minute."""
    return datetime.fromtimestamp(mtime_ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
