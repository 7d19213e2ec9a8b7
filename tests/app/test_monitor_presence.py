"""The tick's one Redis round trip for reachability and the followers' presence (fix 34, docs/benchmarks.md "Lean").

A PING and the presence read (INFO and CLIENT LIST) were two round trips, so two wake-ups of the monitor, every half
second. The presence read's answer now proves Redis is reachable; a refused read (Redis answers, an ACL say) falls
back to a PING, and an unreachable Redis is an outage as before. Real Redis; the failures are made by patching the
read only."""

from __future__ import annotations

import redis

from app.monitor.loop import Monitor
from tasks import keys
from tests.support import wait_for


def test_a_tick_reads_presence_once_and_sends_no_ping(app, monkeypatch):
    pings: list[int] = []
    original = redis.Redis.ping
    monkeypatch.setattr(redis.Redis, "ping", lambda self, **kw: pings.append(1) or original(self, **kw))
    monitor = Monitor(app)
    name = "present@host"
    state = monitor.registry.seen(name)
    named = redis.Redis.from_url(app.config["REDIS_URL"], client_name=keys.presence(name))
    try:
        named.ping()  # the follower's named presence connection is open
        pings.clear()
        with app.app_context():
            monitor.tick()
            assert not monitor.broker_down
            assert monitor.presence is not None, "the tick did not keep its presence read"
            assert pings == [], "the tick pinged Redis beside its presence read"
            assert state.present, "the follower's open connection was not seen"
    finally:
        named.close()


def test_a_refused_presence_read_falls_back_to_a_ping_and_an_unreachable_redis_is_an_outage(app, monkeypatch):
    monitor = Monitor(app)
    pings: list[int] = []
    original = redis.Redis.ping
    monkeypatch.setattr(redis.Redis, "ping", lambda self, **kw: pings.append(1) or original(self, **kw))

    def refused():
        raise redis.ResponseError("NOPERM this user has no permissions to run the 'client|list' command")

    monkeypatch.setattr(monitor.registry, "read_presence", refused)
    with app.app_context():
        assert monitor.broker_reachable() is True, "Redis answers: a refused read is no outage"
        assert pings == [1] and monitor.presence is None
        assert monitor.registry.check_presence(monitor.presence) is False  # judged by heartbeats alone

        def unreachable():
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

        monkeypatch.setattr(monitor.registry, "read_presence", unreachable)
        assert monitor.broker_reachable() is False
        assert monitor.broker_down, "an unreachable Redis was not taken for an outage"


def test_the_run_id_is_read_only_when_a_connection_is_missing_and_a_new_one_judges_nobody(app, monkeypatch):
    """Fix 49: INFO (the server's run id: a restarted Redis lost every connection) was read at every poll; it is read
    at the first and when a present follower's connection is missing, the only polls it can change."""
    monitor = Monitor(app)
    registry = monitor.registry
    infos: list[str] = []
    original = redis.Redis.info
    run_id: list[str | None] = [None]  # None: the server's own

    def info(self, section=None, *args, **kwargs):
        infos.append(section)
        answer = original(self, section, *args, **kwargs)
        return {**answer, "run_id": run_id[0]} if run_id[0] else answer

    monkeypatch.setattr(redis.Redis, "info", info)
    name = "present@host"
    state = registry.seen(name)

    def connect() -> redis.Redis:
        named = redis.Redis.from_url(app.config["REDIS_URL"], client_name=keys.presence(name))
        named.ping()
        return named

    def gone(named: redis.Redis) -> None:
        named.close()
        wait_for(lambda: keys.presence(name).encode() not in registry.read_presence(), 5, what="the connection gone")

    with app.app_context():
        named = connect()
        assert registry.check_presence() is False and infos == ["server"]  # the first look
        for _ in range(3):
            assert registry.check_presence() is False
        assert infos == ["server"] and state.present, "INFO was read while every connection was there"
        gone(named)
        assert registry.check_presence() is False and state.absent_polls == 1
        assert registry.check_presence() is True and state.crashed  # two polls missing, same run: it crashed
        assert infos == ["server"] * 3
        named = connect()
        assert registry.check_presence() is False and state.present and not state.crashed
        run_id[0] = "f" * 40  # Redis restarted: every connection was lost, the followers come back when they reconnect
        gone(named)
        for _ in range(3):
            assert registry.check_presence() is False, "a follower was judged by the restart of Redis"
        assert not state.present and not state.crashed and state.absent_polls == 0
        named = connect()
        assert registry.check_presence() is False and state.present
        named.close()
