"""A private PostgreSQL server for the tests, started with initdb/pg_ctl on a free port.

Set TEST_DATABASE_URL (postgresql+psycopg://USER@HOST:PORT/DB, a user allowed to CREATE
DATABASE) to use an existing server instead. As root, the server runs as the `postgres` user
(initdb refuses root).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support import free_port, wait_for

_counter = itertools.count(1)


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl live: PATH, `pg_config --bindir`, or Debian's versioned folders."""
    if shutil.which("initdb") and shutil.which("pg_ctl"):
        return Path(shutil.which("initdb")).resolve().parent
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
        if out and (Path(out) / "initdb").exists():
            return Path(out)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """initdb into a temporary folder, start on a free loopback port, hand out fresh databases."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="frameshift-pg-"))
        self.data = self.dir / "data"
        self.user = "frameshift"
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres") if _has_user("postgres") else pwd.getpwnam("nobody")
            os.chown(self.dir, account.pw_uid, account.pw_gid)
            self.run_as = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups"]

    @property
    def base_url(self) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}"

    def start(self) -> PostgresServer:
        run = lambda *argv: subprocess.run([*self.run_as, *argv], check=True, capture_output=True)  # noqa: E731
        run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        return self

    def new_database(self, prefix: str = "t") -> str:
        """Create an empty database; return its SQLAlchemy URL."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(_counter)}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{self.base_url}/{name}"

    def stop(self) -> None:
        subprocess.run(
            [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


class ExternalPostgres:
    """A server given by TEST_DATABASE_URL."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("postgresql://", "postgresql+psycopg://", 1)

    def new_database(self, prefix: str = "t") -> str:
        import sqlalchemy

        name = f"{prefix}_{os.getpid()}_{next(_counter)}"
        engine = sqlalchemy.create_engine(self.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        pass


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def start_postgres() -> PostgresServer | ExternalPostgres | None:
    """Return a server to create test databases on, or None when PostgreSQL is not installed."""
    if os.environ.get("TEST_DATABASE_URL"):
        return ExternalPostgres(os.environ["TEST_DATABASE_URL"])
    bindir = find_bindir()
    if bindir is None:
        return None
    server = PostgresServer(bindir).start()
    wait_for(lambda: (server.dir / f".s.PGSQL.{server.port}").exists(), 30, what="PostgreSQL socket")
    return server
