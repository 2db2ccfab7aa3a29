"""Order import from CSV and JSON: grouping, every bad row reported, all or nothing."""

from __future__ import annotations

import io
import json

import pytest
from factories import make_order

from kiosk.domain import import_files, importer
from kiosk.domain.cards import CardReader
from kiosk.domain.orders import Actor
from kiosk.models import AuditEvent, Item, Order

ACTOR = Actor("import test.csv", "Test station")

GOOD_CSV = """card,item_barcode,title,order_ref,branch
N100000001,0300001,Sult,r-1,
N100000001,0300002,Markens grøde,r-1,
N100000001,0300003,,r-2,
N100000002,0300004,Kristin Lavransdatter,,
N100000002,0300005,,,
N100000003,0300006,Doppler,,bryn
"""


class Plain:
    """A station stand-in for checks that need no app: the default card patterns."""

    cards = CardReader([r"^N\d{9}$"])
    branch = "main"


def run(session, station, data, fmt=None, progress=None):
    return importer.import_orders(session, data, ACTOR, station.cards, station.branch,
                                  progress=progress, fmt=fmt)


def problems_of(session, data, fmt=None, station=Plain) -> list[import_files.Problem]:
    with pytest.raises(importer.ImportFailed) as info:
        run(session, station, data, fmt)
    assert session.query(Order).count() == 0, "nothing may be half-imported"
    return info.value.problems


def test_csv_rows_group_by_ref_else_by_card(session, station, monkeypatch):
    monkeypatch.setattr(importer, "BATCH", 1)  # progress is reported per written batch
    calls = []
    result = run(session, station, GOOD_CSV.encode(), progress=lambda d, t: calls.append((d, t)))
    assert (result.orders, result.items) == (4, 6)
    assert result.per_branch == {"main": 3, "bryn": 1}
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    orders = {o.ref or o.card: o for o in session.query(Order)}
    assert [i.barcode for i in orders["r-1"].items] == ["0300001", "0300002"]
    assert [i.title for i in orders["r-1"].items] == ["Sult", "Markens grøde"]
    assert [i.barcode for i in orders["N100000002"].items] == ["0300004", "0300005"]
    assert orders["N100000002"].items[1].title is None
    assert orders["N100000003"].branch == "bryn"
    assert all(o.status == "received" and o.pickup_code for o in orders.values())
    audit = session.query(AuditEvent).first()
    assert (audit.actor, audit.action) == ("import test.csv", "created")


def test_bom_header_case_spaces_and_crlf_are_fine(session, station):
    data = "\ufeff Card ,ITEM_BARCODE\r\nn100000001 ,0300001\r\n\r\n".encode()
    assert run(session, station, data).orders == 1
    assert session.query(Order).one().card == "N100000001"


def test_quoted_fields_with_commas_and_newlines(session, station):
    data = b'card,item_barcode,title\nN100000001,0300001,"Hunger, a novel\nvol. 1"\n'
    run(session, station, data)
    # A line break in a cell (Alt+Enter) is a space: a title is shown on one line.
    assert session.query(Item).one().title == "Hunger, a novel vol. 1"


def test_json_orders(session, station):
    data = json.dumps([
        {"ref": "j-1", "card": "N100000001", "items": [{"barcode": "1", "title": "Sult"}]},
        {"card": "N100000002", "branch": "bryn", "items": [{"barcode": "1"}, {"barcode": "2"}]},
    ]).encode()
    result = run(session, station, data)
    assert (result.orders, result.items, result.per_branch) == (2, 3, {"main": 1, "bryn": 1})
    assert len(result.order_ids) == 2


def test_every_bad_csv_row_is_reported_with_line_and_column(plain):
    data = b"""card,item_barcode,order_ref
N100000001,0300001,r-1
12345,0300002,
N100000003,,
N100000001,0300001,r-1
N100000009,0300009,r-1
N100000004,0300004,r-4,extra
"""
    found = {(p.line, p.column) for p in problems_of(plain, data)}
    assert found == {(3, "card"), (4, "item_barcode"), (5, "item_barcode"),
                     (6, "order_ref"), (7, None)}


def test_problems_are_readable(plain):
    [problem] = problems_of(plain, b"card,item_barcode\nN1,0300001\n")
    assert str(problem) == ("Line 2, column card: Not a card number this station accepts: "
                            "N1; check the number, or ask IT which card numbers are set up")
    assert "[cards]" not in str(problem)  # the staff's words, not a configuration key


@pytest.mark.parametrize("data,expected", [
    (b"card,title\nN100000001,Sult\n", [(1, None)]),
    (b"barcode|card\n", [(1, None), (1, None), (1, None)]),  # two missing, one not known
    (b"card,item_barcode,card\nN100000001,1,N100000001\n", [(1, "card")]),
    (b"", [(1, None)]),
    (b"card,item_barcode\n", [(1, None)]),
    (b"card,item_barcode\n\n\n", [(1, None)]),
])
def test_header_problems(plain, data, expected):
    found = [(p.line, p.column) for p in problems_of(plain, data, fmt="csv")]
    assert sorted(found, key=str) == sorted(expected, key=str)


