"""A new SQLite database opened by two processes at once: the one that turns it to WAL second waits, it does not fail.

Found in CI: gunicorn's two workers started on a new database, and one died with "database is locked" at
`PRAGMA journal_mode=WAL`: SQLite answers that at once, without the busy timeout, when another connection holds
the write lock (app/extensions.py `_to_wal`)."""

from __future__ import annotations

import sqlite3
import threading
import time

from sqlalchemy import create_engine, text

import app.extensions  # noqa: F401  (registers the pragmas on every engine's connections)


def test_turning_a_locked_new_database_to_wal_waits_for_the_lock(tmp_path):
    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of its own start (the write lock)
    holder.execute("INSERT INTO t VALUES (1)")
    released = threading.Event()

    def release() -> None:
        time.sleep(0.5)
        holder.execute("COMMIT")
        released.set()

    threading.Thread(target=release, daemon=True).start()
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:  # the pragmas run here
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 1
        assert released.is_set(), "the connection did not wait for the other's lock"
    finally:
        engine.dispose()
        holder.close()
