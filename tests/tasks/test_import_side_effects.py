"""Importing a module has no side effects: the Flower check runs only where Flower starts (flowerconfig.py),
and the leader's Sentry role is said by the monitor command, never guessed from argv."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import ROOT, free_port

# Settings Flower would refuse (no login, an example secret), and an argv that names flower and monitor.
HOSTILE_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith(("FLOWER_", "SENTRY_"))},
    "PYTHONPATH": str(ROOT),
    "SHARED_TOKEN": "change-me",
    "REDIS_URL": "redis://127.0.0.1:1/0",
}
HOSTILE_ARGV = ["celery", "-A", "tasks", "flower", "--port=1", "monitor"]


def test_importing_tasks_and_the_leaders_observability_with_hostile_argv_does_nothing(tmp_path):
    script = (
        "import sys\n"
        f"sys.argv = {HOSTILE_ARGV!r}\n"
        "import tasks\n"
        "from app import observability\n"
        "print('imported', observability.component())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=HOSTILE_ENV, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "imported web"  # "monitor" in argv is not a role: the monitor command says so
    assert "configuration problem" not in done.stderr


def test_flower_started_with_its_config_file_refuses_from_any_folder(tmp_path):
    argv = [sys.executable, "-m", "celery", "-A", "tasks", "flower", f"--conf={ROOT / 'flowerconfig.py'}"]
    argv.append(f"--port={free_port()}")
    done = subprocess.run(argv, env=HOSTILE_ENV, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if "configuration problem" in line]
    assert any("FLOWER_BASIC_AUTH is not set" in line for line in lines), lines
    assert all(line.startswith("frameshift flower: configuration problem: ") for line in lines), lines
    assert "Traceback" not in done.stderr, done.stderr[-2000:]


def test_importing_the_leaders_services_registers_no_session_hooks(tmp_path):
    # Before create_app, no module has hooked the database session (pieces' live messages and notifications
    # are registered by their init_app); after it, both are.
    script = (
        "from sqlalchemy import event\n"
        "import app.services.notify as notify, app.services.pieces as pieces\n"
        "from app.extensions import db\n"
        "hooks = [(notify._after_commit, 'after_commit'), (pieces._publish_messages, 'after_commit'),\n"
        "         (pieces._build_messages, 'before_commit')]\n"
        "print([event.contains(db.session, name, fn) for fn, name in hooks])\n"
        "from app import create_app\n"
        f"create_app({{'DATA_DIR': {str(tmp_path / 'data')!r}, 'FRAME_SHIFT_HOME': {str(tmp_path)!r},\n"
        "            'SHARED_TOKEN': 'x' * 32, 'AUTH_DISABLED': True, 'TESTING': True})\n"
        "print([event.contains(db.session, name, fn) for fn, name in hooks])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=HOSTILE_ENV, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["[False, False, False]", "[True, True, True]"]
