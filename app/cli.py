"""Command-line entry points: `flask --app app monitor`."""

from __future__ import annotations

import logging
import signal

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("monitor")
@with_appcontext
def monitor_command() -> None:
    """Run the leader's monitor: events, dispatch, lost followers, reconciliation."""
    from app import observability
    from app.monitor import Monitor

    observability.set_component("monitor")  # the app was built before this command ran: say so now
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    flask_app = current_app._get_current_object()
    monitor = Monitor(flask_app)

    def stop(*_: object) -> None:
        monitor.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"monitor watching {flask_app.config['REDIS_URL']}")
    monitor.run()