def test_windows_1252_bytes_are_read_as_such(plain):
    data = "card,item_barcode,title\nN100000001,1,Sult\nN100000002,2,Grøde €\n".encode("cp1252")
    pv = importer.preview(plain, data, Plain.cards, Plain.branch)
    assert pv.ok and pv.encoding == "Windows-1252"
    assert pv.drafts[1].new.items[0].title == "Grøde €"


def test_bytes_that_are_neither_utf8_nor_windows_1252_are_refused_with_their_line(plain):
    data = b"card,item_barcode,title\nN100000001,1,Sult\nN100000002,2,Gr\x81de\n"
    [problem] = problems_of(plain, data)
    assert problem.line == 3 and "Neither UTF-8 nor Windows-1252" in problem.text


def test_nul_bytes_are_refused(plain):
    [problem] = problems_of(plain, b"card,item_barcode\nN100000001,\x0012\n")
    assert problem.line == 2 and "NUL" in problem.text


def test_oversized_file_is_refused_before_parsing(plain, monkeypatch):
    monkeypatch.setattr(import_files, "MAX_BYTES", 100)
    [problem] = problems_of(plain, GOOD_CSV.encode())
    assert "larger than" in problem.text


def test_too_long_values_are_refused(plain):
    data = f"card,item_barcode,title\nN100000001,{'9' * 65},{'t' * 501}\n".encode()
    found = {p.column for p in problems_of(plain, data)}
    assert found == {"item_barcode", "title"}


def test_ref_already_in_the_database(session, station):
    make_order(session, ref="r-1")
    [problem] = problems_of_after_existing(session, station, GOOD_CSV.encode())
    assert (problem.line, problem.column) == (2, "order_ref")
    assert "exists already" in problem.text


def problems_of_after_existing(session, station, data):
    before = session.query(Order).count()
    with pytest.raises(importer.ImportFailed) as info:
        run(session, station, data)
    assert session.query(Order).count() == before
    return info.value.problems


@pytest.mark.parametrize("data,where", [
    (b"{not json", (1, None, None)),
    (b'{"ref": "x"}', (None, None, None)),
    (b'[{"card": "N100000001", "items": []}]', (None, 1, "items")),
    (b'[{"card": "N100000001", "items": [{"barcode": ""}]}]', (None, 1, "items[0].barcode")),
    (b'[{"card": "N100000001", "items": [{"barcode": "1"}], "shelf": "A"}]', (None, 1, "shelf")),
    (b'[{"card": 100000001, "items": [{"barcode": "1"}]}]', (None, 1, "card")),
    (b'["N100000001"]', (None, 1, None)),
    (b"[" * 50_000 + b"]" * 50_000, (None, None, None)),
])
def test_bad_json_is_reported(plain, data, where):
    problems = problems_of(plain, data, fmt="json")
    assert where in [(p.line, p.order, p.column) for p in problems]


def test_duplicate_refs_in_one_json_file(plain):
    order = {"ref": "j-1", "card": "N100000001", "items": [{"barcode": "1"}]}
    problems = problems_of(plain, json.dumps([order, order]).encode())
    assert [(p.order, p.column) for p in problems] == [(2, "ref")]


def test_format_is_detected_from_name_then_content():
    assert import_files.detect_format(b"[]", "orders.csv") == "csv"
    assert import_files.detect_format(b"card,item", "orders.json") == "json"
    assert import_files.detect_format(b"\xef\xbb\xbf  [{}]") == "json"
    assert import_files.detect_format(b"card,item_barcode\n") == "csv"


def test_preview_writes_nothing_and_reads_files(plain, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(GOOD_CSV.encode())
    pv = importer.preview(plain, path, Plain.cards, Plain.branch)
    assert pv.ok and pv.format == "csv" and len(pv.drafts) == 4 and pv.items == 6
    assert plain.query(Order).count() == 0
    pv = importer.preview(plain, io.BytesIO(GOOD_CSV.encode()), Plain.cards, "bryn")
    assert pv.per_branch == {"bryn": 4}


def test_unreadable_file_is_a_problem_not_a_crash(plain, tmp_path):
    pv = importer.preview(plain, tmp_path / "missing.csv", Plain.cards, Plain.branch)
    assert not pv.ok and "Cannot read" in pv.problems[0].text


def test_a_failing_order_midway_rolls_back_everything(session, station):
    pv = importer.preview(session, GOOD_CSV.encode(), station.cards, station.branch)
    make_order(session, ref="r-2")  # taken between the preview and the import
    with pytest.raises(importer.ImportFailed) as info:
        run(session, station, pv)
    assert "r-2" in str(info.value.problems[0])
    assert session.query(Order).count() == 1
