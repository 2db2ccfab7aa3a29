"""Translations: complete catalogues (patron, staff), compiled catalogues in step, RTL, ?lang=."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir, extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from sqlalchemy import text

ROOT = Path(__file__).parent.parent
TEMPLATES = ROOT / "kiosk" / "templates"
TRANSLATIONS = ROOT / "kiosk" / "translations"
COMPLETE = ("nb", "nn", "en")  # every message, patron and staff
PATRON_ONLY = ("ar",)  # the patron's screens only; staff pages fall back to English
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None,  # as update-translations.sh
            "N_": None}  # kiosk.domain.messages: the domain's error messages
PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]|\{\w+\}")


def patron_sources() -> list[tuple[str, Path]]:
    """Return (babel method, path) of every source a patron's screen takes words from."""
    templates = [TEMPLATES / "base.html", TEMPLATES / "error.html",
                 *sorted((TEMPLATES / "patron").rglob("*.html"))]
    python = [ROOT / "kiosk" / "views" / "patron.py", ROOT / "kiosk" / "domain" / "lookup.py",
              ROOT / "kiosk" / "speech" / "sentences.py"]  # what the station says aloud
    return [("jinja2", p) for p in templates] + [("python", p) for p in python]


def patron_messages() -> dict[str, str | tuple[str, ...]]:
    """Extract the patron-facing messages with babel, keyed by their singular msgid."""
    found: dict[str, str | tuple[str, ...]] = {}
    for method, path in patron_sources():
        for _lineno, message, _comments, _context in extract_from_file(method, str(path)):
            key = message[0] if isinstance(message, tuple) else message
            found[key] = message
    return found


