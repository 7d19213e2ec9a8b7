"""The tick's one Redis round trip for reachability and the followers' presence (fix 34, docs/benchmarks.md "Lean").

A PING and the presence read (INFO and CLIENT LIST) were two round trips, so two wake-ups of the monitor, every half
second. The presence read's answer now proves Redis is reachable; a refused read (Redis answers, an ACL say) falls
back to a PING, and an unreachable Redis is an outage as before. Real Redis; the failures are made by patching the
read only."""

from __future__ import annotations

import redis

from app.monitor.loop import Monitor
from tasks import keys


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
