"""Notifications through Apprise to a real local webhook; failures are logged, never fail a job."""

from __future__ import annotations

import json
import logging

import pytest

from tests.conftest import TOKEN
from tests.recorder import Recorder
from tests.support import free_port, wait_for


@pytest.fixture
def hook():
    with Recorder() as recorder:
        yield recorder


def make_app(tmp_path, redis_server, clips, **extra):
    from app import create_app

    return create_app(
        {
            "FRAME_SHIFT_HOME": str(clips["root"]),
            "DATA_DIR": str(tmp_path / "data"),
            "REDIS_URL": redis_server.url,
            "SHARED_TOKEN": TOKEN,
            "TESTING": True,
            "AUTH_DISABLED": True,
            **extra,
        }
    )


def finish(flask_app, job_id: int, status: str, error: str | None = None) -> None:
    """End a job the way the monitor does: through the transition service, then commit."""
    from app.extensions import db
    from app.models import Job, JobStatus
    from app.services.transitions import transition

    with flask_app.app_context():
        job = db.session.get(Job, job_id)
        transition(job, JobStatus.DISPATCHED)
        fields = {"error": error} if error else {"input_size": 4_000_000, "output_size": 1_000_000}
        transition(job, JobStatus(status), **fields)
        db.session.commit()


def messages(recorder: Recorder) -> list[dict]:
    return [json.loads(body) for body in recorder.bodies()]


def test_failed_job_and_finished_batch_notify_once(tmp_path, redis_server, clips, hook):
    from app.services import notify

    flask_app = make_app(tmp_path, redis_server, clips, APPRISE_URLS=f"json://127.0.0.1:{hook.port}/hook")
    client = flask_app.test_client()
    jobs = client.post("/api/jobs", json={"inputs": ["short clip.mp4", "other.mp4"]}).get_json()["jobs"]
    finish(flask_app, jobs[0]["id"], "failed", error="ffmpeg exited with code 1: Invalid data")
    notify.drain()
    first = wait_for(lambda: messages(hook), 10, what="failure notification")
    assert [m["title"] for m in first] == ["Frame Shift: job failed: short clip.mp4"]
    assert "Invalid data" in first[0]["message"]
    finish(flask_app, jobs[1]["id"], "succeeded")
    notify.drain()
    titles = [m["title"] for m in wait_for(lambda: messages(hook)[1:] and messages(hook), 10, what="batch message")]
    assert titles == ["Frame Shift: job failed: short clip.mp4", "Frame Shift: batch of 2 jobs finished"]
    assert messages(hook)[1]["message"] == "1 succeeded, 1 failed"


def test_a_failing_target_is_logged_and_the_job_still_finishes(tmp_path, redis_server, clips, caplog):
    from app.extensions import db
    from app.models import Job
    from app.services import notify

    dead = f"json://127.0.0.1:{free_port()}/nobody"
    with Recorder(status=500) as broken:
        flask_app = make_app(tmp_path, redis_server, clips, APPRISE_URLS=f"{dead} json://127.0.0.1:{broken.port}/x")
        client = flask_app.test_client()
        job = client.post("/api/jobs", json={"inputs": ["other.mp4"]}).get_json()["jobs"][0]
        with caplog.at_level(logging.WARNING, logger="frameshift.notify"):
            finish(flask_app, job["id"], "succeeded")
            notify.drain()
        assert len(broken.bodies()) == 1
    with flask_app.app_context():
        assert db.session.get(Job, job["id"]).status == "succeeded"
    warnings = [r.getMessage() for r in caplog.records if r.name == "frameshift.notify"]
    assert len(warnings) == 2 and all("notification not delivered" in w for w in warnings), warnings


def test_environment_targets_are_shown_without_secrets(tmp_path, redis_server, clips):
    flask_app = make_app(
        tmp_path,
        redis_server,
        clips,
        DISCORD_WEBHOOK_URL="https://discord.com/api/webhooks/123/secretpart",
        PUSHOVER_API_TOKEN="atoken",
        PUSHOVER_USER_KEY="ukey",
    )
    shown = flask_app.test_client().get("/api/notifications").get_json()
    assert [t.split("://")[0] for t in shown["environment_targets"]] == ["discord", "pover"]
    assert "secretpart" not in json.dumps(shown) and shown["events"] == ["job_failed", "batch_finished"]


def test_settings_api_validates_stores_and_sends_a_test(tmp_path, redis_server, clips, hook):
    # Only loopback targets: the test never sends anything off this machine.
    flask_app = make_app(tmp_path, redis_server, clips, APPRISE_URLS=f"json://127.0.0.1:{free_port()}/closed")
    client = flask_app.test_client()
    bad = client.put("/api/notifications", json={"urls": ["not a url"]})
    assert bad.status_code == 400 and bad.get_json()["field"] == "urls"
    assert client.put("/api/notifications", json={"events": ["nope"]}).status_code == 400
    url = f"json://127.0.0.1:{hook.port}/settings"
    saved = client.put("/api/notifications", json={"urls": [url], "events": ["job_failed"]}).get_json()
    assert saved["urls"] == [url] and saved["events"] == ["job_failed"]
    result = client.post("/api/notifications/test").get_json()
    assert result["sent"] == 1 and len(result["errors"]) == 1 and not result["ok"], result
    assert [m["title"] for m in messages(hook)] == ["Frame Shift: test notification"]


def test_bad_notification_settings_stop_start_up(clips, tmp_path):
    from app.config import ConfigError, load_config

    with pytest.raises(ConfigError) as err:
        load_config(
            {
                "FRAME_SHIFT_HOME": str(clips["root"]),
                "DATA_DIR": str(tmp_path),
                "PUSHOVER_API_TOKEN": "x",
                "APPRISE_URLS": "nonsense",
                "SENTRY_DSN": "abc",
            },
            environ={},
        )
    assert err.value.problems == [
        "SENTRY_DSN='abc': must be the https://KEY@HOST/PROJECT address from your Sentry project",
        "Pushover needs both PUSHOVER_API_TOKEN and PUSHOVER_USER_KEY: set both or neither",
        "APPRISE_URLS entry 'nonsense' is not an Apprise URL (like tgram://TOKEN/CHAT or mailto://...)",
    ]


def test_discord_and_pushover_variables_become_working_apprise_targets():
    """The original's variables, turned into URLs that Apprise accepts for those two services."""
    import apprise

    from app.config import env_notify_urls

    user, token = "u" * 30, "a" * 30  # Pushover keys are 30 characters
    raw = {
        "DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/123456/abcdefTOKEN",
        "PUSHOVER_API_TOKEN": token,
        "PUSHOVER_USER_KEY": user,
        "APPRISE_URLS": "",
    }
    discord, pushover = (apprise.Apprise.instantiate(url) for url in env_notify_urls(raw))
    assert type(discord).__name__ == "NotifyDiscord"
    assert (discord.webhook_id, discord.webhook_token) == ("123456", "abcdefTOKEN")
    assert type(pushover).__name__ == "NotifyPushover"
    assert (pushover.user_key, pushover.token) == (user, token)
