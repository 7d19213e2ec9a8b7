"""Fixtures for the security tests (the harness itself is in tests/security/harness.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.harness import UNSAFE_SWITCH, World, build_world, shlex_only


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> Iterator[World]:
    """One world for the session (its clip and FIFOs are made once)."""
    made = build_world(tmp_path_factory.mktemp("world"))
    yield made
    made.listener.close()


@pytest.fixture
def no_arg_check(monkeypatch):
    """Switch the custom-argument allowlist off, so only the boundary stands.

    FRAME_SHIFT_UNSAFE_NO_ARG_CHECK=1 is the switch the allowlist provides for exactly this; the
    check function is also replaced by a plain split, so the tests hold whichever form the check has.
    Each hostile test asserts FFmpeg really started (a 'started' report), i.e. that no check refused it.
    """
    monkeypatch.setenv(UNSAFE_SWITCH, "1")
    import tasks.custom_args

    monkeypatch.setattr(tasks.custom_args, "check_custom_args", shlex_only)
