"""Worker start-up: validate the follower's settings, then start Sentry when SENTRY_DSN is set.

Sentry must be initialised in the worker process itself (celeryd_init runs in the main process
before the pool forks; the SDK restarts its sender thread in each child). Without SENTRY_DSN the
SDK is never initialised and nothing is sent.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from celery.signals import after_setup_logger, after_setup_task_logger, celeryd_init, worker_process_init

from tasks import sandbox
from tasks.outage import OUTAGE, quiet_redis_outages
from tasks.preflight import follower_problems

log = logging.getLogger("frameshift.observability")
# Expected outcomes shown on the job itself; reporting them would bury real bugs.
QUIET = ("TranscodeError", "TranscodeCancelled", "TranscodeInterrupted")


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    """Drop conversions that failed for ordinary reasons; keep refusals and real exceptions."""
    exc = (hint.get("exc_info") or (None, None, None))[1]
    if exc is not None and type(exc).__name__ in QUIET:
        return None
    return event


def init_sentry(
    dsn: str, environment: str, component: str, *, flask: bool = False, traces_sample_rate: float = 0.0
) -> bool:
    """Start the Sentry SDK with the Celery (and Flask) integrations; return False when dsn is empty."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration

    integrations: list[Any] = [CeleryIntegration()]
    if flask:
        from sentry_sdk.integrations.flask import FlaskIntegration

        integrations.append(FlaskIntegration())
    from sentry_sdk.integrations.stdlib import StdlibIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment or "production",
        integrations=integrations,
        # Its subprocess hook writes trace headers (SUBPROCESS_SENTRY_TRACE, SUBPROCESS_BAGGAGE) into every
        # child's environment, even an explicit env=: FFmpeg and the probe child get a clean one, nothing more.
        disabled_integrations=[StdlibIntegration()],
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        before_send=before_send,
    )
    sentry_sdk.set_tag("component", component)
    log.info("Sentry reporting on for %s (environment %s)", component, environment)
    return True


@celeryd_init.connect
def on_worker_start(**_: object) -> None:
    """Refuse to start with a bad configuration (one line per problem); then start Sentry."""
    problems = follower_problems(dict(os.environ))
    if problems:
        for problem in problems:
            print(f"frameshift worker: configuration problem: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(2)
    warning = sandbox.startup_warning(dict(os.environ))
    if warning:
        log.warning(warning)
        print(f"frameshift worker: WARNING: {warning}", file=sys.stderr, flush=True)
    init_sentry(
        os.environ.get("SENTRY_DSN", ""),
        os.environ.get("SENTRY_ENVIRONMENT", "production"),
        "worker",
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE") or 0),
    )


@after_setup_logger.connect
def _quiet_worker_log(logger: logging.Logger | None = None, **_: object) -> None:
    """Celery configured the worker's log: make Redis outages short there."""
    quiet_redis_outages(*([logger] if logger is not None else []))


@after_setup_task_logger.connect
def _quiet_task_log(logger: logging.Logger | None = None, **_: object) -> None:
    quiet_redis_outages(*([logger] if logger is not None else []))


@worker_process_init.connect
def _pool_process_level(**_: object) -> None:
    """A pool process starts with no outage of its own and reports one at INFO (see RedisOutage.level)."""
    OUTAGE.since, OUTAGE.level = None, logging.INFO
