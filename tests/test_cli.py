"""The `kiosk` command: exit codes, configuration errors, init, import."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from sheet_files import ods, xlsx
from sqlalchemy import create_engine, text

from kiosk.appsetup import station_config_folder
from kiosk.cli import cli, main

GOOD_CSV = ("card,item_barcode,title,order_ref\n"
            "N100000001,0300001,Sult,r-1\nN100000001,0300002,,r-1\nN100000002,0300003,,\n")


@pytest.fixture
def station_toml(tmp_path, database_url):
    """A configuration file over this test's (migrated) database."""
    path = tmp_path / "station.toml"
    path.write_text(f'[station]\nname = "CLI test"\nbranch = "main"\n'
                    f'[database]\nurl = "{database_url}"\n'
                    '[[shelves]]\nname = "A"\nslots = 6\ncapacity = 2\n')
    return path


def kiosk(*args: str, stdin: str | bytes | None = None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=stdin)


def orders_in(database_url: str) -> list[tuple]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(
                text("SELECT ref, card, status FROM orders ORDER BY id"))]
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", ["example.toml", "demo.toml"])
def test_check_config_accepts_the_shipped_files(name, capsys, tmp_path):
    # example.toml names /var/lib/kiosk/kiosk.db, which install.sh makes: put it in tmp_path.
    text = (station_config_folder() / name).read_text()
    path = tmp_path / name
    path.write_text(text.replace("sqlite:////var/lib/kiosk/", f"sqlite:///{tmp_path}/"))
    assert main(["--config", str(path), "check-config"]) == 0
    assert "Configuration is valid" in capsys.readouterr().out


@pytest.mark.parametrize("content,expected", [
    ('[station]\nnmae = "x"\n', "station.nmae: unknown key"),
    ("[server]\nport = \"80\"\n", "server.port: must be an integer"),
    ("[cards]\npatterns = ['^N(']\n", "cards.patterns: '^N(' is not a valid regular expression"),
    ("[station\n", "not valid TOML"),
    ("[[shelves]]\nslots = 3\n", "shelves[0].name: required"),
])
def test_bad_configuration_exits_2_naming_file_key_and_problem(tmp_path, capsys, content,
                                                               expected):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    for command in ("check-config", "init"):
        assert main(["--config", str(path), command]) == 2
        err = capsys.readouterr().err
        assert f"Error: {path}: " in err and expected in err
        assert "Traceback" not in err


def test_unreadable_configuration_exits_2(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "missing.toml"), "check-config"]) == 2
    assert "missing.toml: file not found" in capsys.readouterr().err
    assert main(["--config", str(tmp_path), "check-config"]) == 2  # a folder
    assert "is a directory" in capsys.readouterr().err


def test_config_from_the_environment(monkeypatch, tmp_path, capsys):
    path = tmp_path / "env.toml"
    path.write_text('[station]\nname = "From env"\n')
    monkeypatch.setenv("KIOSK_CONFIG", str(path))
    assert main(["check-config"]) == 0
    assert "From env" in capsys.readouterr().out


def test_unknown_command_is_usage_error(capsys):
    assert main(["frobnicate"]) == 2


def test_init_is_idempotent(tmp_path):
    path = tmp_path / "station.toml"
    db_path = tmp_path / "state" / "kiosk.db"
    path.write_text(f'[database]\nurl = "sqlite:///{db_path}"\n'
                    '[[shelves]]\nname = "A"\nslots = 3\ncapacity = 2\n')
    first = kiosk("--config", path, "init")
    assert first.exit_code == 0 and "shelf A added" in first.output
    second = kiosk("--config", path, "init")
    assert second.exit_code == 0 and "added" not in second.output
    assert "Database is up to date" in second.output
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM slots").fetchone() == (3,)
        assert conn.execute("SELECT count(*) FROM places").fetchone() == (6,)


