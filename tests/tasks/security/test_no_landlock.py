"""Without Landlock (or below ABI 4, which has no TCP rules) the boundary refuses to start, and says
how to opt out. The real-process test takes Landlock away from a real follower and leader with a
seccomp filter (test-only, set up in the child before exec) that makes landlock_create_ruleset fail
with ENOSYS, as on a kernel built without it: no hook in the production code.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import subprocess
import sys

import pytest

from tasks import landlock, sandbox
from tests.conftest import TOKEN
from tests.support import ROOT, base_env, worker_argv

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def _program() -> ctypes.Array:
    ld_abs, jeq, ret = 0x20, 0x15, 0x06
    code = [
        (ld_abs, 0, 0, 4),  # seccomp_data.arch
        (jeq, 1, 0, AUDIT_ARCH[platform.machine()]),
        (ret, 0, 0, SECCOMP_RET_ALLOW),  # another architecture: leave it alone
        (ld_abs, 0, 0, 0),  # seccomp_data.nr
        (jeq, 0, 1, landlock.SYS_CREATE_RULESET),
        (ret, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),
        (ret, 0, 0, SECCOMP_RET_ALLOW),
    ]
    return (SockFilter * len(code))(*[SockFilter(*insn) for insn in code])


PROGRAM = _program()
FPROG = SockFprog(len(PROGRAM), PROGRAM)
_libc = ctypes.CDLL(None, use_errno=True)


def without_landlock() -> None:
    """preexec_fn: from here on, this process and its children see a kernel without Landlock."""
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "no_new_privs")
    if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(FPROG), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp")


@pytest.fixture
def abi(monkeypatch):
    """Pretend the kernel's Landlock ABI is the given value (kernel_abi is cached: cleared before and after)."""

    real = sandbox.kernel_abi
    real.cache_clear()

    def set_abi(value: int) -> None:
        monkeypatch.setattr(sandbox, "kernel_abi", lambda: value)

    yield set_abi
    monkeypatch.undo()
    real.cache_clear()


@pytest.mark.parametrize(("value", "says"), [(0, "has no Landlock"), (3, "has Landlock ABI 3, below the 4")])
def test_startup_problem_names_the_way_out(abi, value, says):
    """ABI 0 (no Landlock) and 3 (no TCP rules): one line that says why and names FFMPEG_SANDBOX=off."""
    abi(value)
    problem = sandbox.startup_problem({})
    assert problem and says in problem and "FFMPEG_SANDBOX=off" in problem and "\n" not in problem
    assert sandbox.startup_problem({"FFMPEG_SANDBOX": "off"}) is None  # the opt-out
    with pytest.raises(sandbox.SandboxError, match="FFMPEG_SANDBOX=off"):
        sandbox.run(["ffprobe", "-version"], timeout=10)  # nothing runs unconfined by accident
    abi(4)
    assert sandbox.startup_problem({}) is None


def test_control_the_filter_takes_landlock_away():
    """The seccomp filter is what makes the difference: the same probe sees ABI >= 4 without it, 0 with it."""
    code = "from tasks.landlock import abi_version; print(abi_version())"
    argv = [sys.executable, "-c", code]
    plain = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert int(plain) >= landlock.MIN_ABI
    filtered = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, preexec_fn=without_landlock, check=True)
    assert filtered.stdout.strip() == "0"


def test_follower_and_leader_refuse_to_start_on_a_kernel_without_landlock(tmp_path, clips):
    """A real Celery follower and a real leader process, with Landlock taken away, exit with one configuration
    problem that names FFMPEG_SANDBOX=off. Fails if either starts FFmpeg unconfined without being told to."""
    env = base_env("redis://127.0.0.1:1/0", clips["root"], tmp_path, TOKEN)
    env.pop("FFMPEG_SANDBOX", None)
    leader = [sys.executable, "-m", "flask", "--app", "app", "monitor"]
    for name, argv in (("follower", worker_argv("nolandlock")), ("leader", leader)):
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=without_landlock,
        )
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode not in (0, None), f"the {name} started without Landlock"
        problems = [line for line in stderr.splitlines() if "configuration problem" in line]
        assert any("has no Landlock" in p and "FFMPEG_SANDBOX=off" in p for p in problems), (name, stderr[-2000:])
        assert "Traceback" not in stderr, (name, stderr[-2000:])
