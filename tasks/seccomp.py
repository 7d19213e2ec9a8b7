"""A seccomp filter that refuses sockets to FFmpeg: what Landlock ABI 7 leaves open (UDP, pathname UNIX sockets).

FFmpeg needs no socket to read a local file and write another. Landlock's TCP rules cover TCP only; a
UDP datagram or a connection to a UNIX socket by path (redis.sock, docker.sock) still went through.
So the child also gets this filter: `socket()` and `io_uring_setup()` (which could open sockets without
the system call) fail with EACCES, as does any system call of another ABI (x32, 32-bit compat). Built
in the follower; the thread that starts the child installs it on itself with prctl (after no-new-privs, which
Landlock sets anyway), and the child inherits it.
"""

from __future__ import annotations

import ctypes
import errno
import platform

PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
LD_ABS_W, JEQ_K, JGE_K, RET_K = 0x20, 0x15, 0x35, 0x06
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
X32_BIT = 0x40000000
# machine -> (AUDIT_ARCH_*, socket, io_uring_setup)
ARCHES = {"x86_64": (0xC000003E, 41, 425), "aarch64": (0xC00000B7, 198, 425)}

_libc = ctypes.CDLL(None, use_errno=True)


class _Insn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_Insn))]


class NoSockets:
    """The filter program, ready for `apply()` in a child; `supported` is False on other architectures."""

    def __init__(self, machine: str | None = None) -> None:
        arch = ARCHES.get(machine or platform.machine())
        self.supported = arch is not None
        if arch is None:
            return
        audit_arch, nr_socket, nr_io_uring = arch
        deny = RET_ERRNO | errno.EACCES
        program = [
            (LD_ABS_W, 0, 0, 4),  # seccomp_data.arch
            (JEQ_K, 0, 5, audit_arch),
            (LD_ABS_W, 0, 0, 0),  # seccomp_data.nr
            (JGE_K, 3, 0, X32_BIT),
            (JEQ_K, 2, 0, nr_socket),
            (JEQ_K, 1, 0, nr_io_uring),
            (RET_K, 0, 0, RET_ALLOW),
            (RET_K, 0, 0, deny),
        ]
        self._insns = (_Insn * len(program))(*[_Insn(*i) for i in program])
        self._prog = _Prog(len(program), self._insns)

    def apply(self) -> int:
        """On the calling thread, after no-new-privs: install the filter; return 0 or -1 (errno set)."""
        if not self.supported:
            return 0
        return _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(self._prog), 0, 0)