def test_init_says_created_upgraded_or_up_to_date_and_keeps_the_files_private(tmp_path):
    from flask_migrate import upgrade

    from kiosk import create_app
    from kiosk.config import parse

    path = tmp_path / "station.toml"
    db_path = tmp_path / "kiosk.db"
    path.write_text(f'[database]\nurl = "sqlite:///{db_path}"\n')
    umask = os.umask(0o022)  # a root shell's, as install.sh runs it
    try:
        first = kiosk("--config", path, "init")
        assert first.exit_code == 0, first.output
        assert first.output.startswith("Database created at revision ")
        assert "up to date" not in first.output
        assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.glob("kiosk.db*")} \
            == {"kiosk.db": 0o600}
        os.chmod(db_path, 0o644)  # made by an older init: tightened, owner and group kept
        again = kiosk("--config", path, "init")
        assert again.output == "Database is up to date\n"
        assert stat.S_IMODE(db_path.stat().st_mode) == 0o640
        head = first.output.splitlines()[0].split()[-1]
        old_db = tmp_path / "old.db"
        app = create_app(parse({"database": {"url": f"sqlite:///{old_db}"}}),
                         {"TESTING": True, "SECRET_KEY": "x"})
        with app.app_context():
            upgrade(directory=app.extensions["migrate"].directory, revision="0009")
        path.write_text(f'[database]\nurl = "sqlite:///{old_db}"\n')
        upgraded = kiosk("--config", path, "init")
        assert upgraded.output.splitlines()[0] == f"Database upgraded from revision 0009 to {head}"
    finally:
        os.umask(umask)


def test_import_csv_prints_a_summary(station_toml, database_url, tmp_path):
    source = tmp_path / "orders.csv"
    source.write_text(GOOD_CSV)
    result = kiosk("--config", station_toml, "import", source)
    assert result.exit_code == 0, result.output
    assert "Imported 2 orders with 3 items (main 2)" in result.output
    assert [(r, s) for r, _c, s in orders_in(database_url)] == [("r-1", "received"),
                                                                (None, "received")]


def test_import_json_from_stdin(station_toml, database_url):
    data = json.dumps([{"ref": "j-1", "card": "N100000009", "items": [{"barcode": "1"}]}])
    result = kiosk("--config", station_toml, "import", "-", stdin=data)
    assert result.exit_code == 0, result.output
    assert orders_in(database_url) == [("j-1", "N100000009", "received")]


def test_bad_file_exits_1_listing_every_bad_row_and_imports_nothing(station_toml,
                                                                     database_url, tmp_path):
    source = tmp_path / "orders.csv"
    source.write_text("card,item_barcode\nN100000001,1\nbad-card,2\nN100000003,\n")
    result = kiosk("--config", station_toml, "import", source)
    assert result.exit_code == 1
    assert "Line 3, column card:" in result.output
    assert "Line 4, column item_barcode: No value in item_barcode" in result.output
    assert "2 problems; nothing imported" in result.output
    assert "Traceback" not in result.output
    # The value read is shown (issue 29: staff must see what the file held, zeros and all).
    assert "Line 3, column card: Not a card number this station accepts: bad-card" in result.output
    assert orders_in(database_url) == []


@pytest.mark.parametrize("name,content,expected", [
    ("orders.csv", b"card,title\nN100000001,Sult\n", "No column for the item barcode"),
    ("orders.csv", "card,item_barcode\nN100000001,1\n".encode("utf-16"), "UTF-16"),
    ("orders.xlsx", b"no workbook", "Not a readable Excel (.xlsx) file"),
    ("orders.json", b'{"card": "N100000001"}', "list of orders"),
    ("orders.json", b"[{,}]", "Not valid JSON"),
    ("orders.txt", b"", "Empty file"),
])
def test_bad_files_are_clear_errors(station_toml, database_url, tmp_path, name, content,
                                    expected):
    source = tmp_path / name
    source.write_bytes(content)
    result = kiosk("--config", station_toml, "import", source)
    assert result.exit_code == 1 and expected in result.output
    assert orders_in(database_url) == []


