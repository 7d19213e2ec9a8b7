"""Server-Sent Events: job changes pushed to the browser as the monitor records them."""

from __future__ import annotations

import json
import time

from flask import Blueprint, Response, stream_with_context

from app.extensions import redis_store
from tasks import keys

bp = Blueprint("stream", __name__, url_prefix="/api")
KEEPALIVE = 15.0


@bp.get("/stream")
def events() -> Response:
    """Stream live messages; the browser's EventSource reconnects by itself after a drop."""
    pubsub = redis_store.client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.LIVE_CHANNEL)

    def generate():
        yield "retry: 2000\n\n"
        last = time.monotonic()
        try:
            while True:
                message = pubsub.get_message(timeout=1.0)
                if message and message.get("type") == "message":
                    data = message["data"]
                    text = data.decode() if isinstance(data, bytes) else str(data)
                    kind = json.loads(text).get("type", "job")
                    yield f"event: {kind}\ndata: {text}\n\n"
                    last = time.monotonic()
                elif time.monotonic() - last > KEEPALIVE:
                    yield ": keep-alive\n\n"
                    last = time.monotonic()
        finally:
            pubsub.close()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(stream_with_context(generate()), mimetype="text/event-stream", headers=headers)
