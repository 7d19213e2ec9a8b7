"""Statistics aggregates on SQLite and PostgreSQL: GET /api/stats against figures worked out from the seeded jobs."""

from __future__ import annotations

import pytest

from tests.stats_seed import MB, ROWS, expected, seed

pytestmark = pytest.mark.both_databases


@pytest.fixture
def seeded(app, clips):
    from app.models import utcnow

    with app.app_context():
        return seed(clips["root"], utcnow().date())


def by(items: list[dict], key: str) -> dict:
    return {item[key]: item for item in items}


@pytest.mark.parametrize(("period", "days"), [("all", None), ("month", 30), ("week", 7), ("day", 1)])
def test_figures_match_the_jobs(client, seeded, period, days):
    data = client.get(f"/api/stats?period={period}").get_json()
    want = expected(days)
    totals = data["totals"]
    assert {k: totals[k] for k in want["totals"]} == want["totals"]
    assert {f["folder"]: f["saved_bytes"] for f in data["folders"]} == want["folders"]
    assert {r["reason"]: r["count"] for r in data["failures"]["reasons"]} == want["reasons"]
    followers = by(data["followers"], "name")
    assert set(followers) == set(want["followers"])
    for name, entry in want["followers"].items():
        got = followers[name]
        assert (got["succeeded"], got["failed"], got["cancelled"]) == (
            entry["succeeded"],
            entry["failed"],
            entry["cancelled"],
        )
        assert got["busy_seconds"] == pytest.approx(entry["busy"])
        codecs = by(got["codecs"], "codec")
        assert set(codecs) == set(entry["codecs"])
        for codec, figures in entry["codecs"].items():
            assert codecs[codec]["jobs"] == figures["jobs"]
            assert codecs[codec]["speed"] == pytest.approx(figures["media"] / figures["work"], rel=1e-3)
            assert codecs[codec]["fps"] == pytest.approx(sum(figures["fps"]) / len(figures["fps"]), rel=1e-3)
    assert {c["name"]: c["jobs"] for c in data["codecs"]["before"]} == want["codecs_before"]
    assert {c["name"]: c["jobs"] for c in data["codecs"]["after"]} == want["codecs_after"]
    assert {c["name"]: c["jobs"] for c in data["containers"]["before"]} == want["containers_before"]
    assert {c["name"]: c["jobs"] for c in data["containers"]["after"]} == want["containers_after"]
    ratios = {(r["codec"], r["preset"]): r["ratio"] for r in data["size_ratio"]}
    assert ratios == pytest.approx(want["ratios"], rel=1e-3)
    waits, works = data["durations"]["wait"], data["durations"]["conversion"]
    assert waits["median"] == pytest.approx(want["wait_median"], rel=0.1)
    assert waits["p90"] == pytest.approx(want["wait_p90"], rel=0.1)
    assert works["median"] == pytest.approx(want["work_median"], rel=0.1)
    assert works["p90"] == pytest.approx(want["work_p90"], rel=0.1)
    # Every day of the period has an entry; the per-day figures add up to the totals.
    if days:
        assert len(data["days"]) == days
    assert sum(d["succeeded"] for d in data["days"]) == want["totals"]["succeeded"]
    assert data["days"][-1]["saved_cumulative"] == want["totals"]["saved_bytes"]


def test_failure_reasons_link_to_their_jobs(client, seeded):
    reasons = by(client.get("/api/stats").get_json()["failures"]["reasons"], "reason")
    lost = reasons["follower alpha@host was lost"]
    assert lost["count"] == 2 and sorted(lost["jobs"]) == sorted([seeded[6], seeded[7]])
    # A cleared job still counts (space saved stays saved) but is no longer linked.
    client.delete(f"/api/jobs/{seeded[7]}")
    lost = by(client.get("/api/stats").get_json()["failures"]["reasons"], "reason")["follower alpha@host was lost"]
    assert lost["count"] == 2 and lost["jobs"] == [seeded[6]]


def test_a_retried_job_moves_from_failed_to_its_new_outcome(app, client, seeded):
    from app.extensions import db
    from app.models import Job, JobStatus, utcnow
    from app.services.transitions import transition

    assert client.get("/api/stats").get_json()["totals"]["failed"] == 3
    with app.app_context():
        job = db.session.get(Job, seeded[5])
        transition(job, JobStatus.QUEUED)
        db.session.commit()
    figures = client.get("/api/stats").get_json()["totals"]
    assert figures["failed"] == 2 and figures["succeeded"] == 8
    with app.app_context():
        job = db.session.get(Job, seeded[5])
        transition(job, JobStatus.DISPATCHED)
        job.started_at = utcnow()
        transition(job, JobStatus.SUCCEEDED, output_size=50 * MB, result={"video_codec": "hevc"})
        db.session.commit()
    figures = client.get("/api/stats").get_json()["totals"]
    assert figures["failed"] == 2 and figures["succeeded"] == 9
    assert figures["saved_bytes"] == expected(None)["totals"]["saved_bytes"] + 150 * MB


