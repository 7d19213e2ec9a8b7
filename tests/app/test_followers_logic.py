"""Pure follower logic: waiting reasons, path-mapping messages, stop reasons, progress that never blocks."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import redis

from app.monitor.registry import FollowerState, Registry
from app.monitor.slots import waiting_reason
from tasks.convert import mapping_note
from tasks.reporting import Reporter, StopCheck

# What on_progress_exchange reads of a connection (tasks/reporting.py: the reports' own exchange, fix 51).
REDIS_TRANSPORT = SimpleNamespace(driver_type="redis")


def registry_with(*followers: tuple[str, list[str], bool]) -> Registry:
    """Followers as (name, encoders, online)."""
    registry = Registry(lost_after=10)
    for name, encoders, online in followers:
        registry.followers[name] = FollowerState(
            name=name, encoders=encoders, last_seen=time.time() - (0 if online else 60)
        )
    return registry


def test_waiting_reasons_say_what_is_missing():
    gpu, cpu = ("gpu@a", ["h264_nvenc", "libx264"], True), ("cpu@b", ["libx264"], True)
    assert waiting_reason("libx264", registry_with(cpu), set(), paused=True) == "waiting: the queue is paused"
    assert waiting_reason(None, registry_with(), set(), False) == "waiting: no follower is online"
    assert (
        waiting_reason(None, registry_with(("x@c", ["libx264"], False)), set(), False)
        == "waiting: no follower is online"
    )
    assert (
        waiting_reason("h264_nvenc", registry_with(cpu), set(), False)
        == "waiting: no follower online has the h264_nvenc encoder"
    )
    assert (
        waiting_reason("h264_nvenc", registry_with(cpu, gpu), {"gpu@a"}, False)
        == "waiting: every follower with the h264_nvenc encoder is draining"
    )
    assert (
        waiting_reason("h264_nvenc", registry_with(cpu, gpu), {"cpu@b"}, False)
        == "waiting for a free slot on a follower with h264_nvenc"
    )
    assert (
        waiting_reason(None, registry_with(cpu, gpu), {"cpu@b", "gpu@a"}, False)
        == "waiting: every follower is draining"
    )
    assert waiting_reason(None, registry_with(cpu), set(), False) == "waiting for a free follower slot"


def test_a_stopping_follower_is_not_offered_work():
    registry = registry_with(("cpu@b", ["libx264"], True))
    registry.followers["cpu@b"].shutting_down = True
    assert waiting_reason("libx264", registry, set(), False) == "waiting: no follower is online"


def test_mapping_notes_name_the_leader_path_the_local_path_and_the_map():
    assert "FOLLOWER_PATH_MAP is not set" in mapping_note("/media/a.mkv", "/media/a.mkv", [])
    assert (
        mapping_note("/media/a.mkv", "/mnt/a.mkv", [("/media", "/mnt")])
        == "; the leader's path /media/a.mkv was mapped to /mnt/a.mkv by FOLLOWER_PATH_MAP=/media=/mnt"
    )
    assert (
        mapping_note("/srv/a.mkv", "/srv/a.mkv", [("/media", "/mnt"), ("/tv", "/x")])
        == "; no entry of FOLLOWER_PATH_MAP=/media=/mnt;/tv=/x matches the leader's path /srv/a.mkv"
    )


class FakeRedis:
    """Only what StopCheck calls."""

    def __init__(self, values: dict[str, bytes], fail: bool = False) -> None:
        self.values, self.fail = values, fail

    def mget(self, names):
        if self.fail:
            raise redis.ConnectionError("down")
        return [self.values.get(n) for n in names]


def test_stop_check_tells_cancel_from_shutdown_and_keeps_going_when_redis_is_down():
    down = StopCheck(lambda: FakeRedis({}, fail=True), "t1", "w@h")
    assert down() is None
    assert StopCheck(lambda: FakeRedis({}), "t1", "w@h")() is None
    cancel = StopCheck(
        lambda: FakeRedis({"frameshift:cancel:t1": b"cancel", "frameshift:stopping:w@h": b"1"}), "t1", "w@h"
    )
    assert cancel() == "cancel" and not cancel.shutting_down
    stopping = StopCheck(lambda: FakeRedis({"frameshift:stopping:w@h": b"123"}), "t1", "w@h")
    assert stopping() == "shutdown" and stopping.shutting_down
    lost = StopCheck(lambda: FakeRedis({"frameshift:cancel:t1": b"follower w@h was lost"}), "t1", "w@h")
    assert lost() == "follower w@h was lost"


def test_progress_hand_over_never_waits_for_a_stuck_broker():
    entered, release = threading.Event(), threading.Event()

    def store_result(*_args, **_kwargs):
        entered.set()
        release.wait(10)  # a broker that hangs

    task = SimpleNamespace(
        request=SimpleNamespace(id="task-1", hostname="w@h"),
        backend=SimpleNamespace(store_result=store_result),
        app=None,
    )
    reporter = Reporter(task, lambda: None, interval=0.05, lease_seconds=30)
    reporter({"stage": "starting", "percent": 0.0})
    assert entered.wait(5), "the first report was not sent"
    started = time.monotonic()
    for percent in range(100):
        reporter({"stage": "encoding", "percent": float(percent)})
    assert time.monotonic() - started < 0.5
    assert reporter.state["percent"] == 99.0
    release.set()
    reporter.close()
    assert not reporter.thread.is_alive()


def test_a_follower_refuses_a_path_map_it_could_never_use(tmp_path):
    from tasks.preflight import follower_problems

    media = tmp_path / "media"
    media.mkdir()
    env = {"SHARED_TOKEN": "x" * 32, "FRAME_SHIFT_HOME": str(media), "REDIS_URL": "redis://127.0.0.1:1/0"}
    assert follower_problems({**env, "FOLLOWER_PATH_MAP": f"/leader/media={media}"}) == []
    bad = follower_problems({**env, "FOLLOWER_PATH_MAP": "/leader/media=relative;/tv=/srv/tv"})
    assert bad == [
        "FOLLOWER_PATH_MAP entry '/leader/media=relative': write LEADER_FOLDER=LOCAL_FOLDER with two absolute "
        "paths, entries separated by ';'",
        f"FOLLOWER_PATH_MAP maps /tv to /srv/tv, which is outside this follower's media folders ({media}): "
        "every job would be refused",
    ]


def test_the_lease_is_renewed_every_few_seconds_not_with_every_report():
    """Two reports a second each renewed the lease too (a Redis SET each): the lease lives JOB_LEASE_SECONDS and
    the leader waits LEASE_GRACE without one, so one renewal every sixth of the lease (at most 5 s) is plenty."""
    sets, events, made, closed = [], [], [], []

    class Dispatcher:
        def __init__(self, connection, hostname, enabled, buffer_while_offline):
            assert (hostname, enabled, buffer_while_offline) == ("w@h", True, False)
            self.connection = connection
            made.append(self)

        def send(self, kind, **fields):
            events.append(kind)

        def close(self):
            closed.append(self)

    client = SimpleNamespace(set=lambda key, value, ex: sets.append((key, ex)))
    task = SimpleNamespace(
        request=SimpleNamespace(id="task-1", hostname="w@h"),
        backend=SimpleNamespace(store_result=lambda *a, **k: None),
        app=SimpleNamespace(
            connection_for_write=lambda: SimpleNamespace(release=lambda: None, transport=REDIS_TRANSPORT),
            events=SimpleNamespace(Dispatcher=Dispatcher),
        ),
    )
    reporter = Reporter(task, lambda: client, interval=0.05, lease_seconds=30)
    for percent in range(30):
        reporter({"stage": "encoding", "percent": float(percent)})
        time.sleep(0.05)
    reporter.close()
    assert len(events) >= 10  # progress still goes out at its own rate
    assert len(made) == 1 and closed == [], "one event dispatcher for all the attempt's reports, kept for the next"
    assert len(sets) == 1, sets  # the first report takes the lease; the next renewal is due 5 s later
    short = Reporter(task, lambda: client, interval=0.05, lease_seconds=3)  # a short lease: every 0.5 s
    sets.clear()
    for percent in range(24):
        short({"stage": "encoding", "percent": float(percent)})
        time.sleep(0.05)
    short.close()
    assert 2 <= len(sets) <= 4, sets


def test_one_event_dispatcher_serves_every_attempt_of_a_process_and_a_failed_one_is_replaced():
    """A dispatcher per attempt opened a broker connection and a channel for every job (fix 21): the process keeps
    one per follower name; a send that fails drops it (its connection may be broken) and the next report makes a
    new one."""
    from tasks import reporting

    made, closed, sent = [], [], []
    fail = threading.Event()

    class Dispatcher:
        def __init__(self, connection, hostname, enabled, buffer_while_offline):
            self.connection = connection
            made.append(self)

        def send(self, kind, **fields):
            if fail.is_set():
                fail.clear()
                raise ConnectionError("Connection reset by peer")
            sent.append((self, fields["uuid"]))

        def close(self):
            closed.append(self)

    app = SimpleNamespace(
        connection_for_write=lambda: SimpleNamespace(release=lambda: None, transport=REDIS_TRANSPORT),
        events=SimpleNamespace(Dispatcher=Dispatcher),
    )
    client = SimpleNamespace(set=lambda key, value, ex: None)
    reporting.EVENTS.drop_all()

    def attempt(task_id: str, hostname: str = "w@h") -> None:
        task = SimpleNamespace(
            request=SimpleNamespace(id=task_id, hostname=hostname),
            backend=SimpleNamespace(store_result=lambda *a, **k: None),
            app=app,
        )
        reporter = Reporter(task, lambda: client, interval=0.02, lease_seconds=30)
        for percent in range(5):
            reporter({"stage": "encoding", "percent": float(percent)})
            time.sleep(0.03)
        reporter.close()

    attempt("task-a")
    attempt("task-b")
    assert len(made) == 1 and closed == []
    assert {uuid for _, uuid in sent} == {"task-a", "task-b"}
    fail.set()
    attempt("task-c")
    assert len(made) == 2 and closed == [made[0]], "the dispatcher whose send failed is closed and replaced"
    assert any(d is made[1] and uuid == "task-c" for d, uuid in sent)
    attempt("task-d", hostname="v@h")  # another follower in the same process (bench/simfollower.py): its own
    attempt("task-e")
    assert len(made) == 3 and {uuid for d, uuid in sent if d is made[2]} == {"task-d"}
    assert any(d is made[1] and uuid == "task-e" for d, uuid in sent)
    reporting.EVENTS.drop_all()
    assert closed == made
