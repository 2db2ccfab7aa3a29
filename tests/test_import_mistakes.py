"""Mistakes that can be undone: unknown branches, orders of any branch found and corrected,
a cancelled order's ref free for a corrected import."""

from __future__ import annotations

import io

import pytest
from factories import ACTOR, make_order
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError
from staff_helpers import login

from kiosk import create_app
from kiosk.domain import audit, importer, shelving
from kiosk.domain import orders as order_ops
from kiosk.extensions import db
from kiosk.models import Order

TYPO = ("card,item_barcode,order_ref,branch\n"
        "N000000001,111,R1,main\nN000000002,221,R2,sanvika\n")


@pytest.fixture
def staff(client, app):
    login(client, app)
    return client


def upload(client, text_: str, name: str = "orders.csv"):
    return client.post("/staff/import", data={"file": (io.BytesIO(text_.encode()), name)},
                       content_type="multipart/form-data")


def import_now(client, app, text_: str) -> None:
    html = upload(client, text_).get_data(as_text=True)
    assert "confirm-import" in html, html
    token = html.split("/staff/import/")[1].split('"')[0]
    client.post(f"/staff/import/{token}")
    app.extensions["staff_imports"][token].thread.join(timeout=60)


# --- known branches -----------------------------------------------------------

def test_an_unknown_branch_is_a_problem_in_the_preview_and_nothing_is_imported(staff, session):
    r = upload(staff, TYPO)
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "confirm-import" not in html
    assert ('<td>3</td><td translate="no">R2</td><td translate="no">branch</td>'
            "<td>Unknown branch sanvika (the library&#39;s branches: main)</td>") in html
    assert session.query(Order).count() == 0


def test_known_branches_are_configured_this_one_and_those_shelved_at(app, session, station,
                                                                     make_settings):
    assert set(station.known_branches(session)) == {"main"}
    for branch in ("bryn", "rud"):  # their walls in this shared database
        shelving.sync_shelves(session, [{"name": "A", "slots": 2, "capacity": 1}], branch)
    session.commit()
    make_order(session, branch="bryn", slot="A-01", station=station)  # bryn's bags on a shelf
    make_order(session, branch="rud", slot="A-02", station=station, status="collected")
    make_order(session, branch="received-only")  # never shelved: no station seen
    known = station.known_branches(session)
    assert "bryn" in known and "rud" in known and "main" in known
    assert "received-only" not in known and "sanvika" not in known
    assert list(known) == ["bryn", "main", "rud"] and len(known) == 3
    other = create_app(make_settings({"station": {"branches": ["sandvika", "rykkinn"]}}),
                       {"TESTING": True})
    try:
        with other.app_context():
            known = other.extensions["station"].known_branches(db.session)
            assert set(known) == {"main", "bryn", "rud", "sandvika", "rykkinn"}
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def test_configured_branches_import_and_others_do_not(session, station):
    known = {"main", "sanvika"}  # when sanvika really is a branch
    pv = importer.preview(session, TYPO.encode(), station.cards, station.branch,
                          branches=known)
    assert pv.ok
    pv = importer.preview(session, TYPO.encode(), station.cards, station.branch,
                          branches={"main", "sandvika"})
    [problem] = pv.problems
    assert (problem.line, problem.ref, problem.column) == (3, "R2", "branch")
    assert problem.text == "Unknown branch sanvika (the library's branches: main, sandvika)"
    with pytest.raises(importer.ImportFailed):
        importer.import_orders(session, TYPO.encode(), ACTOR, station.cards, station.branch,
                               branches={"main"})
    assert session.query(Order).count() == 0


def test_json_orders_name_their_branch_problem_with_the_ref(session, station):
    data = b'[{"ref": "J1", "card": "N000000001", "branch": "x", "items": [{"barcode": "1"}]}]'
    [problem] = importer.preview(session, data, station.cards, station.branch,
                                 branches={"main"}).problems
    assert (problem.order, problem.ref, problem.column) == (1, "J1", "branch")


