"""Placeholder and short secrets are refused at start-up by every process, one line each."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tasks.preflight import secret_problems
from tests.e2e.deploy.compose import env_example
from tests.support import ROOT, base_env, free_port, worker_argv

FIX = "choose a long random value of your own (e.g. `openssl rand -hex 24`)"


def example_secrets() -> dict[str, str]:
    """The secrets .env.example sets (uncommented), as an unedited `cp .env.example .env` gives them."""
    listed = env_example()
    return {key: listed[key] for key in ("REDIS_PASSWORD", "SHARED_TOKEN", "FLOWER_BASIC_AUTH")}


def test_every_example_secret_is_refused_with_one_line_each():
    secrets = example_secrets()
    assert all(secrets.values()), "the example .env no longer sets the secrets"
    env = {**secrets, "REDIS_URL": f"redis://:{secrets['REDIS_PASSWORD']}@redis:6379/0"}  # as compose builds it
    example = "is the example value from .env.example, which anyone can read"
    assert secret_problems(env) == [
        f"SHARED_TOKEN {example}: {FIX}, the same on the leader and every follower",
        f"REDIS_PASSWORD {example}: {FIX}, using only letters, digits, - and _",
        f"FLOWER_BASIC_AUTH entry 1: the password {example}: {FIX}",
    ]


def test_short_secrets_are_refused_and_sixteen_characters_pass():
    short, enough = "a1" * 7 + "b", "a1" * 8
    assert len(short) == 15 and len(enough) == 16
    problems = secret_problems(
        {
            "SHARED_TOKEN": short,
            "REDIS_URL": f"redis://:{short}x@127.0.0.1:6379/0",  # the URL's own password, 16: fine
            "REDIS_PASSWORD": short,
            "FLOWER_BASIC_AUTH": f"ops:{enough},guest:{short}",
        }
    )
    assert problems == [
        "SHARED_TOKEN is missing or shorter than 16 characters: set the same long random value on the leader "
        "and every follower",
        f"REDIS_PASSWORD is shorter than 16 characters: {FIX}, using only letters, digits, - and _",
        f"FLOWER_BASIC_AUTH entry 2: the password is shorter than 16 characters: {FIX}",
    ]
    assert secret_problems({"REDIS_URL": "redis://:tiny@127.0.0.1:6379/0"}) == [
        f"the password in REDIS_URL is shorter than 16 characters: {FIX}, using only letters, digits, - and _"
    ]
    assert secret_problems({"SHARED_TOKEN": enough, "REDIS_PASSWORD": enough, "FLOWER_BASIC_AUTH": f"a:{enough}"}) == []
    assert secret_problems({}) == []  # nothing set: nothing to refuse (whether one is required is asked separately)


PROCESSES = {
    "web": ([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"], "frameshift"),
    "monitor": ([sys.executable, "-m", "flask", "--app", "app", "monitor"], "frameshift"),
    "worker": (worker_argv("placeholder"), "frameshift worker"),
    "flower": ([sys.executable, "-m", "celery", "-A", "tasks", "flower", "--port=0"], "frameshift flower"),
}


@pytest.mark.parametrize("process", list(PROCESSES))
def test_an_unedited_env_file_starts_nothing(process, tmp_path, clips):
    secrets = example_secrets()
    url = f"redis://:{secrets['REDIS_PASSWORD']}@127.0.0.1:{free_port()}/0"
    env = base_env(url, clips["root"], tmp_path / "data", secrets["SHARED_TOKEN"], PORT=str(free_port()), **secrets)
    argv, prefix = PROCESSES[process]
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert done.returncode == 2, (process, done.returncode, done.stderr[-3000:])
    lines = [line for line in done.stderr.splitlines() if "configuration problem" in line]
    named = [line.split("configuration problem: ")[1].split(" ")[0] for line in lines]
    assert named == ["SHARED_TOKEN", "REDIS_PASSWORD", "FLOWER_BASIC_AUTH"], lines
    assert all(line.startswith(f"{prefix}: configuration problem: ") for line in lines), lines
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    for value in (secrets["SHARED_TOKEN"], secrets["REDIS_PASSWORD"], secrets["FLOWER_BASIC_AUTH"].split(":")[1]):
        assert value not in done.stderr, f"{process} printed a secret"
