"""Redis outages in the logs: one warning when one starts, one line when it ends, no tracebacks.

While Redis is down every part of a process that uses it fails and retries: Celery's consumer,
the result backend (20 retries, each with a traceback), progress reports, heartbeats, the
monitor's threads. Each says so in its own words, so a 5 s outage used to fill a log with
tracebacks. A logging filter on the process's handlers lets the first of those records through
as one line without its traceback, drops the rest, and turns the reconnection into one line.
Code that knows it failed or recovered calls redis_failed / redis_recovered directly.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

OUTAGE_LOG = logging.getLogger("frameshift.redis")
# A failure this long after the last one is a new outage, even if no recovery was seen (a
# recovery seen only at DEBUG, or by a thread whose success is not reported).
NEW_OUTAGE_AFTER = 60.0
NOISE = ("worker_cancel_long_running_tasks_on_connection_loss",)  # Celery's deprecation note on every reconnect


def _connection_errors() -> tuple[type[BaseException], ...]:
    import redis
    from kombu.exceptions import OperationalError

    return (redis.ConnectionError, redis.TimeoutError, OperationalError, ConnectionError, TimeoutError)


def connection_error(exc: BaseException | None) -> BaseException | None:
    """Return exc (or the error it was raised from) when it means 'cannot reach Redis', else None."""
    errors = _connection_errors()
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, errors):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _summary(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__).rstrip(".")


class RedisOutage:
    """This process's view of Redis: whether an outage is on, since when, and how loudly to say so."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.since: float | None = None
        self.last_failure = 0.0
        # Pool processes say it at INFO: the worker's main process, which holds the broker
        # connection, carries the one warning for the follower.
        self.level = logging.WARNING

    @property
    def active(self) -> bool:
        return self.since is not None

    def failed(self) -> bool:
        """Note a failure; return True when it starts an outage (to be logged once)."""
        with self.lock:
            now = time.monotonic()
            starts = self.since is None or now - self.last_failure > NEW_OUTAGE_AFTER
            if starts:
                self.since = now
            self.last_failure = now
            return starts

    def recovered(self) -> float | None:
        """Note a success; return how long the outage lasted when this ends one."""
        with self.lock:
            if self.since is None:
                return None
            lasted, self.since = time.monotonic() - self.since, None
            return lasted


OUTAGE = RedisOutage()


def _outage_log() -> logging.Logger:
    """The outage logger; in a process that configured no logging (the web under gunicorn), with its own
    stderr handler, so its two lines are shown with a time and a level rather than lost or bare."""
    if not OUTAGE_LOG.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        OUTAGE_LOG.addHandler(handler)
        OUTAGE_LOG.setLevel(logging.INFO)
        OUTAGE_LOG.propagate = False
    return OUTAGE_LOG


def redis_failed(exc: BaseException, where: str) -> None:
    """Log a failure to reach Redis: a warning for the first of an outage, DEBUG for the rest."""
    if OUTAGE.failed():
        _outage_log().log(OUTAGE.level, "%s", _outage_message(exc, where))
    else:
        _outage_log().debug("Redis still unreachable (%s): %s", where, _summary(exc))


def redis_recovered(detail: str = "") -> None:
    """Call after a success: logs one line when this ends an outage."""
    lasted = OUTAGE.recovered()
    if lasted is not None:
        _outage_log().info("Redis is back after %.0f s%s", lasted, f": {detail}" if detail else "")


def _outage_message(exc: BaseException, where: str) -> str:
    return (
        f"Redis is unreachable ({_summary(exc)}), noticed by {where}; retrying quietly, conversions go on, "
        "and one line follows when it is back"
    )


class QuietRedisOutages(logging.Filter):
    """Handler filter: one line for an outage's first failure, nothing for the rest, one for its end.

    With announce_reconnect, Celery's own "Connected to redis://..." after an outage becomes the
    line that ends it (the worker); without, the code that knows it is back says so (the monitor).
    """

    def __init__(self, announce_reconnect: bool = True) -> None:
        super().__init__()
        self.announce_reconnect = announce_reconnect

    def filter(self, record: logging.LogRecord) -> bool:
        verdict = getattr(record, "_redis_outage", None)
        if verdict is None:  # judged once, however many handlers see the record
            verdict = self._judge(record)
            record._redis_outage = verdict
        return verdict

    def _judge(self, record: logging.LogRecord) -> bool:
        if record.name == OUTAGE_LOG.name:
            return True
        if record.levelno < logging.WARNING:
            if (
                self.announce_reconnect and OUTAGE.active and str(record.msg).startswith("Connected to ")
            ):  # Celery's and kombu's reconnection
                lasted = OUTAGE.recovered()
                if lasted is not None:
                    record.msg, record.args = f"Redis is back after {lasted:.0f} s ({record.getMessage()})", ()
            return True
        exc = connection_error(record.exc_info[1] if record.exc_info else None)
        for arg in record.args if isinstance(record.args, tuple) else ():
            exc = exc or (connection_error(arg) if isinstance(arg, BaseException) else None)
        if exc is None:
            return not (OUTAGE.active and any(noise in record.getMessage() for noise in NOISE))
        if not OUTAGE.failed():
            return False
        record.msg, record.args = _outage_message(exc, record.name), ()
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        record.levelno, record.levelname = OUTAGE.level, logging.getLevelName(OUTAGE.level)
        return True


def quiet_redis_outages(*loggers: logging.Logger, announce_reconnect: bool = True) -> None:
    """Install the outage filter on every handler of the root logger and of the given loggers."""
    quiet = QuietRedisOutages(announce_reconnect)
    for logger in (logging.getLogger(), *loggers):
        for handler in logger.handlers:
            if not any(isinstance(f, QuietRedisOutages) for f in handler.filters):
                handler.addFilter(quiet)
