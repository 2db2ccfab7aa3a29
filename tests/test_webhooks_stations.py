"""Webhooks across processes: a station killed mid-delivery loses nothing; two stations on
one PostgreSQL database deliver each event exactly once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from factories import ACTOR, make_order
from sqlalchemy import select
from test_webhooks import outbox
from webhook_receiver import secret_file

from kiosk import create_app
from kiosk.domain import orders as order_ops
from kiosk.extensions import db
from kiosk.webhooks import runtime
from kiosk.webhooks.outbox import WebhookDelivery

KIOSK = [sys.executable, "-c", "import sys; from kiosk.cli import main; sys.exit(main())"]


@pytest.fixture
def config_overrides(tmp_path, receiver):
    secret = secret_file(tmp_path)
    return {"webhooks": [{"url": receiver.url, "secret_file": secret, "timeout_s": 30}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def station_config(app, path) -> str:
    s = app.config["KIOSK_SETTINGS"]
    hook = s.webhooks[0]
    path.write_text(
        f'[station]\nname = "Crash station"\nbranch = "main"\n'
        f'[database]\nurl = "{s.database_url}"\n[logging]\nlevel = "WARNING"\n'
        f'[[shelves]]\nname = "A"\nslots = 6\ncapacity = 2\n'
        f'[[shelves]]\nname = "B"\nslots = 4\ncapacity = 3\n'
        f'[[webhooks]]\nurl = "{hook["url"]}"\nsecret_file = "{hook["secret_file"]}"\n'
        f'timeout_s = {hook["timeout_s"]}\n')
    return str(path)


def start_station(config: str) -> subprocess.Popen:
    return subprocess.Popen([*KIOSK, "--config", config, "serve", "--port", str(free_port())],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def test_kill_9_mid_delivery_loses_no_event(app, session, station, receiver, tmp_path):
    orders = [make_order(session, slot="A-01", station=station) for _ in range(2)]
    for order in orders:
        order_ops.collect(session, order, ACTOR)
    session.commit()
    expected = [r.msg_id for r in outbox(app)]
    assert len(expected) == 6
    config = station_config(app, tmp_path / "station.toml")
    receiver.gate = threading.Event()  # hold the first request: the station is mid-delivery
    first = start_station(config)
    try:
        assert receiver.entered.wait(60), "the station never posted"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    held = receiver.ids()[0]
    receiver.gate.set()
    receiver.gate = None
    second = start_station(config)
    try:
        wait_for(lambda: {r.state for r in outbox(app)} == {"delivered"})
    finally:
        second.kill()  # its work is done; how it stops is not what this test is about
        second.wait(20)
    got = receiver.ids()
    assert set(got) == set(expected)
    assert got.count(held) == 2 and len(got) == 7  # the one killed in flight came again
    per_order: dict[int, list[str]] = {}
    for event in receiver.events()[1:]:
        per_order.setdefault(event["data"]["order_id"], []).append(event["type"])
    assert per_order == {o.id: ["order.received", "order.ready", "order.collected"]
                         for o in orders}


@pytest.mark.postgres_only
def test_two_stations_on_postgres_deliver_each_event_once(app, make_settings, session,
                                                         station, receiver):
    other = create_app(make_settings({"station": {"name": "Second"},
                                      "webhooks": app.config["KIOSK_SETTINGS"].webhooks}),
                       {"TESTING": True})
    orders = [make_order(session, slot=f"A-0{1 + n % 6}", station=station) for n in range(10)]
    for order in orders:
        order_ops.collect(session, order, ACTOR)
    session.commit()
    with app.app_context():
        total = len(db.session.scalars(select(WebhookDelivery.id)).all())
    assert total == 30
    done = threading.Barrier(3)
    counts: dict[str, int] = {}

    def work(name: str, which) -> None:
        sender = runtime.deliverer(which)
        done.wait()
        tried = 0
        while len(set(receiver.ids())) < total and tried < 1000:
            tried += sender.deliver_due()
        counts[name] = tried

    threads = [threading.Thread(target=work, args=(n, a)) for n, a in (("one", app),
                                                                      ("two", other))]
    for t in threads:
        t.start()
    done.wait()
    for t in threads:
        t.join(60)
    with other.app_context():
        db.session.remove()
        db.engine.dispose()
    got = receiver.ids()
    assert len(got) == total and len(set(got)) == total  # each exactly once
    assert counts["one"] > 0 and counts["two"] > 0, counts  # both stations did deliver
    per_order: dict[int, list[str]] = {}
    for event in receiver.events():
        per_order.setdefault(event["data"]["order_id"], []).append(event["type"])
    assert all(v == ["order.received", "order.ready", "order.collected"]
               for v in per_order.values())