@pytest.mark.parametrize("make,name", [(xlsx, "bestillinger.xlsx"), (ods, "bestillinger.ods"),
                                       (xlsx, "-")])
def test_import_spreadsheets(station_toml, database_url, tmp_path, make, name):
    data = make([["Lånekort", "Strekkode", "Tittel", "Referanse"],
                 ["N100000001", "0300001", "Kjærlighet på pinne", "s-1"],
                 ["N100000002", 300002, None, None]])
    if name == "-":
        result = kiosk("--config", station_toml, "import", "-", stdin=data)
    else:
        (tmp_path / name).write_bytes(data)
        result = kiosk("--config", station_toml, "import", tmp_path / name)
    assert result.exit_code == 0, result.output
    assert "Imported 2 orders with 2 items" in result.output
    assert orders_in(database_url) == [("s-1", "N100000001", "received"),
                                       (None, "N100000002", "received")]


def test_semicolon_windows_1252_csv_from_excel(station_toml, database_url, tmp_path):
    source = tmp_path / "eksport.csv"
    source.write_bytes("Lånekort;Strekkode;Tittel\r\nN100000001;0300001;Grøde\r\n"
                       .encode("cp1252"))
    result = kiosk("--config", station_toml, "import", source)
    assert result.exit_code == 0, result.output
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT title FROM items")).scalar() == "Grøde"
    finally:
        engine.dispose()


def test_duplicate_ref_is_refused_the_second_time(station_toml, database_url, tmp_path):
    source = tmp_path / "orders.csv"
    source.write_text(GOOD_CSV)
    assert kiosk("--config", station_toml, "import", source).exit_code == 0
    again = kiosk("--config", station_toml, "import", source)
    assert again.exit_code == 1 and "An order with ref r-1 exists already" in again.output
    assert len(orders_in(database_url)) == 2


def test_missing_file_and_dry_run(station_toml, database_url, tmp_path):
    missing = kiosk("--config", station_toml, "import", tmp_path / "nope.csv")
    assert missing.exit_code == 1 and "Cannot read the file" in missing.output
    source = tmp_path / "orders.csv"
    source.write_text(GOOD_CSV)
    dry = kiosk("--config", station_toml, "import", "--dry-run", source)
    assert dry.exit_code == 0 and "dry run, nothing imported" in dry.output
    assert orders_in(database_url) == []


def test_format_option_overrides_the_extension(station_toml, database_url, tmp_path):
    source = tmp_path / "orders.txt"
    source.write_text(json.dumps([{"card": "N100000001", "items": [{"barcode": "1"}]}]))
    assert kiosk("--config", station_toml, "import", "--format", "json", source).exit_code == 0
    bad = kiosk("--config", station_toml, "import", "--format", "xml", source)
    assert bad.exit_code == 2


def test_import_on_a_database_never_initialised_initialises_it(tmp_path):
    config = tmp_path / "fresh.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "fresh.db"}"\n')
    source = tmp_path / "orders.csv"
    source.write_text(GOOD_CSV)
    result = kiosk("--config", config, "import", source)
    assert result.exit_code == 0, result.output
    assert "had never been initialised" in result.output and "Imported 2 orders" in result.output
    assert len(orders_in(f"sqlite:///{tmp_path / 'fresh.db'}")) == 2


@pytest.mark.parametrize("where", ["before", "after", "after="])
def test_config_before_or_after_the_subcommand(station_toml, database_url, tmp_path, where):
    source = tmp_path / "orders.csv"
    source.write_text(GOOD_CSV)
    args = {"before": ["--config", station_toml, "import", source],
            "after": ["import", source, "--config", station_toml],
            "after=": ["import", "--dry-run", f"--config={station_toml}", source]}[where]
    result = kiosk(*args)
    assert result.exit_code == 0, result.output
    assert "2 orders with 3 items (main 2)" in result.output
    assert main(["check-config", "--config", str(station_toml)]) == 0


