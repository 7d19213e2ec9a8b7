"""scripts/children.py: `make run`'s Python processes are forks of the supervisor that run `python -m MODULE`
in-process (their libraries imported once, before any fork), and behave as that command would: the same
arguments, environment, working folder, exit code and title. Each case runs in its own interpreter (a
driver started here), so the forks are never forks of the test runner."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.support import ROOT


def drive(code: str, cwd, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run code in a new interpreter with scripts/ importable; return what it printed."""
    prelude = f"import sys; sys.path.insert(0, {str(ROOT / 'scripts')!r})\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_forked_child_runs_the_module_as_python_m_would(tmp_path):
    (tmp_path / "probe_mod.py").write_text(
        textwrap.dedent(
            """
            import json, os, sys
            with open("/proc/self/cmdline", "rb") as own:
                title = own.read().split(b"\\0")[0].decode()
            json.dump({"argv": sys.argv[1:], "name": __name__, "cwd": os.getcwd(), "setting": os.environ.get("SETTING"),
                       "path0": sys.path[0], "title": title}, open("seen.json", "w"))
            sys.exit(3)
            """
        )
    )
    done = drive(
        f"""
        import os, children
        child = children.ForkedChild(
            ["python", "-m", "probe_mod", "--flag", "two words"], {{**os.environ, "SETTING": "on"}}, {str(tmp_path)!r}
        )
        print(child.wait(30))
        """,
        cwd=ROOT,
    )
    assert done.stdout.strip() == "3", done.stderr
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["argv"] == ["--flag", "two words"] and seen["name"] == "__main__"
    assert seen["cwd"] == str(tmp_path) and seen["path0"] == str(tmp_path)
    assert seen["setting"] == "on"
    assert seen["title"] == "python -m probe_mod --flag two words"


def test_a_forked_child_killed_or_crashing_is_reported_like_a_process(tmp_path):
    (tmp_path / "sleeper.py").write_text("import time\ntime.sleep(60)\n")
    (tmp_path / "crasher.py").write_text("raise ValueError('the settings file is broken')\n")
    done = drive(
        f"""
        import os, signal, subprocess, children
        sleeper = children.ForkedChild(["python", "-m", "sleeper"], dict(os.environ), {str(tmp_path)!r})
        try:
            sleeper.wait(0.3)
            print("no timeout")
        except subprocess.TimeoutExpired:
            print("timeout")
        print(sleeper.poll())
        sleeper.send_signal(signal.SIGKILL)
        print(sleeper.wait(10))
        crasher = children.ForkedChild(["python", "-m", "crasher"], dict(os.environ), {str(tmp_path)!r})
        print(crasher.wait(30))
        """,
        cwd=ROOT,
    )
    assert done.stdout.split() == ["timeout", "None", "-9", "1"], (done.stdout, done.stderr)
    assert "ValueError: the settings file is broken" in done.stderr


def test_only_a_python_m_command_is_forked():
    done = drive(
        """
        import children
        try:
            children.ForkedChild(["redis-server", "--port", "1"], {}, "/")
        except ValueError as exc:
            print("refused:", exc)
        """,
        cwd=ROOT,
    )
    assert done.stdout.startswith("refused: not a `python -m MODULE` command"), done.stderr


