"""What a follower checks itself: the path mapping, its own media roots, and the task signature."""

from __future__ import annotations

import os
import threading
import time
import uuid

from celery import Celery
from celery.utils import worker_direct

from tasks import keys
from tasks.signing import sign
from tests.conftest import TOKEN
from tests.e2e.test_failures_harness import FAST, System, needs, outcome, scenario, watch
from tests.media import ffmpeg_pids
from tests.support import wait_for


def bound(body: dict, task_id: str, key: str | None = TOKEN) -> dict:
    """Bind body to task_id with an hour to live, as the leader does, and sign it with key (None: unsigned)."""
    payload = {**body, "task_id": task_id, "expires": int(time.time()) + 3600}
    return sign(payload, key) if key else payload


def sender_for(system: System) -> Celery:
    sender = Celery("probe")
    sender.config_from_object("celeryconfig")
    sender.conf.update(broker_url=system.redis_server.url, result_backend=system.redis_server.url)
    return sender


def send_raw(system: System, follower: str, body: dict, key: str | None = TOKEN) -> tuple[str, str, str]:
    """Send a transcode task straight to a follower's queue, as an attacker on the broker could."""
    task_id = str(uuid.uuid4())
    result = sender_for(system).send_task(
        "transcode.run", args=[bound(body, task_id, key)], queue=worker_direct(follower), task_id=task_id
    )
    result.get(timeout=60, propagate=False)
    return result.id, result.state, str(result.result)


def send_watched(system: System, follower: str, body: dict) -> dict:
    """Send a task as send_raw does while watching for an FFmpeg of it (its temporary output carries the id)."""
    task_id = str(uuid.uuid4())
    stop = threading.Event()
    samples = watch(lambda: ffmpeg_pids(task_id[:8]), stop, every=0.05)
    try:
        result = sender_for(system).send_task(
            "transcode.run", args=[bound(body, task_id)], queue=worker_direct(follower), task_id=task_id
        )
        result.get(timeout=60, propagate=False)
    finally:
        stop.set()
    started = sorted({pid for _, pids in samples for pid in pids})
    return {"id": task_id, "state": result.state, "message": str(result.result), "ffmpeg": started}


@scenario("paths")
def paths(system: System) -> dict:
    root = system.tmp
    (root / "mnt").symlink_to(system.media)  # the same files under another path, like another mount point
    (root / "elsewhere").mkdir()
    system.worker("seer", FRAME_SHIFT_HOME=str(root / "mnt"), FOLLOWER_PATH_MAP=f"{system.media}={root / 'mnt'}")
    system.worker(
        "blind", FRAME_SHIFT_HOME=str(root / "elsewhere"), FOLLOWER_PATH_MAP=f"{system.media}={root / 'elsewhere'}"
    )
    system.start_monitor()
    seer, blind = system.full("seer"), system.full("blind")
    wait_for(lambda: {seer, blind} <= set(system.followers()), 120, what="both followers listed")
    seen: dict = {"root": str(root), "media": str(system.media)}
    system.api("post", f"/api/followers/{blind}/drain")
    seen["mapped"] = system.wait_final(system.submit("short", FAST)[0]["id"], 60)
    system.api("post", f"/api/followers/{seer}/drain")
    system.api("post", f"/api/followers/{blind}/resume")
    seen["not_visible"] = system.wait_final(system.submit("short", FAST)[0]["id"], 60)
    body = {
        "job_id": 999,
        "attempt": 1,
        "input": str(system.clips["short"]),
        "output": str(system.media / "forged.mkv"),
    }
    body["spec"] = FAST
    seen["unsigned"] = send_raw(system, seer, body, key=None)
    seen["wrong_key"] = send_raw(system, seer, body, key="not-the-shared-token-at-all")
    seen["outside"] = send_raw(system, seer, {**body, "input": "/etc/passwd"})
    # Signed, readable input, but the output lies outside the media folders: plainly, through '..',
    # or through a symlink inside the media folder that points out of it.
    (root / "outside").mkdir()
    (system.media / "link-out").symlink_to(root / "outside")
    outputs = {
        "out_plain": str(root / "outside" / "escaped.mkv"),
        "out_dotdot": f"{system.media}/../escaped-up.mkv",
        "out_symlink": f"{system.media}/link-out/escaped-link.mkv",
        "out_control": str(system.media / "control.mkv"),  # inside: runs, so the watch above can see an FFmpeg
    }
    for key, output in outputs.items():
        seen[key] = send_watched(system, seer, {**body, "output": output})
    # Anything at all (hidden temporary names too) in the folder outside, or beside the media folder.
    seen["written_outside"] = sorted(str(p) for p in [*(root / "outside").iterdir(), *root.glob("*escaped*")])
    seen["control_exists"] = (system.media / "control.mkv").exists()
    seen["claims"] = [bool(system.redis.exists(keys.claim(seen[k][0]))) for k in ("unsigned", "wrong_key")]
    seen["ffmpeg"] = [ffmpeg_pids(seen[k][0][:8]) for k in ("unsigned", "wrong_key", "outside")]
    wait_for(lambda: seen["out_control"]["id"] in system.workers["seer"].output(), 10, what="the log of the control")
    seen["seer_log"] = system.workers["seer"].output()
    seen["forged_exists"] = (system.media / "forged.mkv").exists()
    return seen