# --- finding and correcting -------------------------------------------------------

def test_orders_search_finds_every_branch_with_a_branch_filter(staff, session):
    here = make_order(session, ref="H1")
    typo = make_order(session, ref="T1", branch="sanvika")
    page = staff.get("/staff/orders?branch=all").get_data(as_text=True)
    assert f"/staff/orders/{here.id}" in page and f"/staff/orders/{typo.id}" in page
    page = staff.get("/staff/orders").get_data(as_text=True)  # opens on the station's branch
    assert f"/staff/orders/{here.id}" in page and f"/staff/orders/{typo.id}" not in page
    assert '<option value="sanvika"' in page
    found = staff.get("/staff/orders?q=T1").get_data(as_text=True)
    assert f"/staff/orders/{typo.id}" in found and f"/staff/orders/{here.id}" not in found
    only = staff.get("/staff/orders?branch=main").get_data(as_text=True)
    assert f"/staff/orders/{here.id}" in only and f"/staff/orders/{typo.id}" not in only
    detail = staff.get(f"/staff/orders/{typo.id}").get_data(as_text=True)
    assert 'id="other-branch"' in detail and 'id="correct-order"' in detail
    assert "Shelve / move" not in detail


def test_staff_correct_branch_and_card_with_the_change_in_the_audit_trail(staff, session):
    order = make_order(session, ref="T1", branch="sanvika", card="N000000001")
    r = staff.post(f"/staff/orders/{order.id}/correct",
                   data={"branch": "main", "card": "n000000002"})
    assert r.status_code == 303
    session.expire_all()
    order = session.get(Order, order.id)
    assert (order.branch, order.card) == ("main", "N000000002")
    [event] = [e for e in order.audit if e.action == "corrected"]
    assert event.actor == "kari"
    assert audit.render(event.detail) == (
        "Branch sanvika → main; Patron card *******001 → *******002")
    html = staff.get(f"/staff/orders/{order.id}").get_data(as_text=True)
    assert "Branch sanvika → main" in html and 'id="other-branch"' not in html


@pytest.mark.parametrize("data,words", [
    ({"branch": "nowhere"}, "Nothing corrected"),
    ({"branch": "main", "card": "12345"}, "not a valid patron card number"),
])
def test_bad_corrections_change_nothing(staff, session, data, words):
    order = make_order(session, branch="sanvika", card="N000000001")
    r = staff.post(f"/staff/orders/{order.id}/correct", data=data, follow_redirects=True)
    assert words in r.get_data(as_text=True)
    session.expire_all()
    order = session.get(Order, order.id)
    assert (order.branch, order.card) == ("sanvika", "N000000001")
    assert not [e for e in order.audit if e.action == "corrected"]


def test_collected_orders_and_shelved_bags_keep_their_branch(session, station):
    done = make_order(session, slot="A-01", station=station, status="collected")
    with pytest.raises(order_ops.OrderError, match="cannot be corrected"):
        order_ops.correct(session, done, ACTOR, card="N000000009")
    shelved = make_order(session, slot="A-02", station=station)
    with pytest.raises(order_ops.OrderError, match="take it off the shelf"):
        order_ops.correct(session, shelved, ACTOR, branch="bryn")
    [change] = order_ops.correct(session, shelved, ACTOR, card="N000000009")
    assert change.startswith("card ") and change.endswith(" → *******009")
    assert shelved.card == "N000000009"
    with pytest.raises(order_ops.OrderError, match="Unknown branch"):
        order_ops.correct(session, make_order(session), ACTOR, branch="x", branches={"main"})


# --- cancel, then import the corrected file -----------------------------------------

