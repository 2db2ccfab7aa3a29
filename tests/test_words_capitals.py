"""Messages start with a capital letter and name things without quotes (issue 11).

The rule, as kiosk.domain.messages states it: a message (an answer, problem, refusal,
flash or error, a sentence or a fragment of one) starts with a capital letter and names
refs, barcodes, branches and columns without quotes around them. A colon inside a message
goes on in lower case; where messages are put together, a place ("Line 3, column card:")
or a lead ("Not shelved:") ends with a colon and each message after it keeps its capital.

Labels are not messages: a status, a badge, a table cell or a unit ("ready", "in use",
"all branches", "week 45") reads in lower case in the middle of a line. A catalogue text
is taken for a label when it is at most three words without sentence punctuation, or when
LABELS below names it; anything else is a message. The catalogue (messages.pot, as
scripts/update-translations.sh extracts it) and its nb, nn and en translations are checked,
and the messages put together at run time are checked where staff read them.
"""

from __future__ import annotations

import io
import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from staff_helpers import login

from kiosk.appsetup import PACKAGE
from kiosk.domain import import_files
from kiosk.domain.messages import sentence_start, sentences

TRANSLATIONS = PACKAGE / "translations"

# Lower-case catalogue texts longer than three words, or with a comma or colon, that are
# labels all the same (each is shown inside a line, after a "·" or in a table cell).
LABELS = {
    "days on the shelf",  # the title of a slot's age number on the shelf map
    "freed by the cancellation",  # after a cancelled order's ref, in its details
    "leave these on the shelf",  # after "Last day today · 3 bags ·" on the clearance page
    "on a slot, no longer waiting",  # a mismatch kind in the reconciliation table
    "waiting, on no slot here",  # the other mismatch kind
    "on the shelf now",  # a chart's series name, beside "put there in the period"
    "put there in the period",
    "put on the shelf",  # a chart's legend and its table's header, as "collected"
    "packed without all items:",  # "· packed without all items: <note>" in the details
    "page %(page)d of %(pages)d",  # between "← previous" and "next →"
}
# Sentence punctuation: a text holding any of it is a message, however short.
SENTENCE = re.compile(r"[:;.!?]|, ")
# A quote around a name: any double or typographic quote, or a single quote that opens
# (after the start, a space or a bracket; an apostrophe sits between letters or after s).
QUOTED = re.compile(r"[\"“”„«»]|(?:^|[\s(\[])['‘]")
# A message may start with a number (%(name)d) or with one of these values: numbers put in
# as text (ngettext's "3 orders"), a barcode, a date, the station's name. Not with a word a
# person typed or a column name, which may well be in lower case.
STARTS_WITH_VALUE = re.compile(r"^%\((\w+\)d|(num|orders|labels|barcode|when|station)\)s)")


def catalogue(lang: str | None = None):
    path = (TRANSLATIONS / "messages.pot" if lang is None
            else TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po")
    with path.open("rb") as fh:
        return read_po(fh, locale=lang)


def texts(message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple | list) else [message.id]


def is_label(text: str) -> bool:
    """Return True for a catalogue text that is a label, not a message (see the module doc)."""
    return text in LABELS or (len(text.split()) <= 3 and not SENTENCE.search(text))


def starts_wrong(text: str) -> bool:
    """Return True when text starts in lower case, or with a name put in (%(name)s)."""
    if STARTS_WITH_VALUE.match(text):
        return False
    return text[:1].islower() or text.startswith("%(")


def test_every_message_in_the_catalogue_starts_with_a_capital():
    wrong = [t for m in catalogue() if m.id for t in texts(m)
             if not is_label(t) and starts_wrong(t)]
    assert wrong == []


def test_every_text_the_domain_code_marks_is_a_message_with_a_capital():
    """The domain code and the library-system link mark only what errors and problems say
    (N_, Nn_), short or long: "Required column missing" is a message though it is three
    words. The link's staff page marks job states there too: labels, left out."""
    wrong = []
    for folder in ("domain", "ils"):
        for name, line, text, _c, _ctx in extract_from_dir(
                PACKAGE / folder, method_map=[("**.py", "python")],
                keywords={"N_": None, "Nn_": (1, 2)}):
            if name == "staffpage.py":
                continue
            for t in text if isinstance(text, tuple) else (text,):
                if starts_wrong(t) or QUOTED.search(t):
                    wrong.append(f"kiosk/{folder}/{name}:{line}: {t}")
    assert wrong == []


def test_no_catalogue_text_puts_quotes_around_a_name():
    quoted = [t for m in catalogue() if m.id for t in texts(m) if QUOTED.search(t)]
    assert quoted == []


@pytest.mark.parametrize("lang", ["nb", "nn", "en", "ar"])
def test_translations_of_messages_start_with_a_capital_and_quote_nothing(lang):
    """Arabic has no capitals: only its quotes are checked."""
    wrong = []
    for m in catalogue(lang):
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple | list) else [m.string]
        for original, string in zip(texts(m) * len(strings), strings, strict=False):
            if not string:
                continue
            if QUOTED.search(string):
                wrong.append((original, string))
            elif original[:1].isupper() and string[:1].islower():
                wrong.append((original, string))
    assert wrong == []


def test_the_rule_tells_labels_from_messages():
    assert is_label("ready") and is_label("all branches") and is_label("week %(week)d")
    assert not is_label("refused: %(message)s") and not is_label("not shelved: %(problems)s")
    assert starts_wrong("item %(barcode)s is not on hold") and not starts_wrong("Item 1")
    assert starts_wrong("%(column)s is empty") and not starts_wrong("%(num)d problems found")
    assert starts_wrong("%(scanned)s is not a pickup code")
    assert not starts_wrong("%(barcode)s packed; %(left)d left.")
    assert QUOTED.search('kind = "none"') and QUOTED.search("unknown status 'x'")
    assert QUOTED.search("«Filial»") and not QUOTED.search("the library's branches")
    assert not QUOTED.search("the patrons' cards")


