"""Order files as library systems export them (issue 29): a title row above the header,
columns the station does not use, the patron's name, branches in any case, card numbers a
spreadsheet kept as numbers, the same file or rows imported twice, every problem at once."""

from __future__ import annotations

import pytest
from sheet_files import ods, xlsx

from kiosk.domain import import_files, import_repeats, importer
from kiosk.domain import orders as order_ops
from kiosk.domain.cards import CardReader
from kiosk.domain.orders import Actor
from kiosk.models import AuditEvent, Order

ACTOR = Actor("kari", "Sandvika, skranke")
NINE = CardReader([r"^N\d{9}$"])
BRANCHES = {"sandvika", "bekkestua"}
TITLE = "Takeaway-bestillinger uke 49"
EXPORT = [[TITLE, None, None, None, None, None],
          [None, None, None, None, None, None],
          ["Lånekort", "Strekkode", "Navn", "Forfatter", "Bestilt dato", "Filial"],
          ["N000000001", "03010012345", "Kari Nordmann", "Hamsun", "2026-12-01", "Sandvika"],
          ["N000000001", "03010012346", "Kari Nordmann", "Undset", "2026-12-01", "Sandvika"],
          ["N000000002", "03010012347", "Ola Nordmann", "Vesaas", "2026-12-02", "BEKKESTUA"]]


def preview(session, data, cards=NINE, name="", again=False):
    return importer.preview(session, data, cards, "sandvika", branches=BRANCHES, name=name,
                            again=again)


def semicolon_cp1252(rows) -> bytes:
    return "".join(";".join("" if v is None else str(v) for v in row) + "\r\n"
                   for row in rows).encode("cp1252")


# --- the header row, columns not used, the name, branches --------------------------------

@pytest.mark.parametrize("kind", ["xlsx", "ods", "csv"])
def test_an_export_with_a_title_row_and_extra_columns_reads_with_two_notices(plain, kind):
    data = {"xlsx": xlsx, "ods": ods, "csv": semicolon_cp1252}[kind](EXPORT)
    pv = preview(plain, data)
    assert pv.problems == [], [str(p) for p in pv.problems]
    assert [str(n) for n in pv.notices] == [
        f"The header is on line 3; the lines above it were skipped ({TITLE})",
        "Columns ignored: Forfatter, Bestilt dato"]
    orders = {d.new.card: d.new for d in pv.drafts}
    assert orders["N000000001"].patron_name == "Kari Nordmann"
    assert [i.barcode for i in orders["N000000001"].items] == ["03010012345", "03010012346"]
    # Stored as the library spells its branches, whatever the case in the file.
    assert (orders["N000000001"].branch, orders["N000000002"].branch) == (
        "sandvika", "bekkestua")


def test_the_name_is_stored_as_a_name_from_json_is(plain):
    importer.import_orders(plain, semicolon_cp1252(EXPORT), ACTOR, NINE, "sandvika",
                           branches=BRANCHES, name="uke49.csv")
    names = {o.card: (o.patron_name, o.branch) for o in plain.query(Order)}
    assert names == {"N000000001": ("Kari Nordmann", "sandvika"),
                     "N000000002": ("Ola Nordmann", "bekkestua")}


@pytest.mark.parametrize("header", ["Låner", "Lånernavn", "navn"])
def test_navn_laner_and_lanernavn_are_the_patrons_name(plain, header):
    pv = preview(plain, f"Lånekort;Strekkode;{header}\nN000000001;1;Kari\n".encode())
    assert pv.ok and pv.drafts[0].new.patron_name == "Kari"


def test_a_file_whose_rows_never_name_the_columns_says_which_are_missing(plain):
    pv = preview(plain, f"{TITLE}\nKort nr;Strekkode\nN000000001;1\n".encode())
    assert [str(p) for p in pv.problems] == [  # the row that names the most columns
        "Line 2: No column for the card number (a header such as Lånekort or Kortnummer)",
        "Line 2: Columns not recognised: Kort nr"]


# --- card numbers a spreadsheet kept as numbers -------------------------------------------

def rows_with_number(card):
    return [["Lånekort", "Strekkode"], [card, "03010012345"]]


@pytest.mark.parametrize("make", [xlsx, ods])
def test_zeros_come_back_when_the_patterns_fix_the_length(plain, make):
    ten = CardReader([r"^\d{10}$", r"^N\d{9}$"])
    pv = preview(plain, make(rows_with_number(12345678)), cards=ten)
    assert pv.ok, [str(p) for p in pv.problems]
    assert pv.drafts[0].new.card == "0012345678"


