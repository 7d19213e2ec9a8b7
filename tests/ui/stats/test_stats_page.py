"""The Statistics page in Chromium: its figures match the database and the API, its charts draw in both themes
and at phone width, and the tables under the charts carry the same numbers."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.stats_seed import MB, ROWS, expected
from tests.ui.conftest import shot
from tests.ui.stats.conftest import no_horizontal_overflow

CHARTS = ["saved", "folders", "outcomes", "followers", "codecs", "containers", "ratio", "wait", "conversion"]
# --ok of each theme (app/static/app.css): the colour of the "saved" bars.
OK = {"light": (0x1D, 0x7A, 0x3E), "dark": (0x5F, 0xD0, 0x8A)}
PIXELS = """([name, rgb]) => {
  const canvas = document.querySelector('#chart-' + name + ' canvas');
  if (!canvas) return null;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0, match = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] === 0) continue;
    painted++;
    if (Math.abs(data[i] - rgb[0]) < 16 && Math.abs(data[i + 1] - rgb[1]) < 16 && Math.abs(data[i + 2] - rgb[2]) < 16) match++;
  }
  return {painted, match, width: canvas.width, height: canvas.height};
}"""


def table(page, table_id: str) -> dict[str, list[str]]:
    """Each body row of a table: its header cell's text -> the data-value of its number cells."""
    return page.evaluate(
        """(id) => Object.fromEntries([...document.querySelectorAll('#' + id + ' tbody tr')]
             .filter(tr => tr.querySelector('th'))
             .map(tr => [tr.querySelector('th').textContent.trim(),
                         [...tr.querySelectorAll('td.num')].map(td => td.dataset.value)]))""",
        table_id,
    )


def api_figures(stats_server, query: str = "period=all") -> dict:
    response = stats_server.app.test_client().get(f"/api/stats?{query}")
    assert response.status_code == 200
    return response.get_json()


