"""Live CPU and memory of each follower machine on the Followers page and in GET /api/followers (real follower)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support import HOSTNAME, wait_for
from tests.ui.conftest import shot


def test_followers_page_shows_the_machines_cpu_and_memory(page, ui_stack, live_server, api):
    name = f"ui1@{HOSTNAME}"

    def reported():
        follower = next((f for f in api.get("/api/followers")["followers"] if f["name"] == name), None)
        load = follower and follower["load"]
        return load if load and load["cpu_percent"] is not None else None

    # The CPU share needs two readings of /proc/stat, one renewal (10 s) apart.
    load = wait_for(reported, 40, 0.5, what="the follower's CPU figure")
    assert 0 <= load["cpu_percent"] <= 100 and load["cpus"] >= 1
    assert 0 < load["memory_used"] < load["memory_total"] and 0 < load["memory_percent"] < 100
    page.goto("/followers/")
    card = page.locator(f'[data-follower="{name}"]')
    expect(card.locator('[data-field="cpu"]')).to_have_text(re.compile(r"^\s*\d{1,3}% of \d+ CPUs?\s*$"))
    expect(card.locator('[data-field="memory"]')).to_have_text(
        re.compile(r"^\s*[\d.]+ [KMGT]?B of [\d.]+ [KMGT]?B \(\d{1,3}%\)\s*$")
    )
    shot(page, "followers-load")