@pytest.mark.parametrize("make", [xlsx, ods])
def test_a_number_that_may_have_lost_zeros_is_a_problem_showing_the_value(plain, make):
    loose = CardReader([r"^\d{6,10}$"])
    pv = preview(plain, make(rows_with_number(12345678)), cards=loose)
    assert pv.drafts == []
    assert [str(p) for p in pv.problems] == [
        "Line 2, column Lånekort: The spreadsheet holds the card number 12345678 as a number, "
        "so leading zeros may have been lost; format the column as text and type the numbers "
        "again"]


def test_a_number_as_long_as_the_longest_card_is_that_card(plain):
    loose = CardReader([r"^\d{6,10}$"])
    pv = preview(plain, xlsx(rows_with_number(1234567890)), cards=loose)
    assert pv.ok and pv.drafts[0].new.card == "1234567890"


def test_the_same_digits_as_text_are_taken_as_written(plain):
    loose = CardReader([r"^\d{6,10}$"])
    pv = preview(plain, xlsx(rows_with_number("0012345678")), cards=loose)
    assert pv.ok and pv.drafts[0].new.card == "0012345678"


def test_a_card_problem_shows_the_value_in_the_staffs_words(plain):
    [problem] = preview(plain, b"kort;strekkode\nN12;1\n").problems
    assert problem.params == {"value": "N12"}
    assert "[cards]" not in problem.text and "N12" in problem.text


# --- every problem of every row, in one pass ---------------------------------------------

def test_every_row_of_an_order_with_an_unknown_branch_is_named_card_errors_or_not(plain):
    data = (b"kort;strekkode;referanse;filial\n"
            b"N000000001;1;R1;Sanvika\n"
            b"N000000001;2;R1;Sanvika\n"
            b"N12;3;R2;rykkinn\n")
    found = [(p.line, p.column, p.problem) for p in preview(plain, data).problems]
    unknown = "Unknown branch %(branch)s (the library's branches: %(known)s)"
    assert found == [(2, "filial", unknown), (3, "filial", unknown),
                     (4, "kort", import_files.NOT_A_CARD), (4, "filial", unknown)]


def test_a_row_with_a_bad_card_still_has_its_other_values_checked(plain):
    data = "kort;strekkode;tittel\nN12;1|2;Bok\u202e\n".encode()
    columns = [p.column for p in preview(plain, data).problems]
    assert columns == ["kort", "strekkode", "tittel"]


# --- the same orders twice -----------------------------------------------------------------

NO_REFS = b"kort;strekkode\nN000000001;1\nN000000001;2\nN000000002;3\n"


def test_the_same_file_again_is_refused_naming_the_earlier_import(plain):
    importer.import_orders(plain, NO_REFS, ACTOR, NINE, "sandvika", branches=BRANCHES,
                           name="uke49.csv")
    pv = preview(plain, NO_REFS, name="uke49 (1).csv")
    assert not pv.ok
    same_file = [p for p in pv.problems if p.problem == import_repeats.SAME_FILE]
    assert len(same_file) == 1
    assert same_file[0].params["file"] == "uke49.csv" and same_file[0].params["who"] == "kari"
    rows = [(p.line, p.params["barcode"]) for p in pv.problems
            if p.problem == import_repeats.SAME_ROW]
    assert rows == [(2, "1"), (3, "2"), (4, "3")]
    with pytest.raises(importer.ImportFailed):
        importer.import_orders(plain, NO_REFS, ACTOR, NINE, "sandvika", branches=BRANCHES)
    assert plain.query(Order).count() == 2


def test_rows_open_orders_hold_are_refused_in_another_file_too(plain):
    importer.import_orders(plain, NO_REFS, ACTOR, NINE, "sandvika", branches=BRANCHES,
                           name="uke49.csv")
    other = b"kort;strekkode\nN000000009;1\nN000000002;3\n"  # item 1 for another card is fine
    problems = preview(plain, other).problems
    assert [(p.line, p.problem) for p in problems] == [(3, import_repeats.SAME_ROW)]
    assert problems[0].params["code"] == plain.query(Order).filter_by(
        card="N000000002").one().pickup_code


