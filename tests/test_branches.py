"""A library network on one database: three branches, two stations each, a shelf "A" at
every branch (issue 24). Runs on SQLite and, with KIOSK_TEST_POSTGRES, on PostgreSQL."""

from __future__ import annotations

import json
import threading

import pytest
from conftest import BASE_CONFIG, merge
from factories import ACTOR, card_number, make_order
from sqlalchemy import select, text
from staff_helpers import login

from kiosk import create_app
from kiosk.config import ConfigError, parse
from kiosk.domain import orders as order_ops
from kiosk.domain import shelving
from kiosk.extensions import db
from kiosk.models import Order, Shelf, Slot
from kiosk.schema import upgrade_database

BRANCHES = ("sandvika", "bekkestua", "stabekk")
WALL = [{"name": "A", "slots": 4, "capacity": 2}]
TOKEN = "branch-token-for-the-ils-0123456789"


@pytest.fixture
def network(make_settings, database_url, tmp_path):
    """Two stations (apps) per branch on one database; `kiosk init` run by each."""
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN}\n")
    apps: dict[str, list] = {}
    for branch in BRANCHES:
        for n in (1, 2):
            app = create_app(make_settings({
                "station": {"name": f"{branch} {n}", "branch": branch}, "shelves": WALL,
                "api": {"tokens_file": str(tokens)}}),
                {"TESTING": True, "WTF_CSRF_ENABLED": False})
            upgrade_database(app)
            apps.setdefault(branch, []).append(app)
    yield apps
    for pair in apps.values():
        for app in pair:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def _bag(app, branch: str, slot: str | None = None, card: str | None = None) -> tuple[int, str]:
    """Create a packed order of branch (on slot of its wall if given); return id and code."""
    with app.app_context():
        order = make_order(db.session, card=card, branch=branch, slot=slot,
                           station=app.extensions["station"], status=None if slot else "packing")
        if not slot:
            for item in order.items:
                order_ops.pack_item(db.session, order, item.barcode, ACTOR)
            order_ops.finish_packing(db.session, order, ACTOR)
            db.session.commit()
        return order.id, order.pickup_code


def test_every_branch_has_its_own_shelf_a_and_slot_a_01(network):
    with network["sandvika"][0].app_context():
        walls = db.session.execute(select(Shelf.branch, Shelf.name)).all()
        labels = db.session.scalars(select(Slot.branch).where(Slot.label == "A-01")).all()
    assert {b for b, name in walls if name == "A"} >= set(BRANCHES)
    assert sorted(b for b in labels if b in BRANCHES) == sorted(BRANCHES)


def test_a_second_station_of_a_branch_leaves_the_other_walls_alone(network):
    before = {}
    with network["stabekk"][0].app_context():
        before = {b: n for b, n in db.session.execute(
            text("SELECT branch, count(*) FROM slots WHERE active GROUP BY branch"))}
    upgrade_database(network["stabekk"][1])  # init again: nothing to change anywhere
    with network["stabekk"][0].app_context():
        after = dict(db.session.execute(
            text("SELECT branch, count(*) FROM slots WHERE active GROUP BY branch")).all())
    assert after == before and all(after[b] == 4 for b in BRANCHES)


def test_each_branch_shelves_on_its_own_wall_and_its_kiosk_shows_it(network):
    card = card_number()
    for branch in BRANCHES:
        _bag(network[branch][0], branch, slot="A-01", card=card if branch == "stabekk" else None)
    with network["sandvika"][0].app_context():
        rows = db.session.execute(select(Order.branch, Slot.branch).join(
            Order.place).join(Slot, Slot.id == text("places.slot_id"))).all()
    assert rows and all(order_branch == slot_branch for order_branch, slot_branch in rows)
    here = network["stabekk"][1].test_client().post("/kiosk/scan", json={"code": card})
    there = network["sandvika"][1].test_client().post("/kiosk/scan", json={"code": card})
    assert [p["slot"] for p in here.get_json()["pickups"]] == ["A-01"]
    assert there.get_json()["outcome"] == "nothing" and there.get_json()["elsewhere"] == []


def test_a_bag_of_another_branch_is_refused_with_its_branch_named(network):
    order_id, code = _bag(network["sandvika"][0], "sandvika")
    bekkestua = network["bekkestua"][0]
    api = bekkestua.test_client().post(
        f"/api/v1/orders/{order_id}/shelve", json={"slot": "A-01"},
        headers={"Authorization": f"Bearer {TOKEN}"})
    assert api.status_code == 409
    assert api.get_json()["detail"]["branch"] == "sandvika"
    staff = bekkestua.test_client()
    login(staff, bekkestua)
    page = staff.post("/staff/shelving", data={"code": code})
    assert page.status_code == 409
    assert 'class="scan-result error belongs-to"' in page.get_data(as_text=True)
    assert "Belongs to Sandvika" in page.get_data(as_text=True)
    fetch = staff.post("/staff/shelving", data={"code": code},
                       headers={"X-Requested-With": "fetch"})
    assert fetch.status_code == 409 and fetch.get_json()["branch"] == "sandvika"
    with bekkestua.app_context():
        order = order_ops.get(db.session, order_id)
        assert order.status != "ready" and order.place_id is None
        assert shelving.suggest_slot(db.session, order, "bekkestua") is None


