"""Extensions, unbound here and bound to the app with init_app."""

from __future__ import annotations

import redis
from flask import Flask, current_app, has_app_context
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for every model."""


db = SQLAlchemy(model_class=Base)


class RedisClient:
    """Lazily created redis-py clients, one per REDIS_URL, picked by the current app.

    Per app (not one global): several apps in one process (tests, benchmarks) each talk to their own Redis.
    """

    def __init__(self) -> None:
        self.url: str | None = None
        self._clients: dict[str, redis.Redis] = {}

    def init_app(self, flask_app: Flask) -> None:
        """Remember the URL (the fallback outside an app context); connect on first use."""
        self.url = flask_app.config["REDIS_URL"]
        flask_app.extensions["frameshift_redis"] = self

    @property
    def client(self) -> redis.Redis:
        """Return the client for the current app's REDIS_URL."""
        url = current_app.config["REDIS_URL"] if has_app_context() else self.url
        client = self._clients.get(url)
        if client is None:
            client = self._clients[url] = redis.Redis.from_url(
                url, socket_timeout=5, socket_connect_timeout=3, health_check_interval=10
            )
        return client


redis_store = RedisClient()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL and a busy timeout: the web process and the monitor write at the same time."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
