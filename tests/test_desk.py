"""A desk station (`[station] role = "desk"`): staff pages only, on the kiosks' database."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import make_order
from staff_helpers import login

from kiosk import create_app
from kiosk.config import ConfigError, parse
from kiosk.devices.runtime import start as start_devices
from kiosk.extensions import db
from kiosk.models import OrderStatus

DESK = {"station": {"name": "Desk", "branch": "main", "role": "desk", "language": "en"},
        "kiosk": {"rate_limit": "off", "staff_pin": True}}
FETCH = {"X-Requested-With": "fetch"}
CARD = "N300000001"


def patron_routes(app) -> list[tuple[str, str]]:
    """Return (method, path) of every patron route of app, with ids filled in."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule == "/" or rule.rule.startswith("/kiosk/"):
            path = rule.build({k: 1 for k in rule.arguments})[1]
            found += [(m, path) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


@pytest.mark.parametrize("config_overrides", [DESK])
def test_a_desk_has_no_patron_routes(client, app):
    routes = patron_routes(app)
    assert len(routes) >= 9  # the screen, scan, events, collect, print, pin, offers …
    for method, path in routes:
        if path == "/":
            continue
        response = client.open(path, method=method, json={"code": CARD})
        assert response.status_code == 404, (method, path)
        response.close()
    # The desk's own address leads to its staff pages.
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/staff/")


def test_a_kiosk_keeps_them(client, app):
    assert client.get("/").status_code == 200
    assert client.post("/kiosk/scan", json={"code": CARD}).status_code == 200


@pytest.mark.parametrize("config_overrides", [DESK])
def test_a_desk_serves_staff_pages_labels_and_health(client, app):
    login(client, app)
    for path in ("/staff/packing", "/staff/shelving", "/staff/shelves",
                 "/staff/labels", "/staff/labels/sheet?format=svg"):
        assert client.get(path).status_code == 200, path
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json["scanner"]["state"] == "absent"


@pytest.mark.parametrize("config_overrides", [{**DESK, "printer": {"kind": "file",
                                                                     "path": "/dev/null"}}])
def test_a_desk_drives_its_printer(app, station):
    stop = start_devices(app)
    try:
        assert station.printer is not None
        assert station.devices["printer"].state != "absent"
    finally:
        stop()


def test_a_desk_refuses_a_serial_scanner():
    with pytest.raises(ConfigError, match='scanner.kind: a desk station reads no scanner'):
        parse({"station": {"role": "desk"},
               "scanner": {"kind": "serial", "port": "loop://"}})
    assert parse({"station": {"role": "desk"}, "scanner": {"kind": "keyboard"}})


def test_an_unknown_role_is_refused():
    with pytest.raises(ConfigError, match="station.role: must be one of kiosk, desk"):
        parse({"station": {"role": "entrance"}})


@pytest.fixture
def desk(make_settings):
    """A desk station on the same database as the test's kiosk (`app`)."""
    other = create_app(make_settings(DESK), {"TESTING": True, "WTF_CSRF_ENABLED": False})
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_bag_shelved_at_the_desk_shows_at_the_kiosk(app, client, session, desk):
    order = make_order(session, card=CARD)
    order.packed_at = dt.datetime.now(dt.UTC)
    order.status = OrderStatus.PACKING
    session.commit()
    assert client.post("/kiosk/scan", json={"code": CARD}).json["pickups"] == []
    staff = desk.test_client()
    login(staff, desk)
    shelved = staff.post(f"/staff/shelving/{order.id}", data={"slot": "B-03"}, headers=FETCH)
    assert shelved.status_code == 200, shelved.json
    body = client.post("/kiosk/scan", json={"code": CARD}).json
    assert body["outcome"] == "ready"
    assert [p["slot"] for p in body["pickups"]] == ["B-03"]
    # and the desk itself still has no patron screen
    assert staff.post("/kiosk/scan", json={"code": CARD}).status_code == 404


def test_check_config_names_the_role(tmp_path, capsys):
    from kiosk.cli import main

    path = tmp_path / "desk.toml"
    path.write_text('[station]\nrole = "desk"\n[server]\ntrusted_proxy = true\n')
    assert main(["--config", str(path), "check-config"]) == 0
    out = capsys.readouterr().out
    assert "role desk" in out and "trusted_proxy true" in out
