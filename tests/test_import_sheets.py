"""Issue 26: files that say they are large are counted before they are unpacked.

An 835-byte .ods whose row repeats a million times, a million-row .xlsx, a value in the
sheet's last cell: each is one clear problem in the preview, found without building the
cells. Also: CSV has the same row limit, a preview keeps at most MAX_PROBLEMS problems
(the rest counted), and an import needing more pickup codes than are free is a problem in
the preview, not a failure when it is written. Memory is measured in bench/import_files.py.
"""

from __future__ import annotations

import pytest
from factories import make_order
from hostile_sheets import far_xlsx, long_xlsx, ods_from_rows_xml, ods_row, repeated_ods

from kiosk.domain import import_files, import_sheets, importer, pickup_codes
from kiosk.domain.cards import CardReader
from kiosk.domain.import_reader import read_orders

CARDS = CardReader([r"^N\d{9}$"])


def texts(pv) -> list[str]:
    return [p.text for p in pv.problems]


@pytest.mark.parametrize("times", [import_sheets.MAX_ROWS + 1, 1_000_000])
def test_a_row_said_to_repeat_past_the_limit_is_one_problem(times):
    data = repeated_ods(times)
    assert len(data) < 1000
    pv = read_orders(data, "ods", CARDS, "main")
    assert texts(pv) == ["More than 100000 rows; split the file into several imports"]
    assert pv.drafts == []


def test_a_row_repeated_up_to_the_limit_is_read():
    pv = read_orders(repeated_ods(3), "ods", CARDS, "main")
    assert [p.text for p in pv.problems][:1] == [
        "Barcode 0300000001 is already in this order on line 2"]


def test_a_million_row_workbook_is_refused_before_it_is_unpacked():
    data = long_xlsx(1_000_000)
    assert len(data) < import_files.MAX_BYTES
    pv = read_orders(data, "xlsx", CARDS, "main")
    assert texts(pv) == ["More than 100000 rows; split the file into several imports"]


def test_one_value_in_the_last_cell_is_counted_not_filled_in():
    pv = read_orders(far_xlsx(), "xlsx", CARDS, "main")
    assert texts(pv) == ["More than 100000 rows; split the file into several imports"]


def test_columns_repeated_count_as_cells():
    wide = ods_row("card", "item_barcode") + (
        '<table:table-row table:number-rows-repeated="20000"><table:table-cell '
        'table:number-columns-repeated="40" office:value-type="string"><text:p>x</text:p>'
        '</table:table-cell></table:table-row>')
    pv = read_orders(ods_from_rows_xml(wide), "ods", CARDS, "main")
    assert texts(pv) == ["The first sheet spans 20001 rows and 40 columns, more than "
                         "600006 cells; delete what is not orders, or split the file"]


def test_repeated_text_counts_as_often_as_it_repeats():
    long = ods_row("card", "item_barcode", "title") + ods_row(
        "N000000001", "1", "ø" * 250, repeated=40_000)
    pv = read_orders(ods_from_rows_xml(long), "ods", CARDS, "main")
    assert texts(pv) == ["The spreadsheet holds more than 16 MiB of text; split it into "
                         "several imports"]


def test_empty_rows_and_columns_libreoffice_writes_for_formatting_do_not_count():
    formatted = (ods_row("card", "item_barcode") + ods_row("N000000001", "0300001")
                 + '<table:table-row table:number-rows-repeated="1048574"><table:table-cell '
                   'table:number-columns-repeated="1024"/></table:table-row>')
    pv = read_orders(ods_from_rows_xml(formatted), "ods", CARDS, "main")
    assert pv.ok and pv.items == 1


def test_a_csv_past_the_row_limit_is_one_problem(monkeypatch):
    monkeypatch.setattr(import_sheets, "MAX_ROWS", 5)
    text = "card,item_barcode\n" + "".join(f"N{n:09d},{n}\n" for n in range(1, 7))
    pv = read_orders(text.encode(), "csv", CARDS, "main")
    assert [str(p) for p in pv.problems] == [
        "Line 7: More than 5 rows; split the file into several imports"]


def test_a_preview_keeps_the_first_problems_and_counts_the_rest():
    many = import_files.MAX_PROBLEMS + 500
    text = "card,item_barcode\n" + "bad,1\n" * many
    pv = read_orders(text.encode(), "csv", CARDS, "main")
    assert len(pv.problems) == import_files.MAX_PROBLEMS
    assert pv.problem_count == many and pv.problems.more == 500
    assert pv.problems[0].line == 2 and not pv.ok


def test_an_import_needing_more_pickup_codes_than_are_free_is_a_preview_problem(
        session, monkeypatch):
    make_order(session)
    make_order(session)  # two open orders hold two of the codes
    monkeypatch.setattr(pickup_codes, "SPACE", 4)
    text = "card,item_barcode\nN000000011,1\nN000000012,2\nN000000013,3\n"
    pv = importer.preview(session, text.encode(), CARDS, "main", "csv")
    assert texts(pv) == ["3 orders need a pickup code each, but only 2 of the 4 codes are "
                         "free (open orders hold the rest); import fewer orders at a time"]
    assert not pv.ok


def test_the_command_line_counts_the_problems_it_does_not_list(tmp_path, database_url):
    from click.testing import CliRunner
    from test_cli_labels import write_config

    from kiosk.cli import cli

    many = import_files.MAX_PROBLEMS + 200
    source = tmp_path / "orders.csv"
    source.write_text("card,item_barcode\n" + "bad,1\n" * many)
    config = write_config(tmp_path / "station.toml", database_url)
    result = CliRunner().invoke(cli, ["--config", config, "import", str(source)])
    assert result.exit_code == 1
    assert "… and 200 more" in result.output
    assert f"{many} problems; nothing imported" in result.output
