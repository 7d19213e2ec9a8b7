"""Every leader process refuses a bad configuration with one line per problem and no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT, base_env, free_port

EXPECTED = [
    "frameshift: configuration problem: FOLLOWER_LOST_AFTER='soon': must be a whole number >= 0",
    "frameshift: configuration problem: AUTH_DISABLED=1 is only allowed when the web process listens on loopback, "
    "but HOST='192.0.2.1': set HOST=127.0.0.1 or turn login back on (AUTH_DISABLED=0)",
    "frameshift: configuration problem: CELERY_VISIBILITY_TIMEOUT='abc': must be a whole number of seconds >= 0",
]


@pytest.mark.parametrize(
    "argv",
    [
        [sys.executable, "-m", "flask", "--app", "app", "monitor"],
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
        [sys.executable, "-m", "app.serve", "-c", "gunicorn.conf.py", "app:create_app()"],  # make run's one process
    ],
    ids=["monitor", "gunicorn", "one-process web"],
)
def test_leader_processes_refuse_bad_settings(argv, tmp_path, clips):
    env = base_env(
        "redis://127.0.0.1:1/0",
        clips["root"],
        tmp_path,
        "t" * 20,
        FOLLOWER_LOST_AFTER="soon",
        AUTH_DISABLED="1",
        HOST="192.0.2.1",
        PORT=str(free_port()),
        CELERY_VISIBILITY_TIMEOUT="abc",
    )
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr[-2000:]
    assert [line for line in done.stderr.splitlines() if "configuration problem" in line] == EXPECTED
    assert "Traceback" not in done.stderr


def test_processes_starting_together_share_one_generated_secret(tmp_path, clips):
    code = (
        "import sys; from app.config import load_config; "
        "print(load_config({'FRAME_SHIFT_HOME': sys.argv[1], 'DATA_DIR': sys.argv[2]}, environ={})['SECRET_KEY'])"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(clips["root"]), str(tmp_path / "data")],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert sorted(f.name for f in (tmp_path / "data").iterdir()) == ["secret_key", "shared_token"]
    assert oct((tmp_path / "data" / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_gunicorn_binds_loopback_unless_told_otherwise(monkeypatch, tmp_path):
    """Login may be off only on loopback, and HOST unset passes that check: gunicorn must then bind loopback too."""
    import runpy

    from app.config import load_config

    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.setenv("PORT", "5123")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["bind"] == "127.0.0.1:5123"
    assert (
        load_config({"AUTH_DISABLED": "1", "FRAME_SHIFT_HOME": str(ROOT), "DATA_DIR": str(tmp_path)})["AUTH_DISABLED"]
        is True
    )
    monkeypatch.setenv("HOST", "0.0.0.0")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["bind"] == "0.0.0.0:5123"
    monkeypatch.setenv("HOST", "::1")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["bind"] == "[::1]:5123"


def test_flower_refuses_bad_settings_with_one_line_each(tmp_path, clips):
    env = base_env("redis://127.0.0.1:1/0", clips["root"], tmp_path, "t" * 20)
    env.update(FLOWER_BASIC_AUTH="ops:good-password-0123,secretwithoutuser", CELERY_RESULT_EXPIRES="soon")
    argv = [sys.executable, "-m", "celery", "-A", "tasks", "flower", f"--port={free_port()}"]
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr[-2000:]
    assert [line for line in done.stderr.splitlines() if "configuration problem" in line] == [
        "frameshift flower: configuration problem: CELERY_RESULT_EXPIRES='soon': must be a whole number of seconds >= 0",
        "frameshift flower: configuration problem: FLOWER_BASIC_AUTH entry 2 is not user:password "
        "(several: user:pw,user2:pw2)",
    ]
    assert "secretwithoutuser" not in done.stderr
    env.pop("FLOWER_BASIC_AUTH")
    env.pop("CELERY_RESULT_EXPIRES")
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "FLOWER_BASIC_AUTH is not set" in done.stderr


def test_prepare_migrates_and_makes_the_first_account_then_exits(tmp_path, clips):
    """`python -m app.prepare`, which make run runs before the web and the monitor (fix 15): the database at the
    newest migration, the first account made and its password printed; with bad settings, exit 2 and no word
    (the processes started next say what is wrong, once each)."""
    import sqlite3

    from app.services.schema import head_revision

    env = base_env("redis://127.0.0.1:1/0", clips["root"], tmp_path, "t" * 20)
    env.pop("FRAME_SHIFT_ADMIN_PASSWORD", None)
    env.pop("AUTH_DISABLED", None)
    done = subprocess.run(
        [sys.executable, "-m", "app.prepare"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "created account 'admin' with password" in done.stderr, done.stderr
    with sqlite3.connect(tmp_path / "frameshift.db") as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
        assert connection.execute("SELECT count(*) FROM users").fetchone() == (1,)
    bad = subprocess.run(
        [sys.executable, "-m", "app.prepare"],
        env={**env, "FOLLOWER_LOST_AFTER": "soon"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (bad.returncode, bad.stderr) == (2, "")
