"""Fixtures for the security tests (the harness itself is in tests/tasks/security/harness.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tasks.security.harness import UNSAFE_SWITCH, World, build_world


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> Iterator[World]:
    """One world for the session (its clip and FIFOs are made once)."""
    made = build_world(tmp_path_factory.mktemp("world"))
    yield made
    made.listener.close()


@pytest.fixture
def no_arg_check(monkeypatch, world):
    """Switch the custom-argument allowlist off (FRAME_SHIFT_UNSAFE_NO_ARG_CHECK=1, tasks/custom_args.py), so
    only the boundary stands. Each hostile test asserts FFmpeg really started (a 'started' report), so a
    check that still refused the arguments would fail the test instead of passing it vacuously. The test
    process works in the world's cwd/, which holds data/secret_key, as a follower's working directory would."""
    monkeypatch.setenv(UNSAFE_SWITCH, "1")
    monkeypatch.chdir(world.cwd)  # as a follower runs: its working directory holds data/secret_key


# The running system of the integration tests (a monitor and a Celery follower on the session's redis).
from tests.e2e.conftest import leader, stack, stacks  # noqa: E402, F401