def test_messages_put_together_start_with_a_capital():
    assert sentence_start("linje 3, kolonne card") == "Linje 3, kolonne card"
    assert sentences(["Item 1 is not on hold: back to the shelves", "Done."]) == \
        "Item 1 is not on hold: back to the shelves. Done."
    problem = import_files.Problem("No value in %(column)s", line=3, column="card",
                                   params={"column": "card"})
    assert str(problem) == "Line 3, column card: No value in card"
    assert str(import_files.Problem("No orders in the file")) == "No orders in the file"
    ordered = import_files.Problem("Unknown key (known: %(known)s)", order=2, column="x",
                                   params={"known": "ref"})
    assert str(ordered) == "Order 2, column x: Unknown key (known: ref)"


# --- through the doors staff use -------------------------------------------------------

BAD_CSV = ("lånekort;strekkode;filial\n"
           "12345;111;main\n"
           "N000000002;;main\n"
           "N000000003;113;sanvika\n")


@pytest.fixture
def staff(client, app):
    login(client, app)
    return client


def cells(html: str) -> list[str]:
    table = html.split('<table class="list problems">')[1].split("</table>")[0]
    return [re.sub(r"<[^>]+>", "", row.rsplit("<td>", 1)[1]).strip()
            for row in table.split("<tr>")[2:]]


def test_import_problems_on_the_staff_page_start_with_a_capital_in_nb(staff, session):
    data = BAD_CSV.encode("cp1252")
    r = staff.post("/staff/import?lang=nb", data={"file": (io.BytesIO(data), "bad.csv")},
                   content_type="multipart/form-data")
    assert r.status_code == 422
    problems = cells(r.get_data(as_text=True))
    assert len(problems) == 3, problems
    assert [p[:1] for p in problems] == [p[:1].upper() for p in problems], problems
    assert "Ukjent avdeling sanvika" in " ".join(problems)
    assert not any(QUOTED.search(p) for p in problems), problems


def test_import_problems_put_together_start_with_a_capital_in_nb(staff, app, session):
    from kiosk.staff.imports import describe_problem

    problem = import_files.Problem("Not a card number the station accepts (see [cards] "
                                   "patterns)", line=2, column="lånekort", ref="R1")
    with app.test_request_context("/staff/import?lang=nb"):
        assert describe_problem(problem) == ("Linje 2, bestilling R1, kolonne lånekort: Ikke "
                                             "et lånekortnummer stasjonen godtar (se [cards] "
                                             "patterns)")
        alone = import_files.Problem("Required column missing", column="strekkode")
        assert describe_problem(alone) == "Kolonne strekkode: Påkrevd kolonne mangler"


def test_kiosk_import_reports_problems_with_a_capital(tmp_path, database_url):
    from click.testing import CliRunner

    from kiosk.cli import cli

    config = tmp_path / "station.toml"
    config.write_text(f'[station]\nname = "t"\nbranch = "main"\n[database]\n'
                      f'url = "{database_url}"\n')
    bad = tmp_path / "bad.csv"
    bad.write_bytes(BAD_CSV.encode("cp1252"))
    result = CliRunner().invoke(cli, ["--config", str(config), "import", str(bad)])
    assert result.exit_code == 1
    lines = [line.split(": ", 1)[1] for line in result.stderr.splitlines()
             if line.startswith(str(bad))]
    assert len(lines) == 3, result.stderr
    assert all(line[:1].isupper() for line in lines), lines
    assert lines[0].startswith("Line 2, column lånekort: "), lines


# --- the English answers: API details and the command line ------------------------------

TOKEN = "words-token-0123456789abcdefghijkl"


@pytest.fixture
def config_overrides(tmp_path):
    tokens = tmp_path / "api-tokens"
    tokens.write_text(f"{TOKEN}\n")
    return {"api": {"tokens_file": str(tokens)}, "kiosk": {"rate_limit": "off"}}


@pytest.mark.parametrize("path,expected", [
    ("/api/v1/orders?status=bogus", "Unknown status bogus; use received, packing, ready, "),
    ("/api/v1/orders?colour=red", "Unknown parameter colour; known: "),
    ("/api/v1/orders?colour=red&size=9", "Unknown parameters colour, size; known: "),
    ("/api/v1/orders?limit=many", "The limit parameter must be a whole number"),
])
def test_api_details_start_with_a_capital_and_quote_no_name(client, path, expected):
    r = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 400
    assert r.json["detail"].startswith(expected), r.json
    assert not QUOTED.search(r.json["detail"])


def test_patron_screen_details_start_with_a_capital(client):
    r = client.post("/kiosk/scan", data="x", content_type="text/plain")
    assert r.status_code == 415 and r.json["detail"][:1].isupper(), r.json
    r = client.post("/kiosk/collect", json={"event_id": "x"})
    assert r.status_code == 400 and r.json["detail"][:1].isupper(), r.json


def test_cli_errors_start_with_a_capital_and_quote_no_name(tmp_path, database_url):
    from click.testing import CliRunner

    from kiosk.cli import cli

    config = tmp_path / "station.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "user", "unlock", "bob"])
    assert result.exit_code == 1
    assert result.stderr == "Error: No user named bob\n"
    result = CliRunner().invoke(cli, ["--config", str(config), "ils-replay"])
    assert result.stderr == "Error: No library system configured ([ils] kind is none)\n"
