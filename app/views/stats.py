"""The Statistics page and GET /api/stats: what the fleet did in a period, from the same figures."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from app.schemas.auth import StatsQuery
from app.schemas.inputs import accepts
from app.services import stats as stats_service
from app.services.stats_period import PERIODS, Period, parse_period

bp = Blueprint("stats", __name__)


def _period(query: StatsQuery) -> Period:
    """?period=day|week|month|all or ?from=YYYY-MM-DD&to=YYYY-MM-DD (400 naming the field otherwise)."""
    return parse_period(query.period, query.from_, query.to)


@bp.get("/api/stats")
@accepts(query=StatsQuery)
def api(query: StatsQuery):
    """Every figure of the Statistics page as JSON."""
    return jsonify(stats_service.statistics(_period(query)))


@bp.get("/stats/")
@accepts(query=StatsQuery)
def index(query: StatsQuery):
    """Charts of space saved, outcomes, followers, codecs and times, each with its numbers in a table."""
    period = _period(query)
    figures = stats_service.statistics(period)
    return render_template(
        "stats/index.html",
        figures=figures,
        period=period,
        periods=list(PERIODS),
        api_url=request.full_path.replace("/stats/", "/api/stats", 1).rstrip("?"),
    )
