"""`make run`'s supervisor asks whether Redis answers with a PING of its own (no redis-py in that process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import RedisServer

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
import run  # noqa: E402


@pytest.fixture
def locked(tmp_path):
    server = RedisServer(tmp_path, password="s3cr3t-word").start()
    yield server
    server.stop()


def test_ping_with_the_password_of_the_url(locked):
    port = locked.port
    assert run.redis_answers(f"redis://:s3cr3t%2Dword@127.0.0.1:{port}/0")
    assert run.redis_answers(f"redis://default:s3cr3t%2Dword@127.0.0.1:{port}/0")
    assert not run.redis_answers(f"redis://127.0.0.1:{port}/0")  # NOAUTH is not an answer
    assert not run.redis_answers(f"redis://:wrong@127.0.0.1:{port}/0")


def test_no_server_or_not_redis(tmp_path):
    server = RedisServer(tmp_path).start()
    try:
        assert run.redis_answers(server.url)
    finally:
        server.stop()
    assert not run.redis_answers(server.url)  # stopped: refused
    assert not run.redis_answers(f"unix://{tmp_path}/none.sock")


def test_the_supervisor_does_not_import_redis_py():
    code = "import sys; sys.path.insert(0, 'scripts'); import run; run.redis_answers('redis://127.0.0.1:1/0'); "
    code += "print('redis' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