@functools.cache
def all_messages(root: Path = ROOT) -> dict[str, str | tuple[str, ...]]:
    """Extract every message under root as scripts/update-translations.sh does (babel.cfg)."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[str, str | tuple[str, ...]] = {}
    for _path, _lineno, message, _comments, _context in extract_from_dir(
            str(root), method_map, options_map, keywords=KEYWORDS):
        found[message[0] if isinstance(message, tuple) else message] = message
    return found


def untranslated(po: Catalog, messages: dict) -> dict[str, list[str]]:
    """Return the messages po lacks, has fuzzy, or leaves (a plural form of) untranslated."""
    problems: dict[str, list[str]] = {"missing": [], "fuzzy": [], "empty": []}
    for key, message in messages.items():
        entry = po.get(key)
        if entry is None:
            problems["missing"].append(key)
        elif entry.fuzzy:
            problems["fuzzy"].append(key)
        elif not all(forms(entry.string)) or (isinstance(message, tuple)
                                              and len(forms(entry.string)) < 2):
            problems["empty"].append(key)
    return {kind: keys for kind, keys in problems.items() if keys}


def catalogue(lang: str):
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def forms(string) -> tuple[str, ...]:
    return tuple(string) if isinstance(string, (tuple, list)) else (string,)


def test_patron_sources_have_messages():
    messages = patron_messages()
    assert "Scan your library card" in messages and "%(num)d item" in messages
    assert len(messages) > 50


def test_all_messages_take_in_the_staff_pages():
    messages, patron = all_messages(), patron_messages()
    assert set(patron) < set(messages)
    staff = set(messages) - set(patron)
    for key in ("Pick list", "Shelf map", "Clearance", "Staff accounts", "Library system",
                "Offers on the idle screen", "Order %(code)s created.", "Reference (optional)",
                "Slot %(slot)s is not in use", "Wrong username or password"):
        assert key in staff, key  # templates, views, lazy form labels, ILS, offers, domain errors
    assert len(staff) > 250


@pytest.mark.parametrize("lang", COMPLETE)
def test_complete_catalogues_translate_every_message(lang):
    problems = untranslated(catalogue(lang), all_messages())
    assert not problems, f"{lang}: {problems} (run scripts/update-translations.sh, translate)"


@pytest.mark.parametrize("lang", PATRON_ONLY)
def test_other_catalogues_translate_every_patron_message(lang):
    problems = untranslated(catalogue(lang), patron_messages())
    assert not problems, f"{lang}: {problems} (run scripts/update-translations.sh, translate)"


def test_a_new_staff_string_without_translation_is_caught(tmp_path):
    page = tmp_path / "kiosk" / "templates" / "staff" / "new.html"
    page.parent.mkdir(parents=True)
    page.write_text('<p>{{ _("Scan the new shelf sticker") }}</p>\n', encoding="utf-8")
    messages = {**all_messages(), **all_messages(tmp_path)}
    assert untranslated(catalogue("nb"), messages) == {"missing": ["Scan the new shelf sticker"]}
    po = catalogue("nn")
    po.add("Scan the new shelf sticker", "")  # merged into the catalogue but not translated
    po["Shelf map"].flags.add("fuzzy")
    assert untranslated(po, messages) == {"fuzzy": ["Shelf map"],
                                          "empty": ["Scan the new shelf sticker"]}
    assert untranslated(catalogue("ar"), patron_messages()) == {}  # staff strings not asked


@pytest.mark.parametrize("lang", (*COMPLETE, "ar"))
def test_translations_keep_their_placeholders(lang):
    for entry in catalogue(lang):
        if not entry.id or not entry.string:
            continue
        wanted = set(PLACEHOLDER.findall(forms(entry.id)[-1]))
        for translated in forms(entry.string):
            if translated:
                assert set(PLACEHOLDER.findall(translated)) == wanted, (lang, entry.id, translated)


@pytest.mark.parametrize("lang", (*COMPLETE, "ar"))
def test_compiled_catalogue_matches_its_po_file(lang):
    po = catalogue(lang)
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").open("rb") as fh:
        mo = read_mo(fh)
    for entry in po:
        if entry.id and entry.string and not entry.fuzzy and all(forms(entry.string)):
            compiled = mo.get(entry.id)
            assert compiled is not None and forms(compiled.string) == forms(entry.string), \
                f"{lang}: {entry.id!r} differs; run scripts/update-translations.sh"


def test_arabic_covers_the_patron_idle_and_result_screens():
    po = catalogue("ar")
    for key in ("Scan your library card", "Your order is ready", "Go to slot", "Pickup code",
                "Not ready yet", "Nothing to pick up right now", "Card not recognised",
                "More time", "Done", "%(num)d item"):
        assert all(forms(po.get(key).string)), key
    assert len(forms(po.get("%(num)d item").string)) == 6  # Arabic has six plural forms


def page_data(response) -> dict:
    html = response.get_data(as_text=True)
    blob = re.search(r'<script type="application/json" id="kiosk-data">(.*?)</script>', html, re.S)
    return json.loads(blob.group(1))


def test_norwegian_bokmal_is_the_default(client):
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="nb" dir="ltr">' in html
    assert "Skann lånekortet ditt" in html


def test_lang_switch_sticks_in_the_session(client):
    assert "Scan your library card" in client.get("/?lang=en").get_data(as_text=True)
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="en"' in html and "Scan your library card" in html
    html = client.get("/?lang=xx").get_data(as_text=True)  # unknown: ignored, English stays
    assert '<html lang="en"' in html


def test_arabic_is_right_to_left(client):
    html = client.get("/?lang=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html
    assert "امسح بطاقة المكتبة" in html


@pytest.mark.parametrize("config_overrides", [{"station": {"language": "nn"}}])
def test_station_language_sets_the_default(client, config_overrides):
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="nn" dir="ltr">' in html
    assert "Hald strekkoden på lånekortet under skannaren." in html


@pytest.mark.parametrize("lang,title,items", [
    ("nb", "Bestillingen din er klar", "3 eksemplarer"),
    ("nn", "Bestillinga di er klar", "3 eksemplar"),
    ("en", "Your order is ready", "3 items"),
    ("ar", "طلبك جاهز", "3 مواد"),
])
def test_strings_for_the_script_come_translated(client, lang, title, items):
    data = page_data(client.get(f"/?lang={lang}"))
    assert data["lang"] == lang
    assert data["t"]["ready_title"] == title
    assert data["plurals"]["items"][3] == items


def test_page_carries_the_shelf_wall(client):
    data = page_data(client.get("/"))
    assert data["shelves"] == [
        {"name": "A", "slots": [f"A-{n:02d}" for n in range(1, 7)]},
        {"name": "B", "slots": [f"B-{n:02d}" for n in range(1, 5)]},
    ]


@pytest.mark.parametrize("lang,title", [("nb", "Fant ikke siden"), ("nn", "Fann ikkje sida"),
                                        ("en", "Page not found")])
def test_error_page_is_translated(client, lang, title):
    response = client.get(f"/no-such-page?lang={lang}")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert f"<h1>{title}</h1>" in html and f'<html lang="{lang}"' in html


def test_page_comes_up_with_the_configured_wall_when_the_database_fails(client, session):
    session.execute(text("ALTER TABLE shelves RENAME TO shelves_away"))
    session.commit()
    response = client.get("/")
    assert response.status_code == 200
    assert [s["slots"][-1] for s in page_data(response)["shelves"]] == ["A-06", "B-04"]