def test_a_cancelled_order_frees_its_ref_for_the_corrected_import(staff, app, session,
                                                                    make_settings):
    wrong = make_order(session, ref="R2", branch="sanvika")
    assert "exists already" in upload(staff, TYPO.replace("sanvika", "main")).get_data(
        as_text=True)
    staff.post(f"/staff/orders/{wrong.id}/cancel", data={"confirm": "yes"})
    import_now(staff, app, TYPO.replace("sanvika", "main"))
    session.expire_all()
    live = session.query(Order).filter_by(ref="R2").one()
    assert live.branch == "main" and live.status == "received"
    cancelled = session.get(Order, wrong.id)
    assert (cancelled.status, cancelled.ref, cancelled.cancelled_ref) == ("cancelled", None,
                                                                         "R2")
    assert "Reference R2 freed" in audit.render(cancelled.audit[-1].detail)
    found = staff.get("/staff/orders?q=R2").get_data(as_text=True)
    assert f"/staff/orders/{wrong.id}" in found and f"/staff/orders/{live.id}" in found


def test_the_database_keeps_live_refs_unique(session):
    make_order(session, ref="U1")
    session.add(Order(ref="U1", card="N000000001", branch="main", pickup_code="XX-001",
                      status="received", source="import"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_api_shows_and_finds_a_cancelled_orders_ref(app, session):
    from kiosk.api.orders import order_json

    order = make_order(session, ref="A1")
    order_ops.cancel(session, order, ACTOR)
    session.commit()
    assert order_json(order)["ref"] == "A1"


# --- the migration ---------------------------------------------------------------

def test_migration_moves_refs_of_cancelled_orders_aside(tmp_path, make_settings,
                                                        database_url):
    app = create_app(make_settings(), {"TESTING": True})
    directory = app.extensions["migrate"].directory
    engine = create_engine(database_url)
    try:
        with app.app_context():
            downgrade(directory=directory, revision="0001")
            db.engine.dispose()
        with engine.begin() as conn:
            for n, (ref, status) in enumerate([("M1", "cancelled"), ("M2", "received"),
                                               (None, "cancelled")], start=1):
                conn.execute(text(
                    "INSERT INTO orders (ref, card, branch, status, pickup_code, source, "
                    "created_at, updated_at) VALUES (:ref, 'N000000001', 'main', :status, "
                    ":code, 'import', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                    {"ref": ref, "status": status, "code": f"AB-00{n}"})
            conn.execute(text("INSERT INTO items (order_id, barcode) "
                              "SELECT id, 'item-' || id FROM orders"))
        with app.app_context():
            upgrade(directory=directory)
            db.engine.dispose()
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT ref, cancelled_ref, status FROM orders ORDER BY id")).all()
            assert [tuple(r) for r in rows] == [(None, "M1", "cancelled"),
                                                ("M2", None, "received"),
                                                (None, None, "cancelled")]
            assert conn.execute(text("SELECT count(*) FROM items")).scalar() == 3
        with app.app_context():
            downgrade(directory=directory, revision="0001")
            db.engine.dispose()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT ref FROM orders ORDER BY id")).scalars().all() == [
                "M1", "M2", None]
    finally:
        engine.dispose()


@pytest.mark.parametrize("lang,words", [("nb", "Ukjent avdeling sanvika"),
                                        ("nn", "Ukjend avdeling sanvika")])
def test_the_new_pages_in_norwegian_show_no_english(app, client, session, lang, words):
    from test_i18n_staff import english_leftovers, log_in, visible_text

    log_in(client, app, lang)
    typo = make_order(session, ref="T1", branch="sanvika")
    preview = visible_text(upload(client, TYPO).get_data(as_text=True))
    assert words in preview and "Unknown branch" not in preview
    garbage = client.post("/staff/import", data={"file": (io.BytesIO(b"x"), "a.xlsx")},
                          content_type="multipart/form-data").get_data(as_text=True)
    assert "not a readable" not in garbage
    pages = [preview, visible_text(garbage),
             visible_text(client.get(f"/staff/orders/{typo.id}").get_data(as_text=True)),
             visible_text(client.get("/staff/orders?q=T1").get_data(as_text=True)),
             visible_text(client.get("/staff/import").get_data(as_text=True))]
    leftovers = english_leftovers(lang)
    for shown in pages:
        assert [e for e in leftovers if e in shown] == []
