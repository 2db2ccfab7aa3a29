"""`kiosk labels` and `kiosk anonymise` through the real command line group."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from factories import ACTOR, make_order

from kiosk.cli import cli
from kiosk.domain import orders as order_ops
from kiosk.extensions import db
from kiosk.models import Order


def write_config(path, database_url: str) -> str:
    path.write_text(f"""
[station]
name = "CLI station"
[database]
url = "{database_url}"
[[shelves]]
name = "A"
slots = 6
capacity = 2
[[shelves]]
name = "B"
slots = 4
capacity = 3
""")
    return str(path)


@pytest.fixture
def run(tmp_path, database_url):
    config = write_config(tmp_path / "station.toml", database_url)

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--config", config, *args])

    return invoke


@pytest.mark.parametrize("name", ["labels.pdf", "labels.svg", "labels.html"])
def test_labels_writes_a_sheet_of_every_slot(run, tmp_path, name):
    out = tmp_path / name
    result = run("labels", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"{out}: 10 labels on 1 page, A-01 … B-04" in result.output
    data = out.read_bytes()
    if name.endswith(".pdf"):
        assert data.startswith(b"%PDF")
    else:
        text = data.decode()
        assert text.count('class="label"') == 10 and "A-06" in text and "B-04" in text
    assert not list(tmp_path.glob(".*.part"))


def test_labels_of_one_shelf(run, tmp_path):
    out = tmp_path / "b.html"
    result = run("labels", "--out", str(out), "--shelf", "b")
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.count('class="label"') == 4 and 'data-label="A-01"' not in text


@pytest.mark.parametrize(("args", "message"), [
    (["--out", "{tmp}/labels.docx"], "use a file name ending in .pdf, .svg or .html"),
    (["--out", "{tmp}/nowhere/labels.pdf"], "does not exist"),
    (["--out", "{tmp}/labels.pdf", "--shelf", "Q"], "--shelf Q: no such shelf"),
])
def test_bad_usage_exits_2_and_writes_nothing(run, tmp_path, args, message):
    result = run("labels", *[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2
    assert message in result.output
    assert not list(tmp_path.glob("labels.*"))


def test_labels_without_out_is_bad_usage(run):
    result = run("labels")
    assert result.exit_code == 2 and "--out" in result.output


def test_labels_on_a_database_never_initialised_initialise_it_as_serve_does(tmp_path):
    config = write_config(tmp_path / "empty.toml", f"sqlite:///{tmp_path / 'empty.db'}")
    out = tmp_path / "labels.pdf"
    result = CliRunner().invoke(cli, ["--config", config, "labels", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "had never been initialised" in result.output and "10 labels" in result.output
    assert out.read_bytes().startswith(b"%PDF")
    again = CliRunner().invoke(cli, ["--config", config, "labels", "--out", str(out)])
    assert again.exit_code == 0 and "initialised" not in again.output


def test_labels_on_a_database_that_cannot_be_reached_name_kiosk_init(tmp_path):
    (tmp_path / "a-file").write_text("")
    config = write_config(tmp_path / "bad.toml", f"sqlite:///{tmp_path / 'a-file' / 'k.db'}")
    out = tmp_path / "labels.pdf"
    result = CliRunner().invoke(cli, ["--config", config, "labels", "--out", str(out)])
    assert result.exit_code in (1, 2) and "Traceback" not in result.output
    assert not out.exists()


def test_anonymise_forgets_old_cards(run, app, session, station):
    old = make_order(session, slot="A-01", station=station)
    order_ops.collect(session, old, ACTOR)
    old.closed_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    fresh = make_order(session, status="cancelled")
    session.commit()
    old_id, fresh_id = old.id, fresh.id
    db.session.remove()

    result = run("anonymise")
    assert result.exit_code == 0, result.output
    assert "1 order closed more than 30 days ago anonymised" in result.output
    assert session.get(Order, old_id).card is None
    assert session.get(Order, fresh_id).card is not None

    result = run("anonymise", "--days", "0")
    assert result.exit_code == 0 and "1 order closed" in result.output
    db.session.remove()
    assert session.get(Order, fresh_id).card is None


def test_anonymise_refuses_negative_days(run):
    result = run("anonymise", "--days", "-1")
    assert result.exit_code == 2
