"""Server-Sent Events: job changes pushed to the browser as the monitor records them."""

from __future__ import annotations

import json
import time

import redis
from flask import Blueprint, Response, jsonify, stream_with_context

from app.extensions import redis_store
from app.services.live import unpack
from tasks import keys
from tasks.outage import redis_failed, redis_recovered

bp = Blueprint("stream", __name__, url_prefix="/api")
KEEPALIVE = 15.0
# Only 'cannot reach Redis' is an outage; any other Redis error is a bug and goes to the error handler.
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)


@bp.get("/stream")
def events() -> Response:
    """Stream live messages; the browser's EventSource reconnects by itself after a drop."""
    pubsub = redis_store.client.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(keys.LIVE_CHANNEL)
    except UNREACHABLE as exc:
        pubsub.close()
        # Every open tab asks again every few seconds: one warning for the outage, not one per request.
        redis_failed(exc, "the live-update stream")
        response = jsonify({"error": "live updates are paused: the server cannot reach Redis; retrying by itself"})
        response.status_code = 503
        response.headers["Retry-After"] = "2"
        return response
    redis_recovered("live updates flow again")

    def generate():
        yield "retry: 2000\n\n"
        last = time.monotonic()
        try:
            while True:
                try:
                    message = pubsub.get_message(timeout=1.0)
                except UNREACHABLE as exc:
                    redis_failed(exc, "the live-update stream")
                    return  # ends the response; the browser reconnects and re-reads what it shows
                if message and message.get("type") == "message":
                    # One publish holds a batch of messages (app/services/live.py): an event each for the browser.
                    yield "".join(
                        f"event: {item.get('type', 'job')}\ndata: {json.dumps(item)}\n\n"
                        for item in unpack(message["data"])
                    )
                    last = time.monotonic()
                elif time.monotonic() - last > KEEPALIVE:
                    yield ": keep-alive\n\n"
                    last = time.monotonic()
        finally:
            pubsub.close()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(stream_with_context(generate()), mimetype="text/event-stream", headers=headers)
