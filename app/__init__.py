"""The leader: Flask factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the leader's Flask app; config overrides environment settings (tests pass a mapping)."""
    from app.config import startup_config
    from app.schemas.limits import IdConverter, request_limits

    flask_app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "app" / "static"))
    flask_app.config.update(startup_config(config))
    flask_app.config.update(request_limits(config))
    flask_app.url_map.converters["int"] = IdConverter
    register_extensions(flask_app)
    register_blueprints(flask_app)
    register_errorhandlers(flask_app)
    register_cli(flask_app)
    return flask_app


def register_extensions(flask_app: Flask) -> None:
    """Bind the database, Redis and the Celery client to this app (each app its own: nothing process-wide)."""
    from app.extensions import celery_client, db, redis_store

    db.init_app(flask_app)
    redis_store.init_app(flask_app)
    celery_client.init_app(flask_app)
    from app import observability
    from app.services import notify, pieces
    from app.services.schema import upgrade_database

    observability.init_app(flask_app)
    upgrade_database(flask_app)
    notify.init_app(flask_app)
    pieces.init_app(flask_app)  # live messages of split pieces, after each commit


def register_blueprints(flask_app: Flask) -> None:
    """Attach the JSON API and the pages."""
    from app.views import api, followers, jobs, settings, stream

    flask_app.register_blueprint(api.bp)
    flask_app.register_blueprint(stream.bp)
    for pages in (jobs, followers, settings):
        flask_app.register_blueprint(pages.bp)
    from app.views import configure, files  # UI-files: file browser and configure page

    flask_app.register_blueprint(files.bp)
    flask_app.register_blueprint(configure.bp)
    from app.views import followers_api  # followers: /api/followers, /api/queue

    flask_app.register_blueprint(followers_api.bp)
    from app.auth import init_auth
    from app.views import ops, stats

    init_auth(flask_app)
    flask_app.register_blueprint(ops.bp)
    flask_app.register_blueprint(stats.bp)  # the Statistics page and GET /api/stats
    from app.views import libraries, libraries_api

    flask_app.register_blueprint(libraries.bp)  # the Libraries page and /api/libraries
    flask_app.register_blueprint(libraries_api.bp)


def register_errorhandlers(flask_app: Flask) -> None:
    """Answer errors as JSON under /api and as a page elsewhere; never a stack trace."""
    from app.views.errors import register

    register(flask_app)


def register_cli(flask_app: Flask) -> None:
    """Add `flask monitor` and `flask db` (Flask-Migrate's commands, imported only when used)."""
    from app.cli import monitor_command
    from app.services.schema import offer_db_commands

    flask_app.cli.add_command(monitor_command)
    offer_db_commands(flask_app)