def database_totals(stats_server) -> dict:
    """Counts and bytes straight from the jobs table (not from the statistics tables)."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Job

    with stats_server.app.app_context():
        counts = dict(db.session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        saved = db.session.execute(
            select(func.sum(Job.input_size - Job.output_size)).where(Job.status == "succeeded")
        ).scalar()
    return {**counts, "saved": int(saved)}


def test_figures_match_the_database_the_api_and_each_other(open_page, stats_server):
    page = open_page("/stats/?period=all")
    expect(page.get_by_role("link", name="Statistics")).to_have_attribute("aria-current", "page")
    api = api_figures(stats_server)
    db_totals = database_totals(stats_server)
    want = expected(None)
    tiles = {
        key: int(page.locator(f"#total-{key}").get_attribute("data-value")) for key in ("saved", "succeeded", "failed")
    }
    assert tiles == {"saved": db_totals["saved"], "succeeded": db_totals["succeeded"], "failed": db_totals["failed"]}
    assert tiles["saved"] == api["totals"]["saved_bytes"] == want["totals"]["saved_bytes"]
    # The page's charts draw from the JSON embedded in it: the same figures as the API.
    embedded = json.loads(page.locator("#stats-data").text_content())
    for figures in (embedded, api):
        for follower in figures["followers"]:
            follower.pop("online_seconds"), follower.pop("busy_share")
    assert embedded == api
    # Each table carries the numbers its chart draws.
    assert {k: int(v[-1]) for k, v in table(page, "table-folders").items()} == want["folders"]
    assert {k: int(v[-1]) for k, v in table(page, "table-folders").items()} == {
        f["folder"]: f["saved_bytes"] for f in api["folders"]
    }
    saved = table(page, "table-saved")
    assert [int(v[0]) for v in saved.values()] == [d["saved_bytes"] for d in api["days"]]
    assert int(list(saved.values())[-1][1]) == want["totals"]["saved_bytes"]
    outcomes = table(page, "table-outcomes")
    assert sum(int(v[0]) for v in outcomes.values()) == db_totals["succeeded"]
    assert sum(int(v[1]) for v in outcomes.values()) == db_totals["failed"]
    assert sum(int(v[2]) for v in outcomes.values()) == db_totals["cancelled"]
    assert {k: int(v[0]) for k, v in table(page, "table-failures").items()} == want["reasons"]
    followers = table(page, "table-followers")
    assert {k: (int(v[0]), int(v[1])) for k, v in followers.items()} == {
        name: (f["succeeded"], f["failed"]) for name, f in want["followers"].items()
    }
    codecs = table(page, "table-codecs")
    assert {k: int(v[0]) for k, v in codecs.items() if int(v[0])} == want["codecs_before"]
    assert {k: int(v[1]) for k, v in codecs.items() if int(v[1])} == want["codecs_after"]
    containers = table(page, "table-containers")
    assert {k: int(v[0]) for k, v in containers.items() if int(v[0])} == want["containers_before"]
    ratio_rows = page.evaluate(
        """() => [...document.querySelectorAll('#table-ratio tbody tr')].map(tr =>
             [tr.querySelector('th').textContent.trim(), tr.querySelectorAll('td')[0].textContent.trim(),
              Number(tr.querySelector('td.num:last-child').dataset.value)])"""
    )
    assert {(c, p): r for c, p, r in ratio_rows} == pytest.approx(want["ratios"], rel=1e-3)
    times = table(page, "table-times")
    assert float(times["Waiting in the queue"][1]) == pytest.approx(want["wait_median"], rel=0.1)
    assert float(times["Converting"][2]) == pytest.approx(want["work_p90"], rel=0.1)
    # A failure reason links to its jobs' pages.
    lost = page.get_by_role("row", name="follower alpha@host was lost")
    links = lost.get_by_role("link")
    expect(links).to_have_count(2)
    links.first.click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+$"))
    shot(page, "stats-linked-job")


def test_period_choice_changes_the_figures(open_page, stats_server):
    page = open_page("/stats/?period=all")
    expect(page.locator("#table-folders")).to_contain_text("Old")
    page.get_by_role("link", name="7 days").click()
    expect(page).to_have_url(re.compile(r"period=week"))
    expect(page.locator("#table-folders")).not_to_contain_text("Old")
    assert int(page.locator("#total-succeeded").get_attribute("data-value")) == expected(7)["totals"]["succeeded"]
    page.get_by_label("From", exact=True).fill("2000-01-01")
    page.get_by_label("To", exact=True).fill("2000-01-31")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#total-succeeded")).to_have_attribute("data-value", "0")
    expect(page.locator("#chart-folders")).to_have_text("Nothing to chart for this period.")


@pytest.mark.parametrize(("scheme", "width"), [("light", 1280), ("dark", 1280), ("light", 390), ("dark", 390)])
def test_charts_draw_in_both_themes_and_fit_a_phone(open_page, scheme, width):
    page = open_page("/stats/?period=all", width=width, scheme=scheme)
    expect(page.locator("html")).to_have_attribute("data-charts-drawn", "1")
    for name in CHARTS:
        drawn = page.evaluate(PIXELS, [name, list(OK[scheme])])
        assert drawn is not None, f"chart {name} has no canvas"
        assert drawn["width"] > 0 and drawn["height"] > 0
        assert drawn["painted"] > 500, f"chart {name} is blank: {drawn}"
        box = page.locator(f"#chart-{name}").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, f"chart {name} is wider than the screen"
    # The bars of space saved are in the theme's own colour, not the other theme's.
    other = "dark" if scheme == "light" else "light"
    assert page.evaluate(PIXELS, ["folders", list(OK[scheme])])["match"] > 100
    assert page.evaluate(PIXELS, ["folders", list(OK[other])])["match"] == 0
    assert no_horizontal_overflow(page) == 0
    shot(page, f"stats-{scheme}-{width}")


def test_switching_the_theme_redraws_the_charts_in_its_colours(open_page):
    page = open_page("/stats/?period=all", scheme="light")
    expect(page.locator("html")).to_have_attribute("data-charts-drawn", "1")
    assert page.evaluate(PIXELS, ["folders", list(OK["light"])])["match"] > 100
    page.get_by_role("button", name="Switch to dark theme").click()
    expect(page.locator("html")).to_have_attribute("data-charts-drawn", "2")
    assert page.evaluate(PIXELS, ["folders", list(OK["dark"])])["match"] > 100
    assert page.evaluate(PIXELS, ["folders", list(OK["light"])])["match"] == 0


def test_seed_is_what_the_test_thinks():
    # Guards the expectations above against an edit of the seed that makes them vacuous.
    assert len(ROWS) == 12 and expected(None)["totals"]["saved_bytes"] == sum(
        (r[9] - r[10]) * MB for r in ROWS if r[1] == "succeeded"
    )