def test_tell_other_branch_names_where_the_bag_waits(network, make_settings):
    card = card_number()
    _bag(network["bekkestua"][0], "bekkestua", slot="A-02", card=card)
    telling = create_app(make_settings({
        "station": {"name": "sandvika 3", "branch": "sandvika"}, "shelves": WALL,
        "kiosk": {"rate_limit": "off", "tell_other_branch": True}}), {"TESTING": True})
    try:
        body = telling.test_client().post("/kiosk/scan", json={"code": card}).get_json()
        assert body["outcome"] == "nothing" and body["elsewhere"] == ["Bekkestua"]
        screen = telling.test_client().get("/?lang=nb").get_data(as_text=True)
        data = json.loads(screen.split('id="kiosk-data">')[1].split("</script>")[0])
        assert "Bestillingen din venter på {branch}" in json.dumps(data, ensure_ascii=False)
    finally:
        with telling.app_context():
            db.engine.dispose()


def test_two_branches_shelve_into_their_own_a_01_at_once(network):
    """Two stations of each of two branches fill their own A-01 (two places) at once."""
    work = {b: [_bag(network[b][0], b)[0] for _ in range(4)] for b in ("sandvika", "bekkestua")}
    start = threading.Barrier(4)
    results: dict[str, list[str]] = {b: [] for b in work}

    def station(app, branch: str, ids: list[int]) -> None:
        st = app.extensions["station"]
        with app.app_context():
            session = db.session
            start.wait()
            for order_id in ids:
                def put(order_id=order_id) -> None:
                    order = order_ops.get(session, order_id)
                    slot = shelving.get_slot(session, "A-01", branch)
                    shelving.shelve(session, order, slot, ACTOR, st.calendar, 7)
                try:
                    shelving.with_retry(session, put)
                    results[branch].append("on")
                except shelving.SlotFull:
                    results[branch].append("full")
            session.remove()

    threads = [threading.Thread(target=station, args=(network[b][n], b, work[b][n * 2:n * 2 + 2]))
               for b in work for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results["sandvika"]) == sorted(results["bekkestua"]) == [
        "full", "full", "on", "on"]
    with network["sandvika"][0].app_context():
        per_wall = dict(db.session.execute(text(
            "SELECT s.branch, count(*) FROM orders o JOIN places p ON p.id = o.place_id "
            "JOIN slots s ON s.id = p.slot_id WHERE s.label = 'A-01' GROUP BY s.branch")).all())
    assert per_wall == {"sandvika": 2, "bekkestua": 2}


def test_staff_pages_open_on_the_station_branch_and_an_admin_may_switch(network):
    sandvika = network["sandvika"][0]
    _, here = _bag(sandvika, "sandvika", slot="A-03")
    _, there = _bag(network["stabekk"][0], "stabekk", slot="A-03")
    staff = sandvika.test_client()
    login(staff, sandvika, "kari")
    shelves = staff.get("/staff/shelves").get_data(as_text=True)
    assert here in shelves and there not in shelves
    assert staff.get("/staff/shelves?branch=stabekk").status_code == 403
    admin = sandvika.test_client()
    login(admin, sandvika, "ada", role="admin")
    for page in ("/staff/shelves", "/staff/packing", "/staff/clearance", "/staff/stats",
                 "/staff/orders"):
        assert admin.get(f"{page}?branch=all").status_code == 200, page
    assert there in admin.get("/staff/shelves?branch=stabekk").get_data(as_text=True)
    everything = admin.get("/staff/shelves?branch=all").get_data(as_text=True)
    assert here in everything and there in everything
    assert admin.get("/staff/shelves?branch=nowhere").status_code == 404
    stats = admin.get("/staff/stats").get_data(as_text=True)
    assert 'class="list branch-compare"' in stats and 'data-branch="stabekk"' in stats


def test_a_label_sheet_names_its_branch(network):
    app = network["bekkestua"][0]
    staff = app.test_client()
    login(staff, app)
    sheet = staff.get("/staff/labels/sheet?format=html").get_data(as_text=True)
    assert "Bekkestua (bekkestua 1): slot labels" in sheet
    assert sheet.count('class="label"') == 4


