"""Statistics at scale: GET /api/stats for all time with 1,000,000 finished jobs, on SQLite and PostgreSQL.

Jobs are written straight into the database (executemany on SQLite, COPY on PostgreSQL), the statistics tables
are rebuilt once (timed), then the endpoint is timed cold (the first request after the web process starts,
several restarts) and warm (keep-alive requests after that), plus one refresh after 1,000 jobs changed.

    python bench/stats_scale.py [--quick] [--runs N] [--jobs N] [--db sqlite|postgresql|both]
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import TOKEN, Result, System, median, parse_args, percentile  # noqa: E402

JOBS = 1_000_000
DAYS = 365
CHUNK = 20_000
COLUMNS = (
    "id name input_path output_path spec status priority position attempt follower percent fps duration "
    "input_size output_size result error cleared created_at updated_at started_at finished_at dispatched_at"
).split()
FOLDERS = ["Movies", "Shows", "Anime", "Documentaries", "Kids", "Music videos", "Home", "Sports", "Concerts", "Old"]
FOLLOWERS = [f"node{i}@rack" for i in range(6)]
TARGETS = [("libx265", "hevc"), ("libx264", "h264"), ("libsvtav1", "av1")]
PRESETS = ["slow", "medium", "fast", "veryslow"]
SOURCES = [("h264", "mp4"), ("h264", "mkv"), ("mpeg4", "avi"), ("vp9", "webm"), ("hevc", "mkv")]
REASONS = [
    f"FFmpeg exited with code {c}: {what}"
    for c, what in enumerate(
        [
            "Invalid data found when processing input",
            "Conversion failed",
            "moov atom not found",
            "No space left on device",
            "Unknown encoder",
            "Error while decoding stream #0:0",
            "Permission denied",
            "Killed by signal 9",
        ],
        start=1,
    )
] + [f"follower {name} was lost" for name in FOLLOWERS]


def rows(total: int, media: Path, now: datetime):
    """Yield job rows (tuples in COLUMNS order) spread over a year: 92% succeeded, 6% failed, 2% cancelled."""
    rng = random.Random(42)
    start = now - timedelta(days=DAYS)
    step = DAYS * 86400 / total
    for i in range(1, total + 1):
        roll = rng.random()
        status = "succeeded" if roll < 0.92 else "failed" if roll < 0.98 else "cancelled"
        target, probe_name = TARGETS[rng.randrange(len(TARGETS))]
        codec_in, ext = SOURCES[rng.randrange(len(SOURCES))]
        folder = FOLDERS[rng.randrange(len(FOLDERS))]
        source = f"{media}/{folder}/clip {i:07d}.{ext}"
        created = start + timedelta(seconds=i * step)
        wait = rng.lognormvariate(3, 1.5)
        work = rng.lognormvariate(6, 0.8)
        started = created + timedelta(seconds=wait)
        finished = started + timedelta(seconds=work)
        size = rng.randrange(100_000_000, 2_000_000_000)
        ok = status == "succeeded"
        spec = {
            "mode": "basic",
            "video_codec": target,
            "preset": PRESETS[rng.randrange(len(PRESETS))],
            "container": "mkv",
        }
        result = {"video_codec": probe_name, "input_video_codec": codec_in, "output": source + ".mkv"} if ok else None
        yield (
            i,
            f"clip {i:07d}.{ext}",
            source,
            f"{media}/{folder}/clip {i:07d}_converted.mkv",
            json.dumps(spec),
            status,
            0,
            float(i),
            1,
            FOLLOWERS[rng.randrange(len(FOLLOWERS))],
            100.0 if ok else 0.0,
            rng.uniform(10, 200) if ok else None,
            rng.uniform(60, 3600) if ok else None,
            size,
            int(size * rng.uniform(0.2, 0.9)) if ok else None,
            json.dumps(result) if result else None,
            REASONS[rng.randrange(len(REASONS))] if status == "failed" else "cancelled by user" if not ok else None,
            False,
            created,
            finished,
            started,
            finished,
            created,
        )


def seed_sqlite(path: Path, total: int, media: Path, now: datetime) -> None:
    def text(value):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    sql = f"INSERT INTO jobs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    batch = []
    for row in rows(total, media, now):
        batch.append(tuple(text(v) for v in row))
        if len(batch) == CHUNK:
            conn.executemany(sql, batch)
            batch.clear()
    conn.executemany(sql, batch)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def seed_postgres(url: str, total: int, media: Path, now: datetime) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY jobs ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows(total, media, now):
                copy.write_row(row)
        cur.execute("SELECT setval('jobs_id_seq', (SELECT max(id) FROM jobs))")
        conn.commit()
        conn.autocommit = True
        cur.execute("ANALYZE")


def timed(api, url: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        status, body, took = api.request("GET", url)
        if status != 200:
            raise RuntimeError(f"GET {url} answered {status}: {body[:300]!r}")
        times.append(took * 1000)
    return times


def bench_one(kind: str, total: int, runs: int, colds: int, result: Result, postgres) -> dict:
    url = postgres.new_database("stats") if kind == "postgresql" else ""
    extra = {"DATABASE_URL": url} if url else {}
    with System(f"stats-{kind}", **extra) as system:
        api = system.start_web()  # runs the migrations
        now = datetime.utcnow()
        started = time.perf_counter()
        if kind == "sqlite":
            seed_sqlite(system.db_path, total, system.media, now)
        else:
            seed_postgres(url, total, system.media, now)
        seeded = time.perf_counter() - started
        print(f"{kind}: {total:,} jobs written in {seeded:.1f} s", flush=True)

        from app import create_app
        from app.extensions import db
        from app.services.stats_refresh import rebuild

        flask_app = create_app(
            {
                "DATABASE_URL": url,
                "DATA_DIR": str(system.data),
                "FRAME_SHIFT_HOME": str(system.media),
                "REDIS_URL": system.redis_server.url,
                "SHARED_TOKEN": TOKEN,
            }
        )
        with flask_app.app_context():
            started = time.perf_counter()
            counted = rebuild()
            rebuilt = time.perf_counter() - started
            daily_rows = db.session.execute(db.text("SELECT count(*) FROM stats_daily")).scalar()
        print(
            f"{kind}: statistics rebuilt from {counted:,} jobs in {rebuilt:.1f} s ({daily_rows:,} daily rows)",
            flush=True,
        )

        cold = []
        for _ in range(colds):
            system.web.stop()
            system.procs.remove(system.web)
            api = system.start_web()
            cold.extend(timed(api, "/api/stats?period=all", 1))
        warm = timed(api, "/api/stats?period=all", runs)
        month = timed(api, "/api/stats?period=month", runs)
        page = timed(api, "/stats/?period=all", max(3, runs // 3))
        # 1,000 jobs change (retried, then finished again): the next request refreshes their facts and days.
        with flask_app.app_context():
            db.session.execute(
                db.text(
                    "UPDATE jobs SET status = 'failed', error = 'touched by the benchmark', updated_at = :now "
                    "WHERE id > :first"
                ),
                {"now": datetime.utcnow(), "first": total - 1000},
            )
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
        after_change = timed(api, "/api/stats?period=all", 1)
        figures = json.loads(api.request("GET", "/api/stats?period=all")[1])
        assert figures["totals"]["jobs"] == total, figures["totals"]

        label = "SQLite" if kind == "sqlite" else "PostgreSQL"
        met = median(warm) < 200
        result.add(
            f"{label}: GET /api/stats all time, warm median",
            median(warm),
            "ms",
            "< 200",
            met,
            f"p95 {percentile(warm, 95):.0f} ms over {len(warm)} runs",
        )
        result.add(
            f"{label}: GET /api/stats all time, cold median",
            median(cold),
            "ms",
            "< 200",
            median(cold) < 200,
            f"first request after a web restart, {len(cold)} restarts; max {max(cold):.0f} ms",
        )
        result.add(f"{label}: GET /api/stats last 30 days, warm median", median(month), "ms")
        result.add(f"{label}: Statistics page all time, warm median", median(page), "ms")
        result.add(
            f"{label}: first request after 1,000 jobs changed",
            after_change[0],
            "ms",
            "",
            None,
            "incremental refresh of their facts and days",
        )
        result.add(
            f"{label}: full rebuild of the statistics",
            rebuilt,
            "s",
            "",
            None,
            f"{daily_rows:,} daily rows; seeding took {seeded:.0f} s",
        )
        return {
            "seed_s": seeded,
            "rebuild_s": rebuilt,
            "daily_rows": daily_rows,
            "cold_ms": cold,
            "warm_ms": warm,
            "month_ms": month,
            "page_ms": page,
            "after_change_ms": after_change,
        }


def main() -> None:
    args = parse_args(
        __doc__,
        jobs={"type": int, "default": None, "help": "how many jobs (default 1,000,000; 100,000 with --quick)"},
        db={"choices": ["sqlite", "postgresql", "both"], "default": "both"},
    )
    total = args.jobs or (100_000 if args.quick else JOBS)
    runs = args.runs or (10 if args.quick else 30)
    colds = 3 if args.quick else 5
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    result = Result(
        "stats_scale",
        args.quick,
        runs,
        setup=(
            f"{total:,} finished jobs over {DAYS} days (10 folders, 6 followers, 3 target codecs, 4 presets, 14 failure "
            f"reasons) on {' and '.join(kinds)}; gunicorn (1 gthread worker) with an API token; cold = first request "
            f"after a web restart ({colds} restarts), warm = {runs} keep-alive requests"
        ),
    )
    postgres = None
    if "postgresql" in kinds:
        from tests.postgres import start_postgres

        postgres = start_postgres()
        if postgres is None:
            raise SystemExit("PostgreSQL is not installed: apt-get install postgresql, or --db sqlite")
    try:
        result.details = {kind: bench_one(kind, total, runs, colds, result, postgres) for kind in kinds}
        result.details["jobs"] = total
    finally:
        if postgres is not None:
            postgres.stop()
    result.save()


if __name__ == "__main__":
    main()
