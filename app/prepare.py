"""`python -m app.prepare`: bring the database to the newest migration and make the first account, then exit.

`make run` (scripts/run.py) runs this once before it starts the web and the monitor. Every process still
checks the schema at its start (app.services.schema.upgrade_database), but then finds nothing to do and
imports neither Alembic nor Flask-Migrate; before, the first process to take the migration lock ran the
migrations and kept what they had allocated for its whole life (~13 MiB of private memory on a first start:
docs/benchmarks.md, "Lean", fix 15). With bad settings this exits 2 without a word: the processes started
next say what is wrong, once each, as they always have.
"""

from __future__ import annotations

import sys

from app.config import ConfigError, load_config


def main() -> int:
    try:
        load_config()
    except ConfigError:
        return 2
    from app import create_app

    create_app()
    return 0


if __name__ == "__main__":
    sys.exit(main())
