"""Sentry: a real worker reports a task's exception to a local Sentry endpoint; no DSN, no SDK."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import TOKEN
from tests.recorder import Recorder
from tests.support import HOSTNAME, ROOT, Proc, base_env, monitor_argv, wait_for, worker_argv


def envelope_events(bodies: list[bytes]) -> list[dict]:
    """Error events in Sentry envelopes (newline-separated JSON: header, item header, item)."""
    events = []
    for body in bodies:
        lines = body.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2]):
            if header and json.loads(header).get("type") == "event":
                events.append(json.loads(payload))
    return events


def test_exception_in_a_task_reaches_sentry(tmp_path, redis_server, clips):
    from celery import Celery

    from tasks.signing import PayloadRefused

    # A Celery client of this test's own: the project's global one may still point at another test's Redis.
    celery_app = Celery("sentry-check")
    celery_app.config_from_object("celeryconfig")

    with Recorder() as sentry:
        dsn = f"http://publickey@127.0.0.1:{sentry.port}/42"
        env = base_env(redis_server.url, clips["root"], tmp_path, TOKEN, SENTRY_DSN=dsn, SENTRY_ENVIRONMENT="ci-check")
        worker = Proc(worker_argv("sentry"), env, tmp_path / "sentry-worker.log").start()
        try:
            celery_app.conf.update(broker_url=redis_server.url, result_backend=redis_server.url)
            wait_for(
                lambda: celery_app.control.ping(destination=[f"sentry@{HOSTNAME}"], timeout=0.5) or not worker.alive(),
                60,
                what="worker to answer",
            )
            assert worker.alive(), worker.output()[-3000:]
            # A payload that is not a signed dict (forged, or sent by a misconfigured leader): the follower refuses
            # it, and an operator hears of it in Sentry.
            result = celery_app.send_task(
                "transcode.run", args=[["not", "a", "payload"]], queue=f"sentry@{HOSTNAME}.dq2"
            )
            with pytest.raises(PayloadRefused):
                result.get(timeout=30)
            events = wait_for(
                lambda: [e for e in envelope_events(sentry.bodies("/api/42/envelope/")) if "exception" in e],
                30,
                what="the task's exception at the Sentry endpoint",
            )
        finally:
            worker.stop()
    event = events[0]
    assert event["environment"] == "ci-check"
    assert event["exception"]["values"][-1]["type"] == "PayloadRefused"
    assert event["tags"]["component"] == "worker" and event["tags"]["celery_task_id"] == result.id
    assert event["contexts"]["trace"]["op"] == "queue.task.celery"


def test_flask_errors_reach_sentry_and_nothing_without_dsn(tmp_path, redis_server, clips):
    import sentry_sdk

    from app import create_app, observability
    from tasks.observability import init_sentry

    assert init_sentry("", "x", "web") is False
    with Recorder() as sentry:
        flask_app = create_app(
            {
                "FRAME_SHIFT_HOME": str(clips["root"]),
                "DATA_DIR": str(tmp_path / "data"),
                "REDIS_URL": redis_server.url,
                "SHARED_TOKEN": TOKEN,
                "AUTH_DISABLED": True,
                "SENTRY_DSN": f"http://k@127.0.0.1:{sentry.port}/7",
                "SENTRY_ENVIRONMENT": "stage",
            }
        )

        def boom():
            raise RuntimeError("view exploded")

        flask_app.add_url_rule("/boom-for-sentry", "boom", boom)
        try:
            response = flask_app.test_client().get("/boom-for-sentry")
            assert response.status_code == 500 and "view exploded" not in response.get_data(as_text=True)
            sentry_sdk.flush(5)
            events = wait_for(lambda: envelope_events(sentry.bodies("/api/7/envelope/")), 10, what="web event")
        finally:
            from sentry_sdk.integrations.stdlib import StdlibIntegration

            # Back to a client without DSN for the rest of the session, with the same integrations as ours.
            sentry_sdk.init(disabled_integrations=[StdlibIntegration()])
            observability._started = None
    assert any(
        e["environment"] == "stage" and e["tags"]["component"] == "web" and "view exploded" in json.dumps(e)
        for e in events
    )
    assert sentry_sdk.get_client().transport is None  # no DSN: nothing can be sent


def test_an_error_in_the_monitor_reaches_sentry_and_the_monitor_goes_on(tmp_path, redis_server, clips):
    """The real monitor process: its database loses a table under it (a broken disk, a bad restore), so the
    step that writes the follower table fails. The error reaches Sentry and the monitor goes on. A follower's
    advertisement that is not JSON, which used to crash that step, is now only a warning: checked too."""
    import sqlite3

    import redis as redis_lib
    from celery import Celery

    from tasks import keys

    ghost = "ghost@nowhere"
    store = redis_lib.Redis.from_url(redis_server.url)
    store.set(keys.follower(ghost), "{this is not json")
    data = tmp_path / "data"
    with Recorder() as sentry:
        dsn = f"http://publickey@127.0.0.1:{sentry.port}/43"
        env = base_env(redis_server.url, clips["root"], data, TOKEN, SENTRY_DSN=dsn, SENTRY_ENVIRONMENT="mon-check")
        monitor = Proc(monitor_argv(), env, tmp_path / "sentry-monitor.log").start()
        try:
            sender = Celery("ghost")
            sender.config_from_object("celeryconfig")
            sender.conf.update(broker_url=redis_server.url, result_backend=redis_server.url)

            def announce() -> bool:
                with sender.events.default_dispatcher(hostname=ghost) as dispatcher:
                    dispatcher.send("worker-online", freq=2.0)
                return "is not a JSON object" in monitor.output()

            wait_for(announce, 60, 1.0, what="the monitor to hear the ghost and warn about its advertisement")
            assert not envelope_events(sentry.bodies("/api/43/envelope/")), "a bad advertisement is not an error"
            with sqlite3.connect(data / "frameshift.db") as db:
                db.execute("DROP TABLE followers")
            events = wait_for(
                lambda: envelope_events(sentry.bodies("/api/43/envelope/")), 60, 1.0, what="the error at Sentry"
            )
            assert monitor.alive(), monitor.output()[-3000:]
        finally:
            monitor.stop()
            store.delete(keys.follower(ghost))
    event = events[0]
    assert event["environment"] == "mon-check"
    assert event["tags"]["component"] == "monitor"
    assert event["exception"]["values"][-1]["type"] == "OperationalError"


def test_worker_refuses_bad_settings_with_one_line_each(tmp_path):
    env = base_env(
        "redis://127.0.0.1:1/0", tmp_path / "missing", tmp_path, "short", FFMPEG_THREADS="many", SENTRY_DSN="nope"
    )
    done = subprocess.run(worker_argv("bad"), env=env, capture_output=True, text=True, timeout=60, cwd=str(ROOT))
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if "configuration problem" in line]
    assert lines == [
        "frameshift worker: configuration problem: SHARED_TOKEN is missing or shorter than 16 characters: set the same "
        "long random value as on the leader (make run and docker-compose pass it for you)",
        f"frameshift worker: configuration problem: media folder {tmp_path / 'missing'} does not exist here: mount the "
        "shared media at the same path as on the leader, or fix FRAME_SHIFT_HOME/MEDIA_ROOTS",
        "frameshift worker: configuration problem: FFMPEG_THREADS='many': must be a whole number >= 0",
        "frameshift worker: configuration problem: SENTRY_DSN='nope': must be the https://KEY@HOST/PROJECT address "
        "from your Sentry project",
    ]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
