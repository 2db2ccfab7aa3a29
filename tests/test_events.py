"""The event bus and the server-sent-event stream."""

from __future__ import annotations

import json
import threading

import pytest

from kiosk.events import EventBus, TooManySubscribers


def test_every_subscriber_gets_every_event():
    bus = EventBus()
    a, b = bus.subscribe(), bus.subscribe()
    event_id = bus.publish("scan", {"x": 1})
    assert a.get_nowait() == b.get_nowait() == (event_id, "scan", {"x": 1})


def test_subscribers_are_limited_and_freed():
    bus = EventBus(max_subscribers=2)
    a, _ = bus.subscribe(), bus.subscribe()
    with pytest.raises(TooManySubscribers):
        bus.subscribe()
    bus.unsubscribe(a)
    bus.subscribe()
    assert bus.subscribers == 2


def test_a_slow_subscriber_does_not_block_publishing():
    bus = EventBus(queue_size=2)
    q = bus.subscribe()
    for i in range(5):
        bus.publish("scan", {"i": i})
    assert q.qsize() == 2


def test_stream_sends_events_keepalives_and_ends_by_itself():
    bus = EventBus()
    q = bus.subscribe()
    stream = bus.stream(q, keepalive_s=0.05, max_seconds=0.3)
    assert next(stream).startswith("retry:")
    threading.Timer(0.1, bus.publish, args=("scan", {"slot": "A-01"})).start()
    chunks = list(stream)
    events = [c for c in chunks if c.startswith("id:")]
    assert len(events) == 1 and json.loads(events[0].split("data: ")[1]) == {"slot": "A-01"}
    assert ": keep-alive\n\n" in chunks
    assert bus.subscribers == 0


def test_events_endpoint_refuses_past_the_limit_and_frees_on_close(app, client):
    bus = app.extensions["station"].bus
    responses = [client.get("/kiosk/events") for _ in range(8)]
    assert all(r.status_code == 200 for r in responses)
    assert responses[0].mimetype == "text/event-stream"
    refused = client.get("/kiosk/events")
    assert refused.status_code == 503 and refused.get_json()["error"]
    for r in responses:
        r.close()
    assert bus.subscribers == 0


def test_close_ends_open_streams_at_once():
    bus = EventBus()
    q = bus.subscribe()
    stream = bus.stream(q, keepalive_s=60, max_seconds=60)
    next(stream)
    bus.close()
    assert list(stream) == [] and bus.subscribers == 0
