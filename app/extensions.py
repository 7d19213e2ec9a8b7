"""Extensions, unbound here and bound to the app with init_app."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import redis
from celery import Celery
from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for every model."""


db = SQLAlchemy(model_class=Base)
REDIS_KEY = "frameshift_redis"
CELERY_KEY = "frameshift_celery"


class RedisClient:
    """redis-py clients kept in each Flask app's extensions, one per REDIS_URL, created on first use.

    Per app and never process-wide: several apps in one process (tests, benchmarks) each talk to their own
    Redis, and there is no fallback outside an app context that the latest app would have set (a thread of
    the monitor pushes its app's context, or asks with client_for).
    """

    def init_app(self, flask_app: Flask) -> None:
        """Give this app its own table of clients; connect on first use."""
        flask_app.extensions[REDIS_KEY] = {}

    @property
    def client(self) -> redis.Redis:
        """Return the current app's client for its REDIS_URL."""
        return self.client_for(current_app)

    def client_for(self, flask_app: Flask) -> redis.Redis:
        """Return flask_app's client for its REDIS_URL (read each time: a test may point the app elsewhere)."""
        url = flask_app.config["REDIS_URL"]
        clients: dict[str, redis.Redis] = flask_app.extensions[REDIS_KEY]
        client = clients.get(url)
        if client is None:
            client = clients[url] = redis.Redis.from_url(
                url, socket_timeout=5, socket_connect_timeout=3, health_check_interval=10
            )
        return client


class CeleryClient:
    """The leader's own Celery app per Flask app: it sends tasks by name, reads results and events, and
    broadcasts control commands, all on this app's REDIS_URL. The follower's process-wide
    `tasks.celery_app.celery_app` is the worker's (`celery -A tasks worker`); the leader never touches it.
    """

    def init_app(self, flask_app: Flask) -> None:
        """Build a Celery app from celeryconfig with this app's REDIS_URL as broker and result backend."""
        from tasks.celery_app import create_celery

        url = flask_app.config["REDIS_URL"]
        celery = create_celery(set_as_current=False)  # never Celery's process-wide "current app"
        celery.conf.update(broker_url=url, result_backend=url)
        flask_app.extensions[CELERY_KEY] = celery


def get_celery(flask_app: Flask | None = None) -> Celery:
    """Return the Celery app of flask_app (default: the current Flask app): the one way the leader reaches Celery."""
    return (flask_app or current_app).extensions[CELERY_KEY]


redis_store = RedisClient()
celery_client = CeleryClient()


def core(statement: Any, params: Any = None) -> Any:
    """Run a Core statement (columns, counts, a bulk UPDATE of a table; never ORM entities) in the session's
    transaction, as `db.session.execute` does, without the ORM's execution path: that path was ~5x the cost of
    the statement itself for the monitor's small reads (137 us against 24 us warm, ~0.6 ms against ~0.15 cold;
    docs/benchmarks.md, fix 40). Pending ORM changes are flushed first, as autoflush would; objects loaded in
    the session are not refreshed by an UPDATE run here (the callers run it where none of them is held)."""
    db.session.flush()
    return db.session.connection().execute(statement, params)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL and a busy timeout: the web process and the monitor write at the same time."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=10000")
        _to_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def _to_wal(cursor, wait: float = 10.0) -> None:
    """Turn the database to WAL. Two processes doing it to a new database at once (gunicorn's workers at a first
    start) need the same lock, and SQLite answers the second "database is locked" at once, without waiting for the
    busy timeout (measured: 5 of 90 racing starts; CI lost a test's web process to it): try again until the other
    has finished, when the database is WAL already and the pragma needs no lock."""
    deadline = time.monotonic() + wait
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
