"""The outage's parts that need no server to stop: snapshot file, scan answers, journal."""

from __future__ import annotations

import os
import stat

import psycopg
import pytest
from factories import make_order
from sqlalchemy.exc import IntegrityError, OperationalError

from kiosk.domain.lookup import find_pickups
from kiosk.extensions import db
from kiosk.outage import snapshot
from kiosk.outage.journal import Journal
from kiosk.outage.state import unreachable

CARD = "N000000301"


@pytest.mark.parametrize("config_overrides", [{"kiosk": {"rate_limit": "off",
                                                         "show_titles": True}}])
def test_the_snapshot_answers_as_the_database_does(app, session, station, tmp_path,
                                                   config_overrides):
    make_order(session, card=CARD, slot="A-01", station=station)
    make_order(session, card=CARD, slot="A-02", station=station)
    make_order(session, card=CARD)  # being packed
    make_order(session, card=CARD, branch="elsewhere")
    make_order(session, card="N000000302", slot="A-03", station=station, status="collected")
    with db.engine.connect() as conn:
        rows = snapshot.read_orders(conn, "main", titles=True)
    data = snapshot.build("main", rows, 1000.0)
    path = tmp_path / "snap" / "snapshot.db"
    snapshot.write(path, data)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # card numbers in it
    loaded = snapshot.load(path, "main")
    assert loaded == data
    assert snapshot.load(path, "another-branch") is None
    for card in (CARD, "N000000302", "N000000399"):
        live = find_pickups(session, card, "main", show_titles=True).as_dict()
        assert snapshot.lookup(loaded, card, show_titles=True).as_dict() == live
    first = snapshot.lookup(loaded, CARD).pickups[0].order_id
    left = snapshot.lookup(loaded, CARD, {first})
    assert [p.order_id for p in left.pickups] != [first] and left.waiting == 1


def test_a_damaged_or_missing_snapshot_file_is_no_snapshot(tmp_path):
    assert snapshot.load(tmp_path / "none.db", "main") is None
    (tmp_path / "bad.db").write_bytes(b"not a database at all")
    assert snapshot.load(tmp_path / "bad.db", "main") is None


def test_the_journal_keeps_its_collects_across_a_reopen(tmp_path):
    journal = Journal(tmp_path / "collects.db")
    entry = journal.add(7, CARD, "Entrance", at=1000.0)
    assert journal.add(7, CARD, "Entrance").id == entry.id  # a second press is the first
    journal.close()
    again = Journal(tmp_path / "collects.db")
    assert again.pending_orders() == {7}
    again.done(again.pending()[0], "collected")
    assert again.pending() == [] and again.recent()[0].outcome == "collected"
    again.close()


def test_only_a_lost_connection_counts_as_unreachable():
    assert unreachable(psycopg.OperationalError("connection refused"))
    assert unreachable(OperationalError("SELECT 1", {}, psycopg.OperationalError("gone")))
    assert not unreachable(IntegrityError("INSERT", {}, psycopg.IntegrityError("dup")))
    assert not unreachable(ValueError("no"))


@pytest.mark.sqlite_only
def test_an_sqlite_station_has_no_snapshot(app, client):
    assert "outage" not in app.extensions and app.extensions["station"].offline is None
    assert "snapshot" not in client.get("/healthz").get_json()
