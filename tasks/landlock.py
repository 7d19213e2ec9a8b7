"""A small ctypes binding to Linux Landlock (ABI 4 and later): build a ruleset, apply it in a child.

Why our own ~100 lines and not a PyPI binding (docs/architecture.md, "The FFmpeg boundary"): the
`landlock` package handles filesystem rules only (no TCP rules, no ABI 4+), and `landlockpy` is a
single-vendor beta from 2026; the kernel interface is three system calls and three structs.

The follower builds the ruleset (any Python may run there); a short-lived thread of its own then sets
no-new-privs, restricts itself and starts the program (tasks/spawning.py): Landlock, no-new-privs and a
seccomp filter apply to the calling thread only, and the child inherits them, so no Python runs between fork
and exec and the start can be a vfork (fork copied the follower's page tables at every start: a third of its
CPU a job, docs/benchmarks.md fix 39).
"""

from __future__ import annotations

import ctypes
import os

from tasks.seccomp import NoSockets

# System call numbers are the same on every architecture (asm-generic, since Linux 5.13).
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH, RULE_NET_PORT = 1, 2
PR_SET_NO_NEW_PRIVS = 38

# Filesystem rights (uapi/linux/landlock.h).
EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_REG = 1 << 8
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
FS_ALL = {4: (1 << 15) - 1, 5: (1 << 16) - 1}  # every right the ABI knows: all of them are handled
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # the only rights a file rule may carry
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2  # ABI 6
MIN_ABI = 4  # the first ABI with TCP rules: below it the boundary would leave the network open

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class LandlockError(OSError):
    """The kernel refused a Landlock call."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is packed: {u64, s32}, 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """Return the kernel's Landlock ABI version, 0 when the kernel has no Landlock (or it is disabled)."""
    version = _libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    return max(int(version), 0)


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise LandlockError(errno, f"{what}: {os.strerror(errno)}")
    return result


class Ruleset:
    """A Landlock ruleset under construction in the follower; `restrict_thread` applies it to the starting thread."""

    def __init__(self, abi: int) -> None:
        if abi < MIN_ABI:
            raise LandlockError(0, f"Landlock ABI {abi} is below {MIN_ABI} (no TCP rules)")
        self.handled_fs = FS_ALL[min(abi, 5)]
        attr = _RulesetAttr(self.handled_fs, NET_BIND_TCP | NET_CONNECT_TCP, 0)
        size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else 16  # `scoped` exists from ABI 6 on
        if abi >= 6:
            attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        self.fd = _check(
            _libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0), "create ruleset"
        )
        self._no_sockets = NoSockets()  # what Landlock ABI 7 leaves open: UDP and UNIX sockets by path

    def allow(self, path: str, rights: int) -> None:
        """Allow rights on path and (for a folder) everything beneath it; a missing path is skipped."""
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            if not os.path.isdir(f"/proc/self/fd/{fd}"):
                rights &= FILE_RIGHTS  # a file rule carrying folder rights is EINVAL
            rule = _PathBeneath(rights & self.handled_fs, fd)
            _check(_libc.syscall(SYS_ADD_RULE, self.fd, RULE_PATH_BENEATH, ctypes.byref(rule), 0), f"allow {path}")
        finally:
            os.close(fd)

    def restrict_thread(self) -> None:
        """In the thread that will start the program and do nothing else: no new privileges, restrict, no sockets.
        All three hold for this thread (the process's other threads are untouched) and for the children it starts."""
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        _check(_libc.syscall(SYS_RESTRICT_SELF, self.fd, 0), "restrict self")
        _check(self._no_sockets.apply(), "seccomp filter")

    def close(self) -> None:
        """Release the ruleset's file descriptor in the parent."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
