"""/metrics in the Prometheus text format, and /healthz."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest


def parse(text: str) -> dict[str, float]:
    """Samples by 'name{labels}', checking every family has HELP and TYPE lines."""
    samples, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
        elif line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            assert re.fullmatch(r'[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})?', key), line
            assert key.split("{")[0] in typed, f"{key} has no # TYPE line"
            samples[key] = float(value)
    return samples


@pytest.mark.both_databases
def test_metrics_count_jobs_slots_encode_time_and_savings(app, clips):
    from app.extensions import db
    from app.models import Follower, Job, JobStatus, utcnow
    from app.services.transitions import transition

    client = app.test_client()
    ids = [
        j["id"]
        for j in client.post("/api/jobs", json={"inputs": ["short clip.mp4", "other.mp4", "long.mp4"]}).get_json()[
            "jobs"
        ]
    ]
    with app.app_context():
        done, failed, _waiting = (db.session.get(Job, i) for i in ids)
        for job in (done, failed):
            transition(job, JobStatus.DISPATCHED)
            transition(job, JobStatus.RUNNING)
        transition(done, JobStatus.SUCCEEDED, input_size=5_000_000, output_size=2_000_000)
        done.started_at = utcnow() - timedelta(seconds=90)
        done.finished_at = done.started_at + timedelta(seconds=42.5)
        transition(failed, JobStatus.FAILED, error="x")
        db.session.add_all(
            [
                Follower(name="a@h", online=True, concurrency=2, busy=1),
                Follower(name="b@h", online=True, concurrency=3, busy=0),
                Follower(name="gone@h", online=False, concurrency=8, busy=0),
            ]
        )
        db.session.commit()
        # Two messages waiting in the broker's queue (as if no worker consumed them): the gauge must see them.
        from app.extensions import get_celery, redis_store

        # A queue of this app's own: the session's redis may also serve another module's follower
        # (tests/e2e's stacks, under `make test`'s workers), which would take messages from the default queue.
        queue = get_celery().conf.task_default_queue = f"frameshift-metrics-{uuid.uuid4().hex}"
        redis_store.client.rpush(queue, "message-1", "message-2")
    response = client.get("/metrics")
    with app.app_context():
        redis_store.client.delete(queue)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    m = parse(response.get_data(as_text=True))
    assert m['frameshift_jobs{status="succeeded"}'] == 1 and m['frameshift_jobs{status="failed"}'] == 1
    assert m['frameshift_jobs{status="queued"}'] == 1 and m['frameshift_jobs{status="running"}'] == 0
    assert m["frameshift_queue_length"] == 1
    assert m["frameshift_follower_slots_total"] == 5 and m["frameshift_follower_slots_busy"] == 1
    assert m['frameshift_follower_slots{follower="a@h",state="busy"}'] == 1
    assert m["frameshift_followers_online"] == 2
    assert m["frameshift_encode_seconds"] == pytest.approx(42.5, abs=0.01)
    assert m["frameshift_bytes_saved"] == 3_000_000 and m["frameshift_encoded_jobs"] == 1
    assert m["frameshift_broker_queue_length"] == 2


def test_healthz_reports_redis_trouble_without_failing(app, clips):
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok", "redis": "ok"}
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    body = client.get("/healthz")
    assert (
        body.status_code == 200
        and body.get_json()["redis"].startswith("error")
        and body.get_json()["status"] == "degraded"
    )


def test_metrics_need_a_login_unless_made_public(tmp_path, redis_server, clips):
    from app import create_app
    from app.extensions import db
    from tests.conftest import TOKEN

    base = {
        "FRAME_SHIFT_HOME": str(clips["root"]),
        "REDIS_URL": redis_server.url,
        "SHARED_TOKEN": TOKEN,
        "FRAME_SHIFT_ADMIN_PASSWORD": "metrics-admin-pw",
    }
    closed = create_app({**base, "DATA_DIR": str(tmp_path / "a")})
    public = create_app({**base, "DATA_DIR": str(tmp_path / "b"), "METRICS_PUBLIC": "1"})
    assert closed.test_client().get("/metrics").status_code == 401
    assert public.test_client().get("/metrics").status_code == 200
    assert public.test_client().get("/api/jobs").status_code == 401  # only /metrics is opened
    for flask_app in (closed, public):
        with flask_app.app_context():
            db.engine.dispose()
