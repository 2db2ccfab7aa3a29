"""Issue 26: the webhook outbox forgets card and name when their order is anonymised."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from factories import ACTOR, make_order
from test_cli_labels import write_config
from test_webhooks import outbox
from webhook_receiver import secret_file

from kiosk.cli import cli
from kiosk.domain import orders as order_ops
from kiosk.extensions import db
from kiosk.staff import jobs


@pytest.fixture
def config_overrides(tmp_path):
    return {"webhooks": [{"url": "http://127.0.0.1:9/hooks", "secret_file": secret_file(tmp_path),
                          "include_patron": True}]}


def old_and_fresh(session, station) -> tuple[int, int]:
    """An order collected 40 days ago and one cancelled now, each with a patron's name."""
    old = make_order(session, card="N400000051", slot="A-01", station=station)
    old.patron_name = "Åse Ødegård"
    order_ops.collect(session, old, ACTOR)
    old.closed_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    fresh = make_order(session, card="N400000052")
    fresh.patron_name = "Kari Nordmann"
    order_ops.cancel(session, fresh, ACTOR)
    session.commit()
    return old.id, fresh.id


def patrons(app) -> dict[int, set]:
    """Return the cards and names each order's outbox rows still hold."""
    held: dict[int, set] = {}
    for row in outbox(app):
        data = json.loads(row.payload)["data"]
        held.setdefault(row.order_id, set()).update({data["card"], data["patron_name"]})
    return held


def test_kiosk_anonymise_clears_the_outbox_rows_too(app, session, station, tmp_path,
                                                   database_url):
    old_id, fresh_id = old_and_fresh(session, station)
    assert patrons(app)[old_id] - {None} == {"N400000051", "Åse Ødegård"}
    db.session.remove()
    config = write_config(tmp_path / "station.toml", database_url)
    result = CliRunner().invoke(cli, ["--config", config, "anonymise"])
    assert result.exit_code == 0, result.output
    held = patrons(app)
    assert held[old_id] == {None}  # every event of the old order: no card, no name
    assert held[fresh_id] - {None} == {"N400000052", "Kari Nordmann"}  # closed too recently
    rows = [r for r in outbox(app) if r.order_id == old_id]
    assert [r.event_type for r in rows] == ["order.received", "order.ready", "order.collected"]


def test_the_hourly_job_clears_them_as_well(app, session, station):
    old_id, fresh_id = old_and_fresh(session, station)
    assert jobs.run_once(app) == 1
    held = patrons(app)
    assert held[old_id] == {None}
    assert held[fresh_id] - {None} == {"N400000052", "Kari Nordmann"}