def test_date_range_and_bad_arguments(client, seeded):
    from datetime import timedelta

    from app.models import utcnow

    today = utcnow().date()
    first = (today - timedelta(days=2)).isoformat()
    data = client.get(f"/api/stats?from={first}&to={today.isoformat()}").get_json()
    assert data["period"] == {"name": "range", "from": first, "to": today.isoformat()}
    assert data["totals"]["jobs"] == expected(3)["totals"]["jobs"]
    for query, field in [
        ("period=year", "period"),
        ("from=2024-01-01", "to"),
        ("from=2024-13-01&to=2024-12-01", "from"),
        ("from=yesterday&to=2024-01-01", "from"),
        ("from=2024-02-01&to=2024-01-01", "to"),
        ("period=all&from=2024-01-01&to=2024-01-02", "period"),
    ]:
        response = client.get(f"/api/stats?{query}")
        assert response.status_code == 400, query
        assert response.get_json()["field"] == field, (query, response.get_json())
        assert response.get_json()["error"]


def test_rebuild_gives_the_same_figures_as_incremental_refresh(app, client, seeded):
    from app.extensions import db
    from app.models import StatsDaily
    from app.services.stats_refresh import rebuild

    def figures() -> dict:
        data = client.get("/api/stats").get_json()
        for follower in data["followers"]:  # online time runs on with the clock
            follower.pop("online_seconds"), follower.pop("busy_share")
        return data

    incremental = figures()
    with app.app_context():
        before = db.session.query(StatsDaily).count()
        assert rebuild() == len(seeded)
        assert db.session.query(StatsDaily).count() == before
    assert figures() == incremental


def test_whole_months_and_the_days_around_them_add_up_the_same(client, seeded):
    """Long periods read whole months from stats_monthly and the days at either end from stats_daily."""
    from datetime import timedelta

    from app.models import utcnow

    today = utcnow().date()
    every = client.get("/api/stats?period=all").get_json()
    for first in (today - timedelta(days=400), (today - timedelta(days=45)).replace(day=1), today - timedelta(days=45)):
        ranged = client.get(f"/api/stats?from={first.isoformat()}&to={today.isoformat()}").get_json()
        for key in ("totals", "folders", "codecs", "containers", "size_ratio", "durations"):
            assert ranged[key] == every[key], (first, key)
    # One whole month alone, and the same month cut by a day at each end.
    month = (today - timedelta(days=45)).replace(day=1)
    end = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    whole = client.get(f"/api/stats?from={month}&to={end}").get_json()["totals"]
    old = [r for r in ROWS if r[11] == 45]
    assert whole["succeeded"] == len(old) == 1
    inner = client.get(f"/api/stats?from={month + timedelta(days=1)}&to={end - timedelta(days=1)}").get_json()
    assert inner["totals"]["succeeded"] == (1 if month < today - timedelta(days=45) < end else 0)


def test_a_big_recount_goes_on_over_several_reads(app, client, seeded, monkeypatch):
    """After an upgrade every past job is counted, a few chunks per read, so no request waits for all of it."""
    from app.services import stats_refresh

    complete = client.get("/api/stats").get_json()
    assert complete["counting"] is None
    with app.app_context():
        from app.extensions import db

        stats_refresh._put(stats_refresh.WATERMARK, None)  # as on a database that had jobs before statistics
        db.session.commit()
    monkeypatch.setattr(stats_refresh, "CHUNK", 5)
    monkeypatch.setattr(stats_refresh, "BUDGET", 0.0)
    first = client.get("/api/stats").get_json()
    assert first["counting"] == {"counted": 5} and first["totals"]["jobs"] == 0
    page = client.get("/stats/").get_data(as_text=True)
    assert "Counting past jobs into the statistics: 10 so far." in page
    assert client.get("/api/stats").get_json()["counting"] == {"counted": 12}  # the last chunk
    last = client.get("/api/stats").get_json()  # nothing left: the sums, and done
    assert last["counting"] is None
    for figures in (last, complete):
        for follower in figures["followers"]:
            follower.pop("online_seconds"), follower.pop("busy_share")
    assert last == complete