def test_config_after_the_subcommand_is_used_not_the_default(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[station]\nnmae = 'typo'\n")
    assert main(["check-config", "--config", str(bad)]) == 2
    assert "nmae" in capsys.readouterr().err


# --- plurals: "1 order", "2 orders", never "order(s)" ------------------------------------

ONE_ORDER = "card,item_barcode\nN100000001,0300001\n"
TWO_ORDERS = "card,item_barcode\nN100000001,0300001\nN100000002,0300002\nN100000002,0300003\n"


@pytest.mark.parametrize("content,summary", [
    (ONE_ORDER, "1 order with 1 item (main 1)"),
    (TWO_ORDERS, "2 orders with 3 items (main 2)"),
])
def test_import_counts_one_order_and_two_orders_in_words(station_toml, database_url,
                                                         tmp_path, content, summary):
    source = tmp_path / "orders.csv"
    source.write_text(content)
    dry = kiosk("--config", station_toml, "import", "--dry-run", source)
    assert dry.output == f"{source}: {summary} (dry run, nothing imported)\n"
    done = kiosk("--config", station_toml, "import", source)
    assert done.exit_code == 0 and done.output == f"{source}: Imported {summary}\n"
    assert "(s)" not in dry.output + done.output


@pytest.mark.parametrize("content,count", [
    ("card,item_barcode\nbad,1\n", "1 problem"),
    ("card,item_barcode\nbad,1\nworse,2\n", "2 problems"),
])
def test_a_bad_file_counts_its_problems_in_words(station_toml, database_url, tmp_path,
                                                 content, count):
    source = tmp_path / "orders.csv"
    source.write_text(content)
    result = kiosk("--config", station_toml, "import", source)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == f"Error: {source}: {count}; nothing imported"
    assert "(s)" not in result.output


def test_check_config_counts_shelves_and_slots_in_words(tmp_path, database_url):
    one = tmp_path / "one.toml"
    one.write_text(f'[database]\nurl = "{database_url}"\n'
                   '[[shelves]]\nname = "A"\nslots = 1\ncapacity = 2\n')
    two = tmp_path / "two.toml"
    two.write_text(f'[database]\nurl = "{database_url}"\n'
                   '[[shelves]]\nname = "A"\nslots = 1\ncapacity = 2\n'
                   '[[shelves]]\nname = "B"\nslots = 3\ncapacity = 2\n')
    assert "  1 shelf, 1 slot\n" in kiosk("--config", one, "check-config").output
    assert "  2 shelves, 4 slots\n" in kiosk("--config", two, "check-config").output


def test_version_names_the_installed_release():
    from importlib.metadata import version

    result = kiosk("--version")
    assert result.exit_code == 0 and result.output.strip() == f"kiosk {version('kiosk')}"


@pytest.mark.parametrize("command", ["init", "import", "serve", "backup", "labels"])
def test_each_command_s_help_mentions_config(command):
    result = kiosk(command, "--help")
    assert result.exit_code == 0, result.output
    assert "--config PATH" in result.output and "KIOSK_CONFIG" in result.output


def test_the_docs_example_imports_with_the_configuration_install_sh_writes(tmp_path,
                                                                            database_url):
    """A new library's first import: install.sh's configuration, the docs' example file."""
    root = Path(__file__).parent.parent
    script = (root / "systemd" / "install.sh").read_text()
    written = script.split("<<'TOML'\n", 1)[1].split("\nTOML\n", 1)[0]
    config = tmp_path / "station.toml"
    config.write_text(written.replace("sqlite:////var/lib/kiosk/kiosk.db", database_url))
    result = kiosk("--config", config, "import", root / "docs" / "examples" / "orders-example.csv")
    assert result.exit_code == 0, result.output
    assert len(orders_in(database_url)) == 3