def test_preload_imports_our_packages_and_their_libraries_once_without_threads(tmp_path):
    done = drive(
        f"""
        import gc, json, os, sys, children
        env = {{**os.environ, "DATA_DIR": {str(tmp_path)!r}, "FRAME_SHIFT_HOME": {str(tmp_path)!r}}}
        missing = children.preload(env, {str(ROOT)!r})
        print(json.dumps({{"missing": missing, "frozen": gc.get_freeze_count(), "modules": sorted(sys.modules)}}))
        """,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["missing"] == []
    assert seen["frozen"] > 10_000, "the imported objects are frozen out of the children's collections"
    for module in ("app.monitor.loop", "app.views", "tasks.transcode", "celery.apps.worker", "flower.command"):
        assert module in seen["modules"], module


def test_preload_leaves_out_the_amqp_shell_and_celery_commands_still_run(tmp_path):
    """`celery amqp repl` (click_repl, prompt_toolkit) is left out of make run's processes (fix 15); the worker's
    and Flower's commands still parse, run from the preloaded interpreter as make run's children do."""
    done = drive(
        f"""
        import os, sys, children
        env = {{**os.environ, "DATA_DIR": {str(tmp_path)!r}, "FRAME_SHIFT_HOME": {str(tmp_path)!r}}}
        children.preload(env, {str(ROOT)!r})
        print("prompt_toolkit" in sys.modules, "wcwidth" in sys.modules)
        code = children.run_module([sys.executable, "-m", "celery", "-A", "tasks", "worker", "--help"], env, {str(ROOT)!r})
        print("exit", code)
        """,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "False False", lines[0]
    assert "--concurrency" in done.stdout and lines[-1] == "exit 0", done.stdout[-2000:] + done.stderr


def test_preload_refuses_when_something_started_a_thread(tmp_path):
    done = drive(
        f"""
        import os, threading, time, children
        threading.Thread(target=time.sleep, args=(5,), daemon=True, name="early").start()
        try:
            children.preload({{**os.environ, "DATA_DIR": {str(tmp_path)!r}}}, {str(ROOT)!r})
        except RuntimeError as exc:
            print("refused:", exc)
        """,
        cwd=ROOT,
    )
    assert "refused: an import started a thread" in done.stdout and "early" in done.stdout, done.stderr


def test_a_child_with_a_listener_starts_at_the_first_connection_and_again_after_it_exits(tmp_path):
    """Flower in make run (fix 26): the supervisor holds the port; the process is forked when a connection waits,
    serves it on the inherited socket, and after it exits starts again only at the next connection. Other
    children do not keep the socket open."""
    (tmp_path / "answer.py").write_text(
        textwrap.dedent(
            """
            import os, socket
            listener = socket.socket(fileno=int(os.environ["FRAME_SHIFT_LISTEN_FD"]))
            listener.setblocking(True)
            conn, _ = listener.accept()
            conn.sendall(f"served by {os.getpid()}".encode())
            conn.close()
            """
        )
    )
    (tmp_path / "holds.py").write_text(
        "import os, sys\ntry:\n    os.fstat(int(sys.argv[1]))\n    sys.exit(7)\nexcept OSError:\n    sys.exit(0)\n"
    )
    done = drive(
        f"""
        import os, socket, sys, time, children, supervised
        sys.path.insert(0, {str(tmp_path)!r})
        supervised.BACKOFF_FIRST = 0.2
        listener = supervised.listen("127.0.0.1", 0)
        port = listener.getsockname()[1]
        child = supervised.Child("answer", ["python", "-m", "answer"], dict(os.environ), fork=True, listener=listener)
        other = children.ForkedChild(["python", "-m", "holds", str(listener.fileno())], dict(os.environ), {str(ROOT)!r})
        print("other child holds the socket:", other.wait(30) == 7)
        for _ in range(10):
            child.check(time.monotonic())
            time.sleep(0.05)
        print("started before a connection:", child.proc is not None)

        def visit():
            client = socket.create_connection(("127.0.0.1", port), timeout=20)
            deadline = time.monotonic() + 20
            while (child.proc is None or child.restart_at is not None) and time.monotonic() < deadline:
                child.check(time.monotonic())
                time.sleep(0.02)
            answer = client.recv(100).decode()
            print("answer from the child:", answer == f"served by {{child.proc.pid}}")
            child.proc.wait(20)

        visit()
        for _ in range(20):  # it exited: past its back-off, but no one connects
            child.check(time.monotonic())
            time.sleep(0.05)
        print("restarted without a connection:", child.proc.poll() is None, child.restarts)
        visit()
        print("restarts:", child.restarts)
        """,
        cwd=ROOT,
    )
    said = [line for line in done.stdout.splitlines() if not line.startswith("[run]")]
    assert said == [
        "other child holds the socket: False",
        "started before a connection: False",
        "answer from the child: True",
        "restarted without a connection: False 0",
        "answer from the child: True",
        "restarts: 1",
    ], (done.stdout, done.stderr)
    assert "[run] starting answer: a first visit to its port" in done.stdout
    assert "[run] answer exited with code 0 after 0 s; restarting at the next visit" in done.stdout + done.stderr
    assert "[run] restarting answer (restart 1)" in done.stdout
