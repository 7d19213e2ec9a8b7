"""A follower's CPU and memory figures: /proc parsing, the CPU share over an interval, the leader's checks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.services.follower_load import machine_load
from tasks.machine_load import CpuTimes, LoadSampler, cpu_percent, parse_cpu_line, parse_meminfo

# Recorded from a Linux 6.1 machine (trimmed: the per-CPU lines and the rest follow the same shape).
PROC_STAT = """cpu  74608 2520 24433 1117073 6176 4054 0 0 0 0
cpu0 37784 1260 12101 558329 3063 2070 0 0 0 0
intr 1483 0 0
ctxt 2356345
"""
MEMINFO = """MemTotal:        8048576 kB
MemFree:          501232 kB
MemAvailable:    6036432 kB
Buffers:          118532 kB
Cached:          5203460 kB
HugePages_Total:       0
"""


def test_the_cpu_line_gives_busy_and_total_ticks():
    times = parse_cpu_line(PROC_STAT)
    assert times == CpuTimes(busy=74608 + 2520 + 24433 + 4054, total=74608 + 2520 + 24433 + 1117073 + 6176 + 4054)
    with pytest.raises(ValueError):
        parse_cpu_line("intr 1 2 3\n")


def test_cpu_percent_covers_the_interval_between_two_readings():
    assert cpu_percent(CpuTimes(100, 1000), CpuTimes(400, 2000)) == 30.0
    assert cpu_percent(CpuTimes(100, 1000), CpuTimes(1100, 2000)) == 100.0
    assert cpu_percent(CpuTimes(100, 1000), CpuTimes(100, 1000)) is None  # no time passed
    assert cpu_percent(CpuTimes(500, 1000), CpuTimes(100, 2000)) is None  # counters went back (a reboot)


def test_meminfo_gives_used_as_total_minus_available():
    memory = parse_meminfo(MEMINFO)
    assert memory == {"total": 8048576 * 1024, "available": 6036432 * 1024, "used": (8048576 - 6036432) * 1024}
    old_kernel = parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n")
    assert old_kernel["used"] == 600 * 1024
    with pytest.raises(ValueError):
        parse_meminfo("MemFree: 1 kB\n")


def test_the_sampler_reports_cpu_from_its_second_reading(tmp_path):
    stat, meminfo = tmp_path / "stat", tmp_path / "meminfo"
    stat.write_text("cpu  100 0 0 900 0 0 0 0\n")
    meminfo.write_text(MEMINFO)
    sampler = LoadSampler(str(stat), str(meminfo))
    first = sampler.sample()
    assert first["cpu_percent"] is None and first["memory_percent"] == round(100 * (8048576 - 6036432) / 8048576, 1)
    stat.write_text("cpu  175 0 25 1000 0 0 0 0\n")  # 100 busy of 200 ticks
    assert sampler.sample()["cpu_percent"] == 50.0
    gone = LoadSampler(str(tmp_path / "no-stat"), str(tmp_path / "no-meminfo")).sample()
    assert gone["cpu_percent"] is None and gone["memory_total"] is None


def test_the_real_proc_files_read_on_this_machine():
    sampler = LoadSampler()
    sampler.sample()
    load = sampler.sample()
    assert load["memory_total"] > 0 and 0 <= load["memory_percent"] <= 100


def test_the_leader_keeps_only_sane_figures_and_none_for_an_offline_follower():
    good = {"load": {"cpu_percent": 42.5, "cpus": 8, "memory_used": 2_000, "memory_total": 8_000}}
    assert machine_load(good, True) == {
        "cpu_percent": 42.5,
        "cpus": 8,
        "memory_used": 2000,
        "memory_total": 8000,
        "memory_percent": 25.0,
    }
    assert machine_load(good, False) is None and machine_load({}, True) is None
    bad = {"load": {"cpu_percent": 250, "cpus": "8", "memory_used": 9_000, "memory_total": float("nan")}}
    assert machine_load(bad, True) == dict.fromkeys(
        ("cpu_percent", "cpus", "memory_used", "memory_total", "memory_percent")
    )


def test_get_api_followers_shows_the_load_from_the_advertisement(app, client):
    from app.extensions import db
    from app.models import Follower, utcnow

    with app.app_context():
        db.session.add(
            Follower(
                name="w1@box",
                online=True,
                concurrency=2,
                last_heartbeat=utcnow() - timedelta(seconds=1),
                info={
                    "load": {
                        "cpu_percent": 12.5,
                        "cpus": 4,
                        "memory_used": 3_000_000_000,
                        "memory_total": 8_000_000_000,
                    }
                },
            )
        )
        db.session.commit()
    follower = client.get("/api/followers").get_json()["followers"][0]
    assert follower["load"]["cpu_percent"] == 12.5 and follower["load"]["memory_percent"] == 37.5
    page = client.get("/followers/list").get_data(as_text=True)
    assert "12% of 4 CPUs" in page
    assert "3.0 GB of 8.0 GB (38%)" in page
