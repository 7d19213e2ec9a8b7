"""Error responses: JSON with a clear message under /api, a friendly page elsewhere."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app.services.errors import ServiceError


def wants_json() -> bool:
    """Return True for API and stream requests."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(message: str, status: int, field: str | None = None):
    """Render one error in the form the client expects: JSON is always {"error": ..., "field": name or null}."""
    if wants_json():
        return jsonify({"error": message, "field": field or None}), status
    return render_template("error.html", message=message, status=status), status


def register(flask_app: Flask) -> None:
    """Install the handlers."""

    @flask_app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        return error_response(exc.message, exc.status, exc.field)

    @flask_app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if isinstance(exc, RequestEntityTooLarge):
            limit = flask_app.config.get("MAX_CONTENT_LENGTH")
            return error_response(f"the request is larger than the limit of {limit} bytes (MAX_CONTENT_LENGTH)", 413)
        return error_response(exc.description or exc.name, exc.code or 500)

    @flask_app.errorhandler(Exception)
    def unexpected(exc: Exception):
        flask_app.logger.exception("unhandled error")
        return error_response("something went wrong on the server; the error was logged", 500)