def test_import_again_imports_and_closed_orders_are_no_repeat(plain):
    importer.import_orders(plain, NO_REFS, ACTOR, NINE, "sandvika", branches=BRANCHES)
    assert preview(plain, NO_REFS, again=True).ok
    importer.import_orders(plain, NO_REFS, ACTOR, NINE, "sandvika", branches=BRANCHES,
                           again=True)
    assert plain.query(Order).count() == 4
    for order in plain.query(Order):
        order_ops.cancel(plain, order, ACTOR)
    plain.commit()
    assert preview(plain, NO_REFS).ok  # nothing open holds them now


def test_the_file_hash_is_kept_with_the_created_orders(plain):
    importer.import_orders(plain, NO_REFS, ACTOR, NINE, "sandvika", branches=BRANCHES,
                           name="uke49.csv")
    details = {e.detail for e in plain.query(AuditEvent).filter_by(action="created")}
    assert details == {f'{{"code": "items", "num": {n}, "file": "uke49.csv", "sha256": '
                       f'"{import_repeats.file_hash(NO_REFS)}"}}' for n in (1, 2)}


def test_an_item_packed_in_one_open_bag_is_refused_for_another(plain):
    importer.import_orders(plain, NO_REFS, ACTOR, NINE, "sandvika", branches=BRANCHES)
    importer.import_orders(plain, NO_REFS, ACTOR, NINE, "sandvika", branches=BRANCHES,
                           again=True)
    first, second = plain.query(Order).filter_by(card="N000000002").order_by(Order.id)
    order_ops.pack_item(plain, first, "3", ACTOR)
    plain.commit()
    with pytest.raises(order_ops.OrderError) as info:
        order_ops.pack_item(plain, second, "3", ACTOR)
    assert info.value.detail["kind"] == "packed_elsewhere"
    assert first.pickup_code in str(info.value)
    order_ops.cancel(plain, first, ACTOR)  # the first bag is gone: the item is free
    plain.commit()
    assert order_ops.pack_item(plain, second, "3", ACTOR).packed_at is not None


def test_a_title_alone_on_its_line_does_not_hide_the_separator(plain):
    pv = preview(plain, f"{TITLE}\n\nLånekort;Strekkode\nN000000001;1\n".encode("cp1252"))
    assert pv.ok and pv.delimiter == ";"
    assert len(pv.notices) == 1


def test_kiosk_import_again(tmp_path, database_url):
    from click.testing import CliRunner

    from kiosk.cli import cli

    config = tmp_path / "station.toml"
    config.write_text(f'[station]\nname = "t"\nbranch = "sandvika"\n[database]\n'
                      f'url = "{database_url}"\n')
    orders = tmp_path / "uke49.csv"
    orders.write_bytes(NO_REFS)
    run = CliRunner().invoke
    assert run(cli, ["--config", str(config), "import", str(orders)]).exit_code == 0
    again = run(cli, ["--config", str(config), "import", str(orders)])
    assert again.exit_code == 1 and "This file was imported on" in again.stderr
    assert "--again" in again.stderr
    assert run(cli, ["--config", str(config), "import", "--again", str(orders)]).exit_code == 0


def test_a_json_orders_branch_matches_without_case_too(plain):
    data = b'[{"card": "N000000001", "branch": "Bekkestua", "items": [{"barcode": "1"}]}]'
    pv = preview(plain, data)
    assert pv.ok and pv.drafts[0].new.branch == "bekkestua"


def test_the_packing_page_names_the_other_bag(client, app, session):
    from staff_helpers import login

    login(client, app)
    new = order_ops.NewOrder(card="N000000001", branch="main",
                             items=(order_ops.NewItem("03010012345", "Sult"),))
    first = order_ops.create_order(session, new, ACTOR)
    second = order_ops.create_order(session, new, ACTOR)
    session.commit()
    fetch = {"X-Requested-With": "fetch"}
    r = client.post(f"/staff/packing/{first.id}/item", data={"code": "03010012345"},
                    headers=fetch)
    assert r.status_code == 200
    r = client.post(f"/staff/packing/{second.id}/item", data={"code": "03010012345"},
                    headers=fetch)
    assert r.status_code == 409 and r.json["kind"] == "packed_elsewhere"
    assert r.json["message"] == (f"Item 03010012345 is already packed in another bag (pickup "
                                 f"code {first.pickup_code}); check which order it belongs to")
