"""Live messages travel in batches: one PUBLISH per batch (up to PUBLISH_CHUNK), one SSE event per message
(fix 36, docs/benchmarks.md "Lean"). Real Redis; the web's stream read through Flask's test client."""

from __future__ import annotations

from app.extensions import redis_store
from app.services import live
from tasks import keys


def test_a_batch_is_one_publish_per_chunk_and_keeps_its_order(app):
    messages = [{"type": "job", "id": i, "status": "queued"} for i in range(2 * live.PUBLISH_CHUNK + 50)]
    with app.app_context():
        pubsub = redis_store.client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(keys.LIVE_CHANNEL)
        pubsub.get_message(timeout=0.5)
        try:
            live.publish_many(messages)
            publishes = []
            while message := pubsub.get_message(timeout=0.5):
                publishes.append(live.unpack(message["data"]))
        finally:
            pubsub.close()
    assert [len(p) for p in publishes] == [live.PUBLISH_CHUNK, live.PUBLISH_CHUNK, 50]
    assert [m for p in publishes for m in p] == messages


def test_the_stream_sends_each_message_of_a_batch_as_its_own_event(app):
    client = app.test_client()
    response = client.get("/api/stream", buffered=False)
    chunks = iter(response.response)
    assert next(chunks).startswith(b"retry:")
    with app.app_context():
        live.publish_many([{"type": "job", "id": 7, "status": "running"}, {"type": "progress", "id": 7, "percent": 5}])
    received = b""
    for chunk in chunks:
        received += chunk
        if received.count(b"\n\n") >= 2:
            break
    response.close()
    events = [block.split(b"\n") for block in received.strip().split(b"\n\n")]
    assert [e[0] for e in events] == [b"event: job", b"event: progress"], received
    assert events[1][1] == b'data: {"type": "progress", "id": 7, "percent": 5}'
