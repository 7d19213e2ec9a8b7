"""How every FFmpeg and ffprobe is started (tasks/spawning.py): from a restricted thread of its own, through
setpriv, without forking the caller's memory (real processes, real Landlock)."""

from __future__ import annotations

import errno
import mmap
import os
import resource
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from tasks import sandbox, spawning
from tests.support import ROOT, wait_for


def test_the_child_outlives_the_call_and_only_the_child_is_confined(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("the caller may still read this")
    workdir = sandbox.private_folder(tmp_path / "work")
    proc = sandbox.popen(
        ["sh", "-c", f"read go; echo started; cat {outside}"],  # waits for a line on stdin (read is built in)
        reads=[],
        workdir=workdir,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # The thread that started it must live as long as the child: the kernel sends the death signal when that
    # thread ends (whether it does here depends on a race with setpriv's prctl, so the thread itself is checked).
    time.sleep(1.0)
    assert proc.poll() is None, "the child died with the short-lived thread that started it"
    assert parents() == ["parent-of-sh"]
    assert outside.read_text() == "the caller may still read this"  # the calling thread is not restricted
    (tmp_path / "written.txt").write_text("and may write")
    out, err = proc.communicate(b"go\n", timeout=10)
    assert out == b"started\n"
    assert b"Permission denied" in err  # the child is confined: cat is not among its programs
    wait_for(lambda: not parents(), 5, what="the starting thread to end with its child")


def parents() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("parent-of-") and t.is_alive()]


def child_outlives_the_call(tmp_path) -> None:
    """Start a child that waits for a line; it must still run a second later, its starting thread with it, and
    both end once it has its line."""
    proc = sandbox.popen(
        ["sh", "-c", "read go; echo done"],
        reads=[],
        workdir=sandbox.private_folder(tmp_path / "w"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.0)
    assert proc.poll() is None and parents() == ["parent-of-sh"]
    assert proc.communicate(b"go\n", timeout=10)[0] == b"done\n"
    wait_for(lambda: not parents(), 5, what="the starting thread to end with its child")


def test_without_pidfds_the_starting_thread_still_waits_for_the_child(monkeypatch, tmp_path):
    def no_pidfds(pid: int) -> int:
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", no_pidfds)
    child_outlives_the_call(tmp_path)


def test_a_start_leaves_the_callers_memory_alone():
    # A fork write-protects every page of the caller; its next write to each page then faults. vfork does not.
    script = textwrap.dedent(f"""
        import mmap, resource, sys
        sys.path.insert(0, {str(ROOT)!r})
        from tasks import sandbox
        pages = 20000
        heap = bytearray(pages * mmap.PAGESIZE)  # private memory (an anonymous mmap would be shared)
        for i in range(pages):
            heap[i * mmap.PAGESIZE] = 1
        sandbox.run(["true"])  # warm: imports, ldd, the first thread
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        sandbox.run(["true"])
        for i in range(pages):
            heap[i * mmap.PAGESIZE] = 2
        print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """)
    faults = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)
    assert faults < 2000, f"{faults} page faults after one start: the caller's memory was forked"


def test_control_a_fork_does_fault_on_every_page():
    # The measure above can fail: the same writes after a plain fork fault on every page.
    pages = 5000
    heap = bytearray(pages * mmap.PAGESIZE)
    for i in range(pages):
        heap[i * mmap.PAGESIZE] = 1
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    subprocess.run(["true"], preexec_fn=lambda: None, check=True)  # noqa: PLW1509  (a fork, on purpose)
    for i in range(pages):
        heap[i * mmap.PAGESIZE] = 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before >= pages


def test_a_program_that_is_not_installed_raises_file_not_found():
    with pytest.raises(FileNotFoundError):
        spawning.spawn(["frameshift-no-such-program"], None)


def test_without_setpriv_the_follower_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    problem = sandbox.startup_problem()
    assert problem and "setpriv" in problem and "util-linux" in problem
    with pytest.raises(sandbox.SandboxError, match="util-linux"):
        sandbox.run([os.path.realpath("/bin/true")])


def test_a_process_with_many_open_files_still_starts_and_keeps_its_child(tmp_path):
    # The starting thread waits on a pidfd; numbered above FD_SETSIZE (1024), select() would refuse it.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip(f"the open-file limit here is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        child_outlives_the_call(tmp_path)
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
