"""Bulk actions on the queue: cancel all, retry all failed (real database, redis, no worker)."""

from __future__ import annotations

from app.extensions import db, redis_store
from app.models import Job
from tasks import keys


def statuses(app) -> dict[int, str]:
    with app.app_context():
        return dict(db.session.execute(db.select(Job.id, Job.status)).all())


def test_cancel_all_cancels_waiting_jobs_and_asks_running_ones_to_stop(app, client, jobs, dispatched_jobs):
    with app.app_context():
        running = dispatched_jobs(["other"], "bulk")[0]
        running_id, task_id = running.id, running.task_id
    done = client.post("/api/jobs", json={"inputs": ["other.mp4"]}).get_json()["jobs"][0]
    with app.app_context():
        db.session.get(Job, done["id"]).status = "succeeded"
        db.session.commit()
    reply = client.post("/api/jobs/cancel-all", json={})
    assert reply.status_code == 200 and reply.get_json() == {"cancelled": 3, "stopping": 1}
    after = statuses(app)
    assert [after[j["id"]] for j in jobs] == ["cancelled"] * 3 and after[done["id"]] == "succeeded"
    assert after[running_id] == "dispatched"  # the follower ends it; the leader only asked
    with app.app_context():
        assert db.session.get(Job, running_id).cancel_requested_at is not None
        assert redis_store.client.get(keys.cancel(task_id)) == b"cancel"
    # Asking again changes nothing: every job is already cancelled or stopping.
    assert client.post("/api/jobs/cancel-all", json={}).get_json() == {"cancelled": 0, "stopping": 0}


def test_cancel_all_can_spare_running_jobs(app, client, jobs, dispatched_jobs):
    with app.app_context():
        running_id = dispatched_jobs(["other"], "spare")[0].id
    reply = client.post("/api/jobs/cancel-all", json={"running": False}).get_json()
    assert reply == {"cancelled": 3, "stopping": 0}
    with app.app_context():
        assert db.session.get(Job, running_id).cancel_requested_at is None


def test_retry_failed_queues_failed_jobs_in_order_and_skips_missing_inputs(app, client, jobs):
    ids = [j["id"] for j in jobs]
    with app.app_context():
        for job_id in ids:
            job = db.session.get(Job, job_id)
            job.status, job.error = "failed", "boom"
        db.session.get(Job, ids[1]).input_path = "/media-gone/other.mp4"
        cancelled = db.session.get(Job, ids[2])
        cancelled.status = "cancelled"
        db.session.commit()
    reply = client.post("/api/jobs/retry-failed", json={}).get_json()
    assert reply["retried"] == 1 and reply["skipped"] == 1
    assert reply["skipped_jobs"][0]["id"] == ids[1] and "outside" in reply["skipped_jobs"][0]["reason"]
    after = statuses(app)
    assert (after[ids[0]], after[ids[1]], after[ids[2]]) == ("queued", "failed", "cancelled")
    with app.app_context():
        assert db.session.get(Job, ids[0]).error is None
    assert client.post("/api/jobs/retry-failed", json={"cancelled": True}).get_json()["retried"] == 1
    assert statuses(app)[ids[2]] == "queued"


def test_bulk_bodies_are_checked(client):
    bad = client.post("/api/jobs/cancel-all", json={"waiting": "yes"})
    assert bad.status_code == 400 and bad.get_json()["field"] == "waiting"
    assert client.post("/api/jobs/retry-failed", json={"other": 1}).status_code == 400


def test_hide_finished_leaves_only_waiting_jobs_on_the_all_tab(app, client, jobs):
    with app.app_context():
        db.session.get(Job, jobs[0]["id"]).status = "succeeded"
        db.session.commit()
    html = client.get("/queue/list?hide_finished=1").get_data(as_text=True)
    assert f'data-job-id="{jobs[0]["id"]}"' not in html and f'data-job-id="{jobs[1]["id"]}"' in html
    assert f'data-job-id="{jobs[0]["id"]}"' in client.get("/queue/list").get_data(as_text=True)
    # A status tab shows what it names, toggle or not.
    assert f'data-job-id="{jobs[0]["id"]}"' in client.get("/queue/list?status=succeeded&hide_finished=1").get_data(
        as_text=True
    )
