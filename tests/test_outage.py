"""The central database away under a running station (kiosk.outage), on a real PostgreSQL.

Each test runs against a throw-away server of its own module (scripts/pg-temp.sh) that it
stops and starts; the shared test server is never touched. Skipped where the PostgreSQL
server binaries are not installed.
"""

from __future__ import annotations

import glob
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import BASE_CONFIG, merge
from factories import make_order
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from kiosk import create_app
from kiosk.config import parse
from kiosk.domain import audit
from kiosk.domain import orders as order_ops
from kiosk.extensions import db
from kiosk.models import AuditEvent, Order
from kiosk.outage import replay, runtime
from kiosk.schema import upgrade_database
from kiosk.systemd import database_check

ROOT = Path(__file__).resolve().parent.parent
PG_TEMP = str(ROOT / "scripts" / "pg-temp.sh")
CARD = "N000000101"
BOUND_S = 30.0  # generous: the stated times are a few seconds

pytestmark = pytest.mark.skipif(not glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                                reason="PostgreSQL server binaries not installed")


class Server:
    """One throw-away PostgreSQL server that a test may stop and start."""

    def __init__(self, folder: str, port: int):
        self.folder, self.port = folder, port
        self.admin = ""
        self.running = False

    def start(self) -> None:
        if self.running:
            return
        out = subprocess.run([PG_TEMP, "start", self.folder, str(self.port)], check=True,
                             capture_output=True, text=True, timeout=120)
        self.admin = out.stdout.strip().splitlines()[-1]
        self.running = True

    def stop(self) -> None:
        subprocess.run([PG_TEMP, "stop", self.folder], check=True, capture_output=True,
                       timeout=120)
        self.running = False

    def execute(self, sql: str) -> None:
        engine = create_engine(self.admin, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(sql))
        finally:
            engine.dispose()

    def url(self, name: str) -> str:
        return make_url(self.admin).set(database=name).render_as_string(hide_password=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    folder = tempfile.mkdtemp(prefix="kiosk-outage-pg-")  # under /tmp: the server's user reads it
    srv = Server(folder, _free_port())
    srv.start()
    template = f"outage_tpl_{uuid.uuid4().hex[:8]}"
    srv.execute(f'CREATE DATABASE "{template}"')
    app = create_app(parse(merge(BASE_CONFIG, {"database": {"url": srv.url(template)}})),
                     {"TESTING": True})
    upgrade_database(app)
    with app.app_context():
        db.engine.dispose()
    srv.template = template  # type: ignore[attr-defined]
    yield srv
    srv.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def database(server) -> str:
    """Return the URL of a fresh migrated database on the module's server (started)."""
    server.start()  # a test before may have left it stopped
    name = f"outage_{uuid.uuid4().hex[:10]}"
    server.execute(f'CREATE DATABASE "{name}" TEMPLATE "{server.template}"')
    return server.url(name)


@pytest.fixture
def stations(database, tmp_path) -> Iterator[Callable[..., object]]:
    """Return a maker of running stations on the test's database; stop them at the end."""
    made: list = []

    def make(name: str = "Entrance", retry_s: float = 0.2, folder: Path = tmp_path,
             watch: bool = True):
        settings = parse(merge(BASE_CONFIG, {
            "station": {"name": name, "branch": "main"},
            "database": {"url": database, "snapshot": str(folder / name / "snapshot.db")}}))
        app = create_app(settings, {"TESTING": True, "WTF_CSRF_ENABLED": False,
                                    "OUTAGE_POLL_S": 60.0,
                                    "OUTAGE_RETRY_S": retry_s})
        stop = runtime.start(app) if watch else (lambda: None)
        made.append((app, stop))
        return app

    yield make
    for app, stop in made:
        shutdown(app, stop)


def shutdown(app, stop) -> None:
    stop()
    if "outage" in app.extensions:
        app.extensions["outage"].close()
    with app.app_context():
        db.engine.dispose()


def wait(app, predicate: Callable[[object], bool], what: str) -> None:
    """Wait (bounded) until predicate(outage) holds; every change notifies the condition."""
    outage = app.extensions["outage"]
    with outage.changed:
        assert outage.changed.wait_for(lambda: predicate(outage), BOUND_S), what


def scan(client, card: str = CARD) -> dict:
    response = client.post("/kiosk/scan", json={"code": card})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def shown(body: dict) -> dict:
    return {k: body[k] for k in ("outcome", "pickups", "waiting", "name", "notices")}


def ready_order(app, card: str = CARD, slot: str = "A-01") -> int:
    with app.app_context():
        return make_order(db.session, card=card, slot=slot,
                          station=app.extensions["station"]).id


def in_snapshot(order_id: int) -> Callable[[object], bool]:
    return lambda o: o.data is not None and any(
        row[0] == order_id for rows in o.data.by_card.values() for row in rows)


def test_scans_answer_from_the_snapshot_while_the_database_is_away(stations, server):
    app = stations()
    ready = ready_order(app)
    with app.app_context():
        make_order(db.session, card=CARD)  # still being packed
    wait(app, in_snapshot(ready), "the snapshot taken at start")
    client = app.test_client()
    before = scan(client)
    assert before["outcome"] == "ready" and before["waiting"] == 1

    server.stop()
    wait(app, lambda o: o.serving(), "the database noticed away")
    assert shown(scan(client)) == shown(before)
    assert shown(scan(client, "N000000999")) == shown(scan(client, "N000000998"))
    assert scan(client, "N000000999")["outcome"] == "nothing"

    health = client.get("/healthz")
    body = health.get_json()
    assert health.status_code == 200 and body["status"] == "degraded"
    assert body["database"]["state"] == "unreachable"
    assert body["snapshot"]["answering_scans"] is True and body["snapshot"]["age_s"] >= 0

    page = client.get("/staff/?lang=nb")
    assert page.status_code == 503
    words = page.get_data(as_text=True)
    assert "Bibliotekets database kan ikke nås siden" in words
    assert "inngangsskjermen svarer fortsatt lånerne fra kopien sin fra" in words
    assert "cannot be reached since" in client.get("/staff/?lang=en").get_data(as_text=True)
    api = client.get("/api/v1/orders")
    assert api.status_code == 503 and api.get_json()["error"] == "database unreachable"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "kiosk_snapshot_age_seconds" in metrics and "kiosk_snapshot_serving 1.0" in metrics
    assert database_check(app)() is None  # systemd's watchdog lets a serving station live

    server.start()
    wait(app, lambda o: not o.down(), "the database back")
    assert shown(scan(client)) == shown(before)
    assert client.get("/healthz").get_json()["database"]["state"] == "ok"


def collect(client, body: dict, order_id: int):
    return client.post("/kiosk/collect", json={"event_id": body["event_id"],
                                               "order_id": order_id})


def collected_events(app, order_id: int) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(
            AuditEvent.order_id == order_id, AuditEvent.action == "collected")))


