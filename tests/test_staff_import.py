"""Orders in from a file on the staff pages: preview with bad rows, confirm, progress."""

from __future__ import annotations

import io
import re
import threading

import pytest
from flask_babel import refresh
from sheet_files import ods, xlsx
from staff_helpers import login

from kiosk.models import AuditEvent, Order

GOOD = ("card,item_barcode,title,order_ref\n"
        "N000000001,111,Snømannen,R1\nN000000001,112,,R1\nN000000002,221,Doppler,R2\n")
BAD = ("card,item_barcode,title\nN000000001,111,A\n12345,112,B\nN000000003,,C\n")


@pytest.fixture
def staff(client, app):
    login(client, app)
    return client


def upload(client, text: str, name: str = "orders.csv"):
    return client.post("/staff/import", data={"file": (io.BytesIO(text.encode()), name)},
                       content_type="multipart/form-data")


def finish(app, token: str) -> None:
    app.extensions["staff_imports"][token].thread.join(timeout=60)


def test_bad_rows_are_all_reported_and_nothing_is_saved(staff, session):
    r = upload(staff, BAD)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "2 problems found" in html
    assert '<td>3</td><td translate="no"></td><td translate="no">card</td>' in html
    assert '<td>4</td><td translate="no"></td><td translate="no">item_barcode</td>' in html
    assert "confirm-import" not in html
    assert session.query(Order).count() == 0


def test_preview_then_import_with_progress(staff, app, session):
    r = upload(staff, GOOD)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "2 orders with 3 items, no problems" in html
    assert "Snømannen" in html
    assert session.query(Order).count() == 0  # a preview writes nothing
    token = html.split("/staff/import/")[1].split('"')[0]
    r = staff.post(f"/staff/import/{token}")
    assert r.status_code == 303 and r.location == f"/staff/import/{token}"
    finish(app, token)
    assert staff.get(f"/staff/import/{token}/progress").json == {
        "state": "done", "done": 2, "total": 2, "orders": 2, "problems": []}
    assert "Done: 2 orders imported" in staff.get(r.location).get_data(as_text=True)
    refs = sorted(o.ref for o in session.query(Order))
    assert refs == ["R1", "R2"]
    assert {e.actor for e in session.query(AuditEvent)} == {"kari"}
    # confirming twice imports nothing more
    r = staff.post(f"/staff/import/{token}", headers={"X-Requested-With": "fetch"})
    assert r.status_code == 409 and session.query(Order).count() == 2


def test_a_ref_taken_between_preview_and_import_fails_whole(staff, app, session):
    token = upload(staff, GOOD).get_data(as_text=True).split("/staff/import/")[1].split('"')[0]
    other = upload(staff, GOOD.replace("R2", "R9").replace("N000000002", "N000000005"))
    other_token = other.get_data(as_text=True).split("/staff/import/")[1].split('"')[0]
    staff.post(f"/staff/import/{other_token}")
    finish(app, other_token)
    staff.post(f"/staff/import/{token}")
    finish(app, token)
    status = staff.get(f"/staff/import/{token}/progress").json
    assert status["state"] == "failed" and "R1" in status["problems"][0]
    assert sorted(o.ref for o in session.query(Order)) == ["R1", "R9"]
    # put together with where it is, the problem reads as one message (in nb too)
    assert status["problems"][0].startswith("Line 2, order R1, column order_ref: An order")
    refresh()  # the test's app context keeps the language of earlier requests
    nb = staff.get(f"/staff/import/{token}/progress?lang=nb").json
    assert nb["problems"][0] == ("Linje 2, bestilling R1, kolonne order_ref: Det finnes "
                                 "allerede en bestilling med referanse R1")


def test_uploads_belong_to_their_staff_member(staff, app, client):
    token = upload(staff, GOOD).get_data(as_text=True).split("/staff/import/")[1].split('"')[0]
    stranger = app.test_client()
    login(stranger, app, "ola")
    assert stranger.post(f"/staff/import/{token}").status_code == 404
    assert stranger.get(f"/staff/import/{token}/progress").status_code == 404
    assert staff.get("/staff/import/nonsense/progress").status_code == 404