@needs("paths")
def test_a_follower_mounting_the_media_elsewhere_converts_through_its_path_map(request, clips):
    seen = outcome(request, clips)
    job = seen["mapped"]
    assert job["status"] == "succeeded", job
    assert job["follower"].startswith("seer@")
    # Reported in the leader's terms, and really there.
    assert job["output_path"].startswith(seen["media"]) and os.path.getsize(job["output_path"]) == job["output_size"]


@needs("paths")
def test_a_follower_that_cannot_see_the_input_says_which_path_and_mapping(request, clips):
    seen = outcome(request, clips)
    job = seen["not_visible"]
    assert job["status"] == "failed" and job["follower"].startswith("blind@")
    local = f"{seen['root']}/elsewhere/short clip.mp4"
    leader = f"{seen['media']}/short clip.mp4"
    assert job["error"] == (
        f"input not usable on this follower: {local} does not exist; the leader's path {leader} was mapped to "
        f"{local} by FOLLOWER_PATH_MAP={seen['media']}={seen['root']}/elsewhere"
    )


@needs("paths")
def test_unsigned_or_wrongly_signed_tasks_are_refused_and_logged_without_ffmpeg(request, clips):
    seen = outcome(request, clips)
    for key in ("unsigned", "wrong_key"):
        task_id, state, message = seen[key]
        assert state == "FAILURE" and "signature is missing or wrong" in message, seen[key]
        assert f"refused task {task_id}" in seen["seer_log"]
    assert seen["claims"] == [False, False], "a refused task got as far as claiming its attempt"
    assert seen["ffmpeg"] == [[], [], []]
    assert not seen["forged_exists"]


@needs("paths")
def test_a_signed_task_for_a_path_outside_the_media_roots_is_refused(request, clips):
    seen = outcome(request, clips)
    _, state, message = seen["outside"]
    assert state == "FAILURE"
    assert message.startswith("input not usable on this follower: /etc/passwd is outside the media folders")


@needs("paths")
def test_a_signed_task_whose_output_lies_outside_the_media_roots_is_refused_without_ffmpeg(request, clips):
    seen = outcome(request, clips)
    control = seen["out_control"]
    assert control["state"] == "SUCCESS" and seen["control_exists"], control
    assert control["ffmpeg"], "the watch saw no FFmpeg even for the task that converts, so it proves nothing"
    for key, shown in (
        ("out_plain", "/outside/escaped.mkv"),
        ("out_dotdot", "/../escaped-up.mkv"),
        ("out_symlink", "/link-out/escaped-link.mkv"),
    ):
        sent = seen[key]
        assert sent["state"] == "FAILURE", sent
        assert sent["message"].startswith("output not allowed on this follower: "), sent
        assert shown in sent["message"] and "is outside the media folders" in sent["message"], sent
        assert sent["ffmpeg"] == [], f"{key}: FFmpeg ran for a refused task"
        assert sent["id"] in seen["seer_log"] and "output not allowed on this follower" in seen["seer_log"]
    assert seen["written_outside"] == [], "a refused task wrote outside the media folders"