def test_a_collect_during_the_outage_is_replayed_exactly_once_across_a_restart(
        stations, server, tmp_path):
    app = stations()
    order_id = ready_order(app)
    wait(app, in_snapshot(order_id), "the snapshot taken at start")
    server.stop()
    wait(app, lambda o: o.serving(), "the database noticed away")
    client = app.test_client()
    answer = collect(client, scan(client), order_id)
    assert answer.status_code == 200 and answer.get_json()["collected"] is True
    assert scan(client)["outcome"] == "nothing"  # gone from the screen at once

    shutdown(app, app.extensions["outage_watcher"].close)  # the station restarts, still away
    again = stations()
    wait(again, lambda o: o.serving(), "the restarted station serving from its file")
    assert again.extensions["outage"].journal.pending_orders() == {order_id}
    assert scan(again.test_client())["outcome"] == "nothing"

    server.start()
    wait(again, lambda o: not o.down(), "the database back")
    assert not again.extensions["outage"].journal.pending_orders()
    with again.app_context():
        assert db.session.get(Order, order_id).status == "collected"
    events = collected_events(again, order_id)
    assert len(events) == 1
    assert audit.parse(events[0].detail)["code"] == "offline_collect"

    # Replayed once more (as after a crash between the commit and marking it done): no change.
    outage = again.extensions["outage"]
    outage.journal.add(order_id, CARD, "Entrance")
    from kiosk.appsetup import session_scope

    report = replay.replay(outage.journal, again.extensions["station"], session_scope(again))
    assert list(report.applied.values()) == [replay.ALREADY]
    assert len(collected_events(again, order_id)) == 1


