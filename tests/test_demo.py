"""`kiosk demo`: demo shelves and orders in every state, demo cards that show what they say."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk import create_app, demo
from kiosk.cli import cli
from kiosk.extensions import db
from kiosk.models import Order
from kiosk.schema import upgrade_database
from tests.test_devices_e2e import EventStream, wait_until


@pytest.fixture
def demo_app(tmp_path):
    settings = demo.demo_settings(tmp_path, "127.0.0.1", 8080)
    app = create_app(settings, {"TESTING": True})
    upgrade_database(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_demo_settings_use_the_folder_given(demo_app, tmp_path):
    settings = demo_app.config["KIOSK_SETTINGS"]
    assert settings.database_url == f"sqlite:///{tmp_path / 'kiosk.db'}"
    assert settings.api.tokens_file == str(tmp_path / "api-tokens")
    assert {o["kind"] for o in settings.offers} >= {"ebooks", "podcast", "event",
                                                   "language-cafe"}
    assert settings.kiosk.rate_limit != "off"


def test_orders_in_every_state_and_cards_show_what_they_promise(demo_app):
    shown = dict((d.card, outcome) for d, outcome in demo.populate(demo_app))
    with demo_app.app_context():
        statuses = {status for (status,) in db.session.query(Order.status)}
        count = db.session.query(Order).count()
    assert statuses == {"received", "packing", "ready", "collected", "expired", "cancelled"}
    assert 24 <= count <= 60
    assert shown["N000000001"] == "ready: A-02, B-05"
    assert shown["N000000002"] == "ready: A-04, 1 not ready yet"
    assert shown["N000000003"] == shown["N000000004"] == "waiting"
    assert shown["N000000005"] == "ready: A-07, A-07, A-07"
    for card in ("N000000006", "N000000007", "N000000008"):
        assert shown[card] == "nothing"


def test_populate_twice_adds_nothing(demo_app):
    demo.populate(demo_app)
    with demo_app.app_context():
        before = db.session.query(Order).count()
    demo.populate(demo_app)
    with demo_app.app_context():
        assert db.session.query(Order).count() == before


def test_demo_card_scans_and_api_token_work(demo_app, tmp_path):
    demo.populate(demo_app)
    client = demo_app.test_client()
    body = client.post("/kiosk/scan", json={"code": "N000000001"}).get_json()
    assert body["outcome"] == "ready" and [p["slot"] for p in body["pickups"]] == ["A-02", "B-05"]
    token = (tmp_path / "api-tokens").read_text().splitlines()[-1]
    response = client.get("/api/v1/orders?status=expired",
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.get_json()["total"] >= 1


def test_cli_demo_no_serve_prints_cards_and_cleans_up(monkeypatch):
    monkeypatch.delenv("KIOSK_CONFIG", raising=False)
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--port", "8099"])
    assert result.exit_code == 0, result.output
    for d in demo.CARDS:
        assert d.card in result.output
    assert "http://127.0.0.1:8099/api/v1/orders" in result.output
    folder = Path(result.output.split("sqlite:///")[1].split()[0]).parent
    assert folder.name.startswith("kiosk-demo-") and not folder.exists()


def test_a_card_typed_in_the_demo_terminal_reaches_the_patron_screen(monkeypatch):
    """Typing on the screen's keyboard is (rightly) not a scan, so the demo's terminal scans."""
    monkeypatch.delenv("KIOSK_CONFIG", raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kiosk = Path(sys.executable).with_name("kiosk")
    with subprocess.Popen([str(kiosk), "demo", "--port", str(port)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        try:
            printed = []
            for line in proc.stdout:
                printed.append(line)
                if line.startswith("Patron screen:"):
                    break
            assert any("type it here and press Enter" in line for line in printed), printed
            assert wait_until(lambda: _answers(port), timeout=20)
            stream = EventStream(f"http://127.0.0.1:{port}")
            try:
                proc.stdin.write("N000000001\n")
                proc.stdin.flush()
                kind, data = stream.next_event()
            finally:
                stream.close()
        finally:
            proc.terminate()
            proc.communicate(timeout=20)
    assert kind == "scan" and data["source"] == "terminal"
    assert data["outcome"] == "ready"
    assert [p["slot"] for p in data["pickups"]] == ["A-02", "B-05"]

def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
