"""Staff pages in the staff's words: history as codes told in the reader's language, plurals
through ngettext, statistics in Norwegian (weeks, decimal comma, headers as the legend), the
library-system page without a link to nowhere."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from factories import ACTOR, make_order
from flask_babel import refresh
from staff_helpers import PASSWORD, make_user

from kiosk.domain import audit, shelving
from kiosk.domain import orders as order_ops
from kiosk.models import AuditEvent, OrderStatus

TRANSLATIONS = Path(__file__).parent.parent / "kiosk" / "translations"


@pytest.fixture
def staff(client, app):
    """A test client with an admin logged in, pages in Bokmål."""
    app.config["KIOSK_LOGIN_DELAY_S"] = 0
    make_user(app, "kari", "admin")
    response = client.post("/staff/login?lang=nb", data={"username": "kari",
                                                         "password": PASSWORD})
    assert response.status_code == 302
    return client


def cells(page: str, css: str) -> list[str]:
    """Return the text of every <td> with this class (tags inside removed)."""
    return [re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(rf'<td class="{css}">(.*?)</td>', page, re.S)]


def test_history_is_stored_as_codes_and_told_in_the_readers_language(staff, session, station):
    order = make_order(session, items=2, slot="B-03", station=station)
    shelving.shelve(session, order, shelving.get_slot(session, "A-04", "main"), ACTOR,
                    station.calendar, 7)
    order_ops.collect(session, order, ACTOR, audit.detail("staff_scan"))
    session.commit()
    stored = [e.detail for e in order.audit]
    assert audit.parse(stored[0]) == {"code": "items", "num": 2}
    assert audit.parse(stored[1]) == {"code": "on_slot", "slot": "B-03"}
    page = staff.get(f"/staff/orders/{order.id}").get_data(as_text=True)
    for words in ("Bestilling opprettet", "2 eksemplarer", "Satt på en hylleplass", "På B-03",
                  "Flyttet fra B-03 til A-04", "Hentet", "Skannet av ansatt",
                  "mottatt → klar", "klar → hentet"):
        assert words in page, words
    assert "item(s)" not in page and "on B-03" not in page and "staff scan" not in page
    refresh()  # the test's open app context would keep the language of its first request
    english = staff.get(f"/staff/orders/{order.id}?lang=en").get_data(as_text=True)
    assert "Moved from B-03 to A-04" in english and "2 items" in english


def test_old_plain_text_details_stay_readable(staff, session):
    order = make_order(session, items=1)
    for text in ("3 item(s)", "on B-03", "override: two lost", "a note nobody coded"):
        session.add(AuditEvent(order_id=order.id, actor="ola", station="Old station",
                               action="packed", from_status="packing", to_status="packing",
                               detail=text))
    session.commit()
    page = staff.get(f"/staff/orders/{order.id}").get_data(as_text=True)
    for words in ("3 eksemplarer", "På B-03", "Pakket uten alle eksemplarer: two lost",
                  "a note nobody coded"):
        assert words in page, words


def test_each_status_change_shows_once(staff, session):
    order = make_order(session, items=2)
    for item in order.items:
        order_ops.pack_item(session, order, item.barcode, ACTOR)
    order_ops.finish_packing(session, order, ACTOR)
    session.commit()
    page = staff.get(f"/staff/orders/{order.id}").get_data(as_text=True)
    changes = [c for c in cells(page, "status-change") if c]
    assert changes == ["mottatt → pakkes"]  # created and packed change nothing
    assert "pakkes → pakkes" not in page and "mottatt → mottatt" not in page
    # after "Packed" the badge says what the history's last line says
    assert re.search(r'class="badge status-packing" data-status="packed">pakket<', page)
    assert "Posen er pakket" in page


def test_no_catalogue_text_writes_a_plural_with_brackets():
    for lang in ("nb", "nn", "en"):
        with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        for message in catalog:
            ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
            strings = message.string if isinstance(message.string, tuple | list) \
                else (message.string,)
            for text in (*ids, *strings):
                assert not re.search(r"\w\((s|es|er|ar|e|r)\)", text or ""), (lang, text)


def test_import_preview_counts_in_words(staff):
    csv = ("card,item_barcode,order_ref\nN000000001,0301,r1\nN000000001,0302,r1\n"
           "N000000002,0303,r2\n")
    page = staff.post("/staff/import", data={"file": (io.BytesIO(csv.encode()), "o.csv")},
                      content_type="multipart/form-data").get_data(as_text=True)
    assert "2 bestillinger med 3 eksemplarer, ingen problemer." in page
    assert "Importer 2 bestillinger" in page


@pytest.fixture
def shelved_and_collected(session, station):
    """Two bags shelved on Monday 3 November 2025 (week 45); one collected after 4.5 h."""
    day = dt.datetime(2025, 11, 3, 8, tzinfo=dt.UTC)
    for slot, collect in (("A-01", True), ("A-02", False)):
        order = make_order(session, slot=slot, station=station)
        order.shelved_at = day
        if collect:
            order_ops.collect(session, order, ACTOR)
            order.closed_at = day + dt.timedelta(hours=4, minutes=30)
    session.commit()


def test_statistics_speak_norwegian(staff, shelved_and_collected):
    page = staff.get("/staff/stats?start=2025-11-01&end=2025-11-14").get_data(as_text=True)
    assert '<strong id="median">4,5 t</strong>' in page  # a decimal comma
    assert "uke 45" in page and "Uke 45, 2025" in page and "W45<" not in page
    legend = re.findall(r'<span class="key \w+">([^<]+)</span>', page)[:3]
    headers = re.search(r'<table class="data weeks">\s*<thead><tr>(.*?)</tr>', page, re.S)
    assert re.findall(r"<th>([^<]+)</th>", headers.group(1))[1:] == legend
    bad = staff.get("/staff/stats?start=2025-11-14&end=2025-11-01")
    assert bad.status_code == 400
    assert "Perioden slutter før den begynner" in bad.get_data(as_text=True)
    assert "ends before" not in bad.get_data(as_text=True)


def test_library_system_page_without_a_system(staff):
    page = staff.get("/staff/ils/").get_data(as_text=True)
    assert 'data-state="absent">ikke satt opp<' in page and ">absent<" not in page
    assert "replay-now" not in page and "Send køen" not in page


def test_favicon_is_served_and_linked(app, client):
    with client.get("/favicon.ico") as response:  # a file response: closed when read
        assert response.status_code == 200 and response.mimetype.startswith("image/")
        assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    for url in ("/", "/staff/login"):
        html = client.get(url).get_data(as_text=True)
        assert 'rel="icon"' in html and 'href="data:,"' not in html, url


def test_order_statuses_keep_their_codes_in_the_api(session):
    """The API and the database keep the codes; only the staff pages show words."""
    order = make_order(session, items=1)
    assert order.status == OrderStatus.RECEIVED
    with pytest.raises(order_ops.OrderError) as caught:
        order_ops.finish_packing(session, order, ACTOR)
    assert str(caught.value) == "1 item not packed"


# One word per thing: the station had "Kanseller bestillingen" beside the status "avbestilt",
# and "hentenummer" beside "hentekode" for the code on the bag label.
FORBIDDEN = {"nb": ("kansell", "hentenummer"), "nn": ("kansell", "hentenummer")}


@pytest.mark.parametrize("lang", sorted(FORBIDDEN))
def test_one_word_per_thing_in_the_catalogue(lang):
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    found = [(message.id, word) for message in catalog if message.id
             for text in (message.string if isinstance(message.string, tuple)
                          else (message.string,))
             for word in FORBIDDEN[lang] if word in (text or "").lower()]
    assert found == []


def test_one_person_s_role_is_named_in_the_singular(staff, app):
    make_user(app, "ola", "staff")
    page = staff.get("/staff/users?lang=nb").get_data(as_text=True)
    row = next(r for r in re.findall(r"<tr>.*?</tr>", page, re.S) if ">ola<" in r)
    assert "<td>Ansatt</td>" in row


@pytest.mark.parametrize("config_overrides", [  # open every day: today is an opening day
    {"pickup": {"closed_weekdays": [], "holidays_country": ""}}])
@pytest.mark.parametrize("lang,one,many", [("nb", "1 pose", "2 poser"),
                                           ("nn", "1 pose", "2 posar"),
                                           ("en", "1 bag", "2 bags")])
def test_clearance_counts_bags_in_words(staff, session, station, lang, one, many):
    from kiosk import clock

    late = make_order(session, slot="A-01", station=station)
    late.deadline = clock.today() - dt.timedelta(days=30)  # over the deadline whatever the day
    for slot in ("A-02", "A-03"):
        due = make_order(session, slot=slot, station=station)
        due.deadline = clock.today()
    session.commit()
    refresh()
    page = staff.get(f"/staff/clearance?lang={lang}").get_data(as_text=True)
    overdue, today = page.split('class="clearance-due-today"')
    assert f"<small>{one}</small>" in overdue
    assert f"<small>{many} · " in today


CONFIG_KEY = re.compile(r"\[\[?[a-z_]+\]\]?(?: [a-z_]+)?|\boffers\[\d+\]|\bkiosk [a-z-]+ ")


@pytest.mark.parametrize("lang", ["nb", "nn"])
def test_no_configuration_keys_or_command_lines_on_staff_pages(app, client, lang):
    """Staff read their own words; keys and commands are for IT (logs, CLI, docs)."""
    from test_i18n_staff import PAGES, log_in, visible_text

    log_in(client, app, lang)
    found = {}
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        hits = CONFIG_KEY.findall(visible_text(response.get_data(as_text=True)))
        if hits:
            found[path] = hits
    assert found == {}


@pytest.mark.parametrize("config_overrides", [
    {"offers": [{"kind": "podcast", "feed": "http://127.0.0.1:9/podcast.xml"}]}])
def test_the_offers_page_names_a_feed_in_words_not_by_its_configuration_key(app, client):
    from test_i18n_staff import log_in, visible_text

    log_in(client, app, "nb")
    text = visible_text(client.get("/staff/offers").get_data(as_text=True))
    assert re.search(r"Feed 1:\s+http://127\.0\.0\.1:9/podcast\.xml", text)
    assert CONFIG_KEY.findall(text) == []