@pytest.mark.parametrize("change", ["cancel", "expire"])
def test_a_bag_changed_centrally_during_the_outage_is_recorded_collected_with_a_note(
        stations, server, change):
    app = stations(retry_s=3600)  # comes back only when woken: the desk acts first
    order_id = ready_order(app)
    wait(app, in_snapshot(order_id), "the snapshot taken at start")
    server.stop()
    wait(app, lambda o: o.serving(), "the database noticed away")
    client = app.test_client()
    assert collect(client, scan(client), order_id).status_code == 200

    server.start()
    desk = stations("Desk", watch=False)
    with desk.app_context():
        order = db.session.get(Order, order_id)
        getattr(order_ops, change)(db.session, order, order_ops.Actor("staff", "Desk"))
        db.session.commit()
    app.extensions["outage"].wake.set()
    wait(app, lambda o: not o.down(), "the database back")

    with app.app_context():
        assert db.session.get(Order, order_id).status == "collected"
    events = collected_events(app, order_id)
    assert len(events) == 1
    note = audit.parse(events[0].detail)
    assert note["code"] == "offline_collect_late"
    assert note["status"] == {"cancel": "cancelled", "expire": "expired"}[change]
    assert "check it at the desk" in audit.render(events[0].detail)


def test_the_snapshot_follows_a_change_at_another_station_within_seconds(stations):
    entrance = stations()
    wait(entrance, lambda o: o.data is not None and not o.down(), "the first snapshot")
    desk = stations("Desk", watch=False)
    order_id = ready_order(desk, card="N000000202", slot="A-02")
    # The poll is 60 s here: only the change's NOTIFY can bring it within the bound.
    wait(entrance, in_snapshot(order_id), "the change at the desk in the snapshot")


def test_the_first_requests_to_meet_the_dead_database_answer_from_the_copy(stations, server,
                                                                          tmp_path):
    first = stations()
    order_id = ready_order(first)
    wait(first, in_snapshot(order_id), "the snapshot file written")
    shutdown(first, first.extensions["outage_watcher"].close)
    app = stations(watch=False)  # no watcher: only the requests themselves find out
    assert in_snapshot(order_id)(app.extensions["outage"])  # loaded from the file
    client = app.test_client()
    live = scan(client)
    server.stop()
    assert shown(scan(client)) == shown(live)  # the scan's own query failed over
    outage = app.extensions["outage"]
    assert outage.serving()
    outage.mark_up()  # as if not noticed yet: the collect's own read meets the dead line
    answer = collect(client, scan(client), order_id)
    assert answer.status_code == 200 and answer.get_json()["journaled"] is True
    assert outage.journal.pending_orders() == {order_id}
    outage.mark_up()
    # A staff page's own query (the login's) meets the dead line: the 503 page, not a 500.
    page = client.post("/staff/login?lang=en", data={"username": "kari", "password": "x" * 12})
    assert page.status_code == 503 and "cannot be reached since" in page.get_data(as_text=True)


def test_an_app_made_for_a_command_writes_no_outage_files(stations, tmp_path):
    app = stations("Command", watch=False)  # as `kiosk import` or `kiosk user add` make it
    assert "outage" in app.extensions
    assert not (tmp_path / "Command").exists()  # run as root, it would leave root's files


def test_a_snapshot_file_that_cannot_be_written_is_reported_and_memory_serves(stations,
                                                                             tmp_path):
    (tmp_path / "Blocked").write_text("a file where the snapshot's folder should be")
    app = stations("Blocked")
    wait(app, lambda o: o.file_error is not None and o.data is not None, "the failed write")
    client = app.test_client()
    assert client.get("/healthz").get_json()["snapshot"]["file_error"]
    assert "kiosk_snapshot_file_failed 1.0" in client.get("/metrics").get_data(as_text=True)
