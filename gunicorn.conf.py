"""gunicorn settings for the web process (`gunicorn -c gunicorn.conf.py 'app:create_app()'`).

It binds HOST:PORT, the same variables the app checks (login may be off only on loopback), and
validates the whole configuration before any worker starts: one line per problem, no traceback.
"""

import os
import sys

_host = os.environ.get("HOST", "127.0.0.1")  # the same default the app checks login-off against
bind = f"[{_host}]:{os.environ.get('PORT', '5000')}" if ":" in _host else f"{_host}:{os.environ.get('PORT', '5000')}"
# Threads, not processes, carry the live-update streams (one long request per open browser tab).
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "16"))
timeout = 60
graceful_timeout = 10
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    """Refuse to start with a bad configuration before forking workers.

    The check runs in a child of its own: importing the app (Flask, SQLAlchemy, the settings) in the master
    would keep all of it there for the master's whole life, ~25 MB of memory it never uses again
    (bench/footprint.py, docs/benchmarks.md).
    """
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            from app.config import ConfigError, load_config

            try:
                load_config()
                code = 0
            except ConfigError as exc:
                for problem in exc.problems:
                    print(f"frameshift: configuration problem: {problem}", file=sys.stderr, flush=True)
                code = 2
        except BaseException:  # noqa: BLE001  (anything else: say it, and refuse to start)
            import traceback

            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(2)
