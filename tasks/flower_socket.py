"""`python -m tasks.flower_socket ARGS`: `celery -A tasks flower ARGS`, serving a socket that is already listening.

make run starts Flower on demand (docs/benchmarks.md, "Lean", fix 26): its supervisor binds Flower's port at
start and forks Flower when the first connection waits there, handing it the listening socket as the file
descriptor named by FRAME_SHIFT_LISTEN_FD; the connections queued meanwhile are served once Flower runs. Flower
itself is unchanged: the same command line options, flowerconfig.py's settings check, its login. Only where it
would bind --address and --port itself, it takes the inherited socket instead (its --port is still given, for its
banner). `--check` runs the settings check alone (what make run does before it binds the port): exit 2 with
one line per problem, or 0.
"""

from __future__ import annotations

import os
import socket
import sys

LISTEN_FD_VARIABLE = "FRAME_SHIFT_LISTEN_FD"  # the same name as scripts/children.py's


def inherited_listener() -> socket.socket:
    """The listening socket named by FRAME_SHIFT_LISTEN_FD, non-blocking as Tornado needs it."""
    value = os.environ.pop(LISTEN_FD_VARIABLE, "")
    if not value.isdigit():
        raise SystemExit(f"frameshift flower: {LISTEN_FD_VARIABLE} names no listening socket ({value!r})")
    listener = socket.socket(fileno=int(value))
    if listener.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) != 1:
        raise SystemExit(f"frameshift flower: file descriptor {value} is not a listening socket")
    listener.setblocking(False)
    return listener


def main(argv: list[str]) -> None:
    if argv[:1] == ["--check"]:
        from tasks.preflight import refuse_bad_flower_settings

        refuse_bad_flower_settings(dict(os.environ))
        return
    listener = inherited_listener()
    import flower.app

    def bind_inherited(port: int, address: str | None = None, **_options: object) -> list[socket.socket]:
        return [listener]

    flower.app.bind_sockets = bind_inherited  # what Flower's start_http_server calls to bind its port
    from celery.bin.celery import main as celery

    sys.argv = ["celery", "-A", "tasks", "flower", *argv]
    celery()


if __name__ == "__main__":
    main(sys.argv[1:])