def test_shelf_names_are_unique_per_branch_in_the_configuration():
    two_walls = merge(BASE_CONFIG, {"shelves": [{"name": "A", "slots": 2},
                                                {"name": "A", "slots": 2, "branch": "stabekk"}]})
    assert [s["branch"] for s in parse(two_walls).shelves] == ["main", "stabekk"]
    with pytest.raises(ConfigError, match="within a branch"):
        parse(merge(BASE_CONFIG, {"shelves": [{"name": "A", "slots": 2},
                                              {"name": "A", "slots": 3, "branch": "main"}]}))
    with pytest.raises(ConfigError, match=r"shelves\[0\].branch"):
        parse(merge(BASE_CONFIG, {"station": {"branch": "main", "branches": ["main"]},
                                  "shelves": [{"name": "A", "slots": 2, "branch": "oslo"}]}))


def test_the_fleet_page_groups_stations_by_branch_and_metrics_label_branches(network):
    from kiosk.fleet.runtime import beat_now

    for branch in ("stabekk", "sandvika"):
        for app in network[branch]:
            beat_now(app)
    _bag(network["stabekk"][0], "stabekk", slot="A-04")
    app = network["sandvika"][0]
    staff = app.test_client()
    login(staff, app)
    page = staff.get("/staff/stations").get_data(as_text=True)
    groups = [part.split('"')[0] for part in page.split('<tbody class="fleet-branch" '
                                                        'data-branch="')[1:]]
    assert groups == ["sandvika", "stabekk"]
    stabekk = page.split('data-branch="stabekk"')[1]
    assert 'data-station="stabekk 1"' in stabekk and 'data-station="stabekk 2"' in stabekk
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'kiosk_branch_orders{branch="stabekk",status="ready"} 1.0' in metrics
    assert 'kiosk_branch_shelf_places_free{branch="stabekk"} 7.0' in metrics
    assert 'kiosk_branch_shelf_places_free{branch="sandvika"} 8.0' in metrics


def test_a_desk_packs_for_every_branch_and_its_bag_label_names_the_destination(
        network, make_settings):
    order_id, code = _bag(network["stabekk"][0], "stabekk")
    desk = create_app(make_settings({
        "station": {"name": "Sentralt pakkebord", "branch": "sandvika", "role": "desk"},
        "shelves": WALL}), {"TESTING": True, "WTF_CSRF_ENABLED": False})
    try:
        staff = desk.test_client()
        login(staff, desk)
        assert code not in staff.get("/staff/packing").get_data(as_text=True)
        label = staff.get(f"/staff/orders/{order_id}/label").get_data(as_text=True)
        assert 'class="destination" data-branch="stabekk">To Stabekk<' in label
        kiosk_staff = network["sandvika"][0].test_client()
        login(kiosk_staff, network["sandvika"][0], "per")
        assert kiosk_staff.get(f"/staff/orders/{order_id}/label").status_code == 404
    finally:
        with desk.app_context():
            db.engine.dispose()


def test_clearance_refuses_a_bag_of_another_wall(network):
    order_id, code = _bag(network["bekkestua"][0], "bekkestua", slot="A-01")
    with network["bekkestua"][0].app_context():
        db.session.execute(text("UPDATE orders SET deadline = '2020-01-02' WHERE id = :id"),
                           {"id": order_id})
        db.session.commit()
    app = network["sandvika"][0]
    staff = app.test_client()
    login(staff, app)
    refused = staff.post("/staff/clearance", data={"code": code},
                         headers={"X-Requested-With": "fetch"})
    assert refused.status_code == 409
    assert "Belongs to Bekkestua" in refused.get_json()["message"]
    with app.app_context():
        assert order_ops.get(db.session, order_id).status == "ready"


def test_the_station_says_where_the_bag_waits_as_the_screen_does():
    from kiosk.speech.sentences import Speaker

    said = [s.text for s in Speaker("nb").scan({"outcome": "nothing",
                                                "elsewhere": ["Bekkestua"]})]
    assert said[:2] == ["Bestillingen din venter på Bekkestua.",
                        "Hent den der, eller spør i skranken."]
    nothing = [s.text for s in Speaker("nb").scan({"outcome": "nothing", "elsewhere": []})]
    assert nothing[0] == "Ingenting å hente akkurat nå."


@pytest.mark.browser
@pytest.mark.parametrize("config_overrides", [{"kiosk": {"rate_limit": "off",
                                                         "tell_other_branch": True}}])
def test_the_screen_says_where_the_bag_waits(page, session, station):
    from playwright.sync_api import expect
    from test_browser_patron import open_screen, scan

    shelving.sync_shelves(session, WALL, "bekkestua")
    make_order(session, card="N333333333", branch="bekkestua", slot="A-01", station=station)
    open_screen(page)
    scan(page, "N333333333")
    expect(page.locator("#result h1")).to_have_text("Bestillingen din venter på Bekkestua")
    expect(page.locator("#result .lead")).to_have_text("Hent den der, eller spør i skranken.")
