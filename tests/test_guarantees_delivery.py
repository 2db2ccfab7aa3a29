"""The webhook outbox's delivery guarantees, against real HTTP receivers on loopback.

Found by mutation testing (scripts/mutation.sh webhooks/delivery.py, docs/testing.md):
the backoff schedule to the second, what counts as delivered, that a receiver that is
down or gone never holds up another receiver's events, that a given-up event no longer
holds up its order, and that an error while posting leaves the event as it was.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from factories import ACTOR, make_order
from sqlalchemy import select
from test_webhooks import Clock
from webhook_receiver import SECRET, Receiver, secret_file

from kiosk.appsetup import session_scope
from kiosk.domain import orders as order_ops
from kiosk.extensions import db
from kiosk.webhooks import delivery
from kiosk.webhooks.delivery import BACKOFF, USER_AGENT, Answer, Deliverer, next_attempt
from kiosk.webhooks.outbox import Endpoint, WebhookDelivery


@pytest.fixture
def first():
    with Receiver() as r:
        yield r


@pytest.fixture
def second():
    with Receiver() as r:
        yield r


@pytest.fixture
def config_overrides(tmp_path, first, second):
    secret = secret_file(tmp_path)
    return {"webhooks": [{"url": r.url, "secret_file": secret, "timeout_s": 5}
                         for r in (first, second)]}


def endpoint(receiver: Receiver, timeout_s: float = 5) -> Endpoint:
    return Endpoint(url=receiver.url, secret=SECRET, events=frozenset({"order.received"}),
                    timeout_s=timeout_s)


def sender(app, *receivers: Receiver, clock=None) -> Deliverer:
    return Deliverer(session_scope(app), [endpoint(r) for r in receivers],
                     clock=clock or Clock())


def rows(app, url: str | None = None) -> list[WebhookDelivery]:
    with app.app_context():
        query = select(WebhookDelivery).order_by(WebhookDelivery.id)
        if url:
            query = query.where(WebhookDelivery.endpoint == url)
        found = db.session.scalars(query).all()
        db.session.expunge_all()
        return found


def test_the_backoff_schedule_and_when_it_gives_up():
    now = dt.datetime(2027, 1, 15, 12, 0, tzinfo=dt.UTC)
    waits = [dt.timedelta(seconds=5), dt.timedelta(minutes=5), dt.timedelta(minutes=30),
             dt.timedelta(hours=2), dt.timedelta(hours=5), dt.timedelta(hours=10),
             dt.timedelta(hours=10)]
    assert [next_attempt(n, now) for n in range(1, 8)] == [now + w for w in waits]
    assert next_attempt(8, now) is None and next_attempt(9, now) is None
    assert sum(BACKOFF, dt.timedelta()) == dt.timedelta(hours=27, minutes=35, seconds=5)


def test_only_a_2xx_answer_counts_as_delivered():
    assert [Answer(s).delivered for s in (200, 204, 299)] == [True] * 3
    assert [Answer(s).delivered for s in (None, 199, 300, 302, 404, 500)] == [False] * 6


@pytest.mark.parametrize("status", [204, 299])
def test_any_2xx_delivers_and_a_redirect_is_not_followed(app, session, first, second, status):
    make_order(session)
    first.status, second.status = status, 302
    clock = Clock()
    assert sender(app, first, second, clock=clock).deliver_due() == 2
    done, moved = rows(app, first.url)[0], rows(app, second.url)[0]
    assert (done.state, done.last_status, done.last_error, done.attempts) == (
        "delivered", status, None, 1)
    assert done.delivered_at is not None and done.last_attempt_at is not None
    assert (moved.state, moved.last_status, moved.last_error) == ("pending", 302,
                                                                  "HTTP 302 Found")
    assert len(second.log) == 1  # the redirect was not followed anywhere


def test_each_post_carries_json_the_user_agent_and_its_signature(app, session, first, second):
    order = make_order(session, card="N400000051")
    clock = Clock()
    sender(app, first, clock=clock).deliver_due()
    [request] = first.log
    headers = request["headers"]
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == USER_AGENT
    assert headers["webhook-timestamp"] == str(int(clock.now.timestamp()))
    assert headers["webhook-id"] == rows(app, first.url)[0].msg_id
    assert request["json"]["data"]["order_id"] == order.id
    from standardwebhooks.webhooks import Webhook

    assert Webhook(SECRET).verify(request["body"], headers)["type"] == "order.received"


def test_a_receiver_down_never_holds_up_another_receivers_events(app, session, first, second):
    order = make_order(session, slot="A-01", station=app.extensions["station"])
    order_ops.collect(session, order, ACTOR)
    session.commit()
    first.server.shutdown()  # down: nothing listens on its port any more
    first.server.server_close()
    clock = Clock()
    everyone = Deliverer(session_scope(app), [
        Endpoint(url=r.url, secret=SECRET, events=frozenset(
            {"order.received", "order.ready", "order.collected"}), timeout_s=5)
        for r in (first, second)], clock=clock)
    assert everyone.deliver_due() == 4  # the first's first event, the second's three
    assert [e["type"] for e in second.events()] == ["order.received", "order.ready",
                                                    "order.collected"]
    down = rows(app, first.url)
    assert [(r.state, r.attempts) for r in down] == [("pending", 1), ("pending", 0),
                                                     ("pending", 0)]
    assert down[0].last_status is None and "Connection refused" in down[0].last_error
    assert down[0].next_attempt_at.replace(tzinfo=dt.UTC) == clock.now + BACKOFF[0]


def test_an_event_is_sent_again_exactly_when_its_wait_is_over(app, session, first, second):
    make_order(session)
    first.status = 500
    clock = Clock()
    hooks = sender(app, first, clock=clock)
    assert hooks.deliver_due() == 1
    [row] = rows(app, first.url)
    assert (row.last_status, row.last_error) == (500, "HTTP 500 Internal Server Error")
    clock.now += BACKOFF[0] - dt.timedelta(microseconds=1)
    assert hooks.deliver_due() == 0
    clock.now += dt.timedelta(microseconds=1)
    first.status = 200
    assert hooks.deliver_due() == 1
    assert rows(app, first.url)[0].state == "delivered"


def test_an_event_for_a_receiver_no_longer_configured_stays_and_blocks_nothing(
        app, session, first, second):
    make_order(session)
    make_order(session)
    assert sender(app, second).deliver_due() == 2  # the first's rows are left alone
    assert [r.state for r in rows(app, first.url)] == ["pending", "pending"]
    assert first.log == []


def test_a_given_up_event_no_longer_holds_up_its_order(app, session, first, second):
    order = make_order(session, slot="A-01", station=app.extensions["station"])
    first.status = 500
    clock = Clock()
    everything = Deliverer(session_scope(app), [Endpoint(
        url=first.url, secret=SECRET, events=frozenset({"order.received", "order.ready"}),
        timeout_s=5)], clock=clock)
    for _ in range(len(BACKOFF) + 1):
        everything.deliver_due()
        clock.now += dt.timedelta(hours=11)
    received, ready = rows(app, first.url)
    assert (received.state, received.attempts) == ("failed", len(BACKOFF) + 1)
    assert (ready.state, ready.attempts) == ("pending", 1)  # tried as soon as it was free
    assert json.loads(ready.payload)["data"]["order_id"] == order.id
    first.status = 200
    clock.now += dt.timedelta(hours=11)
    assert everything.deliver_due() == 1
    assert [r.state for r in rows(app, first.url)] == ["failed", "delivered"]


def test_deliver_due_stops_at_its_limit(app, session, first, second):
    for _ in range(3):
        make_order(session)
    hooks = sender(app, first)
    assert hooks.deliver_due(limit=2) == 2
    assert hooks.deliver_due(limit=2) == 1
    assert hooks.deliver_due() == 0


def test_an_error_while_posting_leaves_the_event_as_it_was(app, session, first, second):
    make_order(session)

    def broken(*args):
        raise RuntimeError("the network stack fell over")

    hooks = Deliverer(session_scope(app), [endpoint(first)], clock=Clock(), post=broken)
    with pytest.raises(RuntimeError):
        hooks.deliver_one()
    [row] = rows(app, first.url)
    assert (row.state, row.attempts, row.last_attempt_at) == ("pending", 0, None)
    assert sender(app, first).deliver_due() == 1  # nothing was left locked or half-written


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(app, session, first,
                                                                     second):
    import threading

    make_order(session)
    first.gate = threading.Event()  # the receiver holds the request
    hooks = Deliverer(session_scope(app), [endpoint(first, timeout_s=0.3)], clock=Clock())
    try:
        assert hooks.deliver_due() == 1
    finally:
        first.gate.set()
    [row] = rows(app, first.url)
    assert (row.state, row.attempts, row.last_status) == ("pending", 1, None)
    assert "timed out" in row.last_error


def test_a_receiver_not_listening_is_an_answer_without_status_and_says_why():
    answer = delivery.http_post("http://127.0.0.1:1/none", b"{}", {}, 1)
    # The reason itself, as staff read it on /staff/webhooks, not a wrapper's text.
    assert answer == Answer(None, "ConnectionRefusedError: [Errno 111] Connection refused")


def test_an_error_text_of_any_length_fits_the_stored_500_characters(app, session, first,
                                                                    second):
    """A receiver's long reason phrase or a long bad url is cut to what the column holds
    (PostgreSQL refuses a longer value, which would stop the delivery)."""
    long_url = "x" * 600
    assert len(delivery.http_post(long_url, b"{}", {}, 1).error) == 500
    make_order(session)
    first.status, first.reason = 500, "R" * 600
    assert sender(app, first, clock=Clock()).deliver_due() == 1
    [row] = rows(app, first.url)
    assert (row.state, row.last_status) == ("pending", 500)
    assert row.last_error == f"HTTP 500 {'R' * 491}"


def test_staff_retry_sends_a_failed_event_at_once_with_fresh_attempts(app, session, first,
                                                                      second):
    make_order(session)
    first.status = 500
    clock = Clock()
    hooks = sender(app, first, clock=clock)
    while hooks.deliver_due():
        clock.now += dt.timedelta(hours=11)
    [row] = rows(app, first.url)
    assert row.state == "failed"
    first.status = 200
    with app.app_context():
        assert delivery.retry(db.session, row.id, now=clock.now)
        db.session.commit()
        assert not delivery.retry(db.session, 10**9)
    [row] = rows(app, first.url)
    assert (row.state, row.attempts) == ("pending", 0)
    assert row.next_attempt_at.replace(tzinfo=dt.UTC) == clock.now
    assert hooks.deliver_due() == 1
    with app.app_context():
        assert not delivery.retry(db.session, row.id)  # delivered: nothing to retry
    assert [r.state for r in rows(app, first.url)] == ["delivered"]


def test_a_retry_without_a_time_is_due_now(app, session, first, second):
    make_order(session)
    first.status = 500
    hooks = sender(app, first)
    hooks.deliver_due()
    before = dt.datetime.now(dt.UTC)
    with app.app_context():
        assert delivery.retry(db.session, rows(app, first.url)[0].id)
        db.session.commit()
    [row] = rows(app, first.url)
    assert row.next_attempt_at.replace(tzinfo=dt.UTC) >= before
    first.status = 200
    hooks.clock = lambda: dt.datetime.now(dt.UTC)
    assert hooks.deliver_due() == 1


def test_each_attempt_is_logged_with_the_event_the_receiver_and_what_came_of_it(
        app, session, first, second, caplog):
    import logging

    make_order(session)
    first.status = 500
    clock = Clock()
    start = clock.now
    hooks = sender(app, first, clock=clock)
    with caplog.at_level(logging.INFO, logger="kiosk.webhooks.delivery"):
        for _ in range(len(BACKOFF) + 1):
            hooks.deliver_due()
            clock.now += dt.timedelta(hours=11)
        [row] = rows(app, first.url)
        first.status = 200
        with app.app_context():
            delivery.retry(db.session, row.id, now=clock.now)
            db.session.commit()
        hooks.deliver_due()
    said = [(r.levelname, r.getMessage()) for r in caplog.records
            if r.name == "kiosk.webhooks.delivery"]
    event = f"webhook {row.msg_id} order.received"
    again = (start + BACKOFF[0]).isoformat(timespec="seconds")
    assert said[0] == ("WARNING", f"{event} to {first.url} failed (HTTP 500 Internal Server "
                                  f"Error); next attempt at {again}")
    assert said[len(BACKOFF)] == ("ERROR", f"{event} to {first.url} given up after "
                                           f"{len(BACKOFF) + 1} attempts: HTTP 500 Internal "
                                           "Server Error")
    assert said[-1] == ("INFO", f"{event} delivered to {first.url} (HTTP 200)")
    assert len(said) == len(BACKOFF) + 2


@pytest.mark.parametrize("url", ["not a url", "ftp://example.org/hook", "http://[::1"])
def test_a_url_urllib_cannot_take_is_a_failed_attempt_never_an_exception(url):
    answer = delivery.http_post(url, b"{}", {}, timeout_s=1)
    assert answer.status is None and answer.error.startswith("ValueError"), answer


@pytest.mark.postgres_only
def test_an_event_one_station_is_posting_is_skipped_by_another_not_waited_for(app, session,
                                                                             first, second):
    """Two stations on one database: while one waits on a slow receiver, the other sends
    the next event at once (SKIP LOCKED), and neither sends the held one twice."""
    import threading

    make_order(session)  # an event for each receiver; the first's has the lower id
    first.gate = threading.Event()
    patient = Deliverer(session_scope(app), [endpoint(first, timeout_s=60), endpoint(second)],
                        clock=Clock())  # waits on the receiver longer than the bound below
    slow = threading.Thread(target=patient.deliver_one, daemon=True)
    slow.start()
    assert first.entered.wait(30)  # the first station holds the first event's row
    other = threading.Thread(target=sender(app, first, second).deliver_one, daemon=True)
    other.start()
    other.join(30)  # a liveness bound: with a waiting lock it would hang until the gate opens
    try:
        assert not other.is_alive(), "the second station waited for the first's row"
        assert len(second.ids()) == 1 and len(first.ids()) == 1
    finally:
        first.gate.set()
        slow.join(30)
        other.join(30)
    assert [r.state for r in rows(app)] == ["delivered", "delivered"]
    assert len(first.ids()) == 1  # the held event was not sent twice
