"""`python -m app.serve -c gunicorn.conf.py 'app:create_app()'`: the web process as one process.

gunicorn runs a master that forks its workers and watches them. With one worker (make run's default, one
machine) the master is a second Python process that serves nothing: ~8 MiB of memory of its own at rest,
measured (docs/benchmarks.md, "Lean", fix 27). make run's supervisor already restarts a web process that exits,
so here gunicorn's own threaded worker (the same class, settings file, hooks and request handling as under the
master) runs in this process, with the supervisor as its parent: it stops when the supervisor goes away, and a
SIGTERM lets the requests in flight finish, as under gunicorn. What the master adds and this leaves out:
several workers (WEB_WORKERS above 1 runs gunicorn itself), killing a worker whose main loop stopped for
`timeout` seconds, and reloading on SIGHUP. Compose and production run gunicorn.
"""

from __future__ import annotations

import os
import sys

APP_LOAD_ERROR = 4  # gunicorn's exit codes, so make run's log reads the same
WORKER_BOOT_ERROR = 3


def main(argv: list[str]) -> int:
    from gunicorn import sock
    from gunicorn.app.wsgiapp import WSGIApplication
    from gunicorn.errors import AppImportError

    sys.argv = ["gunicorn", *argv]  # parsed by gunicorn's own command line, settings file included
    app = WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]", prog="frameshift-web")
    cfg = app.cfg
    cfg.on_starting(None)  # gunicorn.conf.py's settings check: exits 2 with one line per problem
    log = cfg.logger_class(cfg)
    listeners = sock.create_sockets(cfg, log)
    log.info("Listening at: %s (%s, one process, no master)", ",".join(str(s) for s in listeners), os.getpid())
    worker = cfg.worker_class(1, os.getppid(), listeners, app, cfg.timeout / 2.0, cfg, log)
    worker.pid = os.getpid()
    try:
        cfg.post_fork(None, worker)
        worker.init_process()  # serves until SIGTERM, SIGINT or its parent goes away
        return 0
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 0
    except AppImportError as exc:
        log.error("could not load the app: %s", exc)
        return APP_LOAD_ERROR
    except Exception:
        log.exception("the web process stopped")
        return 1 if worker.booted else WORKER_BOOT_ERROR
    finally:
        worker.tmp.close()
        for listener in listeners:
            listener.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