def upload_bytes(client, data: bytes, name: str):
    return client.post("/staff/import", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("make,name", [(xlsx, "bestillinger.xlsx"), (ods, "bestillinger.ods")])
def test_spreadsheets_import_on_the_staff_page(staff, app, session, make, name):
    data = make([["Lånekort", "Strekkode", "Tittel", "Referanse"],
                 ["N000000001", "111", "Snømannen", "S1"], ["N000000001", 112, None, "S1"]])
    r = upload_bytes(staff, data, name)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "1 order with 2 items, no problems" in html
    token = html.split("/staff/import/")[1].split('"')[0]
    staff.post(f"/staff/import/{token}")
    finish(app, token)
    [order] = session.query(Order).all()
    assert order.ref == "S1" and [i.barcode for i in order.items] == ["111", "112"]


def test_problems_table_names_the_order_ref(staff, session):
    data = "lånekort;strekkode;referanse\nN000000001;111;R1\n12345;112;R2\n".encode("cp1252")
    html = upload_bytes(staff, data, "orders.csv").get_data(as_text=True)
    assert '<td>3</td><td translate="no">R2</td><td translate="no">lånekort</td>' in html
    kind = re.search(r'<small id="file-kind">(.*?)</small>', html).group(1)
    assert re.sub(r"<[^>]+>", "", kind) == "CSV · separator ; · Windows-1252"


def test_a_garbage_workbook_is_a_clear_problem(staff, session):
    r = upload_bytes(staff, b"\x00garbage" * 10, "orders.xlsx")
    assert r.status_code == 422
    assert "Not a readable Excel (.xlsx) file" in r.get_data(as_text=True)
    assert session.query(Order).count() == 0


def test_no_file_is_a_clear_400(staff):
    r = staff.post("/staff/import", data={}, content_type="multipart/form-data")
    assert r.status_code == 400 and 'class="flash flash-error"' in r.get_data(as_text=True)


def test_the_pages_answer_while_a_big_import_runs(staff, app, session, monkeypatch):
    """The import runs beside requests: its progress moves and other staff pages answer."""
    from kiosk.domain import importer

    monkeypatch.setattr(importer, "BATCH", 100)
    second_batch, resume = threading.Event(), threading.Event()
    batches = []

    def pause(_session, created):  # holds the import inside its transaction, batch 2 written
        batches.append(len(created))
        if len(batches) == 2:
            second_batch.set()
            assert resume.wait(timeout=60)

    real = importer.import_orders
    monkeypatch.setattr(importer, "import_orders",
                        lambda *a, **kw: real(*a, on_created=pause, **kw))
    rows = "".join(f"N{100000000 + n:09d},0300{n:06d},Bok {n},BIG-{n}\n" for n in range(350))
    token = upload(staff, "card,item_barcode,title,order_ref\n" + rows).get_data(
        as_text=True).split("/staff/import/")[1].split('"')[0]
    assert staff.post(f"/staff/import/{token}").status_code == 303
    try:
        assert second_batch.wait(timeout=60)
        assert staff.get(f"/staff/import/{token}/progress").json == {
            "state": "running", "done": 100, "total": 350, "orders": None, "problems": []}
        page = staff.get(f"/staff/import/{token}").get_data(as_text=True)
        assert "<progress" in page
        for other in ("/staff/orders", "/staff/packing", "/staff/stats",
                      "/staff/shelves", "/staff/clearance"):
            assert staff.get(other).status_code == 200, other
        assert session.query(Order).count() == 0  # nothing visible before the commit
    finally:
        resume.set()
    finish(app, token)
    assert staff.get(f"/staff/import/{token}/progress").json["state"] == "done"
    assert batches == [100, 100, 100, 50] and session.query(Order).count() == 350


@pytest.mark.parametrize(("lang", "words"), [
    ("nb", "Filen er større enn 8 MiB; del den opp i flere importer"),
    ("nn", "Fila er større enn 8 MiB; del ho opp i fleire importar"),
    ("en", "File larger than 8 MiB; split it into several imports")])
def test_a_file_past_the_upload_limit_is_refused_in_the_staffs_language(staff, lang, words):
    """One limit (8 MiB, import_files.MAX_BYTES) and its refusal in nb, nn and en (issue 26)."""
    from kiosk.domain import import_files

    staff.get(f"/staff/login?lang={lang}")
    refresh()
    r = post_file(staff, b"x" * (import_files.MAX_REQUEST_BYTES + 1))
    assert r.status_code == 413
    html = r.get_data(as_text=True)
    assert words in html and "exceeds the capacity limit" not in html
    fetched = post_file(staff, b"x" * (import_files.MAX_REQUEST_BYTES + 1),
                        {"X-Requested-With": "fetch"})
    assert fetched.status_code == 413 and fetched.get_json()["message"] == words


def post_file(client, data: bytes, headers: dict | None = None):
    """Post data as the form's file, the multipart body made here (the test client would
    spool a large one to a temporary file it leaves open when the app refuses it)."""
    boundary = "kioskboundary7f3a"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"orders.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode() + data + \
        f"\r\n--{boundary}--\r\n".encode()
    return client.post("/staff/import", data=body, headers=headers or {},
                       content_type=f"multipart/form-data; boundary={boundary}")


def test_a_file_just_under_the_request_limit_but_over_the_file_limit_says_the_same(staff):
    from kiosk.domain import import_files

    r = post_file(staff, b"x" * (import_files.MAX_BYTES + 1))
    assert r.status_code == 422
    assert "File larger than 8 MiB; split it into several imports" in r.get_data(as_text=True)


def test_a_preview_of_many_problems_lists_the_first_and_counts_the_rest(staff):
    """Issue 26: a preview listed 999,999 problems in a 160 MB page."""
    from kiosk.domain import import_files

    many = import_files.MAX_PROBLEMS + 250
    r = upload(staff, "card,item_barcode\n" + "bad,1\n" * many)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert f"{many} problems found" in html
    assert html.count("<tr><td>") == import_files.MAX_PROBLEMS
    assert "… and 250 more." in html


def test_a_repeated_row_bomb_is_one_problem_on_the_page(staff):
    from hostile_sheets import repeated_ods

    r = staff.post("/staff/import", content_type="multipart/form-data",
                   data={"file": (io.BytesIO(repeated_ods(1_000_000)), "bestillinger.ods")})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "1 problem found" in html
    assert "More than 100000 rows; split the file into several imports" in html


# --- files as library systems export them (issue 29) ------------------------------------

def confirm(staff, app, html: str) -> None:
    token = html.split("/staff/import/")[1].split('"')[0]
    staff.post(f"/staff/import/{token}")
    finish(app, token)


NO_REFS = "card,item_barcode,title\nN000000001,111,Snømannen\nN000000002,221,Doppler\n"


def test_the_same_file_twice_is_refused_until_import_again_is_ticked(staff, app, session):
    first = upload(staff, NO_REFS, "uke49.csv").get_data(as_text=True)
    confirm(staff, app, first)
    r = upload(staff, NO_REFS, "uke49.csv")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "confirm-import" not in html
    assert "This file was imported on" in html and "by kari (uke49.csv)" in html
    assert 'id="import-again"' in html and 'name="again"' in html
    r = staff.post("/staff/import", content_type="multipart/form-data",
                   data={"file": (io.BytesIO(NO_REFS.encode()), "uke49.csv"), "again": "y"})
    assert r.status_code == 200, r.get_data(as_text=True)
    confirm(staff, app, r.get_data(as_text=True))
    assert session.query(Order).count() == 4


def test_notices_and_header_problems_are_in_the_staffs_words(staff):
    staff.get("/staff/login?lang=nb")
    refresh()
    html = upload(staff, "Takeaway-bestillinger uke 49\nLånekort;Strekkode;Forfatter\n"
                         "N000000001;1;Hamsun\n").get_data(as_text=True)
    assert "Overskriftene står på linje 2; linjene over ble hoppet over" in html
    assert "Kolonner som ikke ble lest: Forfatter" in html
    html = upload(staff, "Lånekort;Forfatter\nN000000001;Hamsun\n").get_data(as_text=True)
    assert ("Ingen kolonne for eksemplarets strekkode (en overskrift som Strekkode eller "
            "Eksemplar)") in html
    assert "item_barcode" not in html.split("<table")[1]
