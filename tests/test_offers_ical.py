"""iCalendar feeds as Google Calendar and Outlook export them: what the idle screen shows
next, in the station's local time (Europe/Oslo), across the daylight-saving changes.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from kiosk import create_app
from kiosk.extensions import db
from kiosk.offers import expansion, feeds, ical
from kiosk.offers.sources import FeedError, Offer
from kiosk.offers.views import public

FIXTURES = Path(__file__).parent / "fixtures" / "offers"
GOOGLE = (FIXTURES / "google-calendar.ics").read_bytes()
OUTLOOK = (FIXTURES / "outlook.ics").read_bytes()
BASE = Offer(kind="event", title="", text="", url="https://example.org/arrangementer")

# Run as a station in Oslo: the process's local time zone is Europe/Oslo.
pytestmark = pytest.mark.usefixtures("in_oslo")



def screen(data: bytes, now: dt.datetime, language: str = "nb") -> list[tuple[str, str, str]]:
    """Return (title, when, when_text) of what the screen gets from a calendar at now."""
    offers = feeds.parse_feed(data, "auto", BASE, now=now, limit=20)
    shown = [public(o, language) for o in offers]
    return [(s["title"], s["when"], s["when_text"]) for s in shown]


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_google_calendar_next_meetings():
    assert screen(GOOGLE, utc(2026, 11, 28, 12)) == [
        # FREQ=MONTHLY;BYDAY=1TU: the first Tuesday of December
        ("Slektsforskning på nett", "2026-12-01T18:00:00+01:00",
         "tirsdag 1. desember 2026, 18:00"),
        # a one-off in October plus an RDATE in December
        ("Forfatterbesøk, strømmet", "2026-12-10T19:00:00+01:00",
         "torsdag 10. desember 2026, 19:00"),
        # weekly on Thursdays: 3 December cancelled (EXDATE), 10 December moved to Friday
        # 17:00 by a RECURRENCE-ID override with its own title
        ("Digital språkkafé (flyttet til fredag)", "2026-12-11T17:00:00+01:00",
         "fredag 11. desember 2026, 17:00"),
        # all-day: a date, no time
        ("Julebokbad hele dagen", "2026-12-12", "lørdag 12. desember 2026"),
        # FREQ=MONTHLY;BYDAY=TH;BYSETPOS=-1: the last Thursday
        ("Lesesirkel (siste torsdag)", "2026-12-31T19:00:00+01:00",
         "torsdag 31. desember 2026, 19:00"),
        # FREQ=YEARLY, next June: summer time
        ("Bibliotekets bursdag", "2027-06-12T12:00:00+02:00", "lørdag 12. juni 2027, 12:00"),
    ]


def test_google_calendar_offer_fields():
    offers = feeds.parse_feed(GOOGLE, "ical", BASE, now=utc(2026, 11, 28, 12))
    assert len(offers) == feeds.MAX_PER_FEED  # the screen shows the soonest five
    moved = next(o for o in offers if "fredag" in o.title)
    assert moved.url == "https://example.org/sprakkafe"  # LOCATION holds the stream's link
    assert moved.text == "Denne uka på fredag kl. 17."  # markup stripped
    assert moved.ends == utc(2026, 12, 11, 17, 30)
    julebokbad = next(o for o in offers if o.all_day)
    assert julebokbad.visible(utc(2026, 12, 12, 22, 59))  # through the Oslo day …
    assert not julebokbad.visible(utc(2026, 12, 12, 23, 0))  # … and no longer


def test_after_the_moved_meeting_the_series_goes_on():
    shown = screen(GOOGLE, utc(2026, 12, 11, 18))  # 19:00 in Oslo: the Friday meeting is over
    assert ("Digital språkkafé", "2026-12-17T18:00:00+01:00",
            "torsdag 17. desember 2026, 18:00") in shown
    assert not any("flyttet" in title for title, _, _ in shown)
    assert "Forfatterbesøk, strømmet" not in [t for t, _, _ in shown]  # its RDATE has passed


@pytest.mark.parametrize("calendar, now, title, when, text", [
    # Google (TZID=Europe/Oslo), weekly on Thursdays at 18:00 from September
    (GOOGLE, utc(2027, 3, 26, 12), "Digital språkkafé", "2027-04-01T18:00:00+02:00",
     "torsdag 1. april 2027, 18:00"),
    (GOOGLE, utc(2026, 10, 23, 12), "Digital språkkafé", "2026-10-29T18:00:00+01:00",
     "torsdag 29. oktober 2026, 18:00"),
    # Outlook (its own VTIMEZONE "W. Europe Standard Time"), weekly on Tuesdays at 18:00
    (OUTLOOK, utc(2027, 3, 26, 12), "Språkkafé på nett", "2027-03-30T18:00:00+02:00",
     "tirsdag 30. mars 2027, 18:00"),
    (OUTLOOK, utc(2026, 10, 23, 12), "Språkkafé på nett", "2026-10-27T18:00:00+01:00",
     "tirsdag 27. oktober 2026, 18:00"),
    # on the very day the clocks go back
    (OUTLOOK, utc(2026, 10, 23, 12), "Søndagsquiz (dagen klokka stilles tilbake)",
     "2026-10-25T10:00:00+01:00", "søndag 25. oktober 2026, 10:00"),
], ids=["google-march", "google-october", "outlook-march", "outlook-october", "outlook-dst-day"])
def test_local_time_stays_across_daylight_saving_changes(calendar, now, title, when, text):
    assert (title, when, text) in screen(calendar, now)


def test_a_vtimezone_definition_is_read_not_just_its_name():
    own = OUTLOOK.replace(b"W. Europe Standard Time", b"Bibliotekets egen tid")
    assert screen(own, utc(2027, 3, 26, 12)) == screen(OUTLOOK, utc(2027, 3, 26, 12))
    # Without the block (some exports leave it out) the Windows name still gives these rules.
    bare = re.sub(rb"BEGIN:VTIMEZONE.*?END:VTIMEZONE\r\n", b"", OUTLOOK, flags=re.S)
    assert screen(bare, utc(2027, 3, 26, 12)) == screen(OUTLOOK, utc(2027, 3, 26, 12))
    # A zone of its own, one hour east of Oslo's: the same 18:00 is an hour earlier in Oslo.
    # (icalendar keeps a zone built from a VTIMEZONE by its TZID for the process: a new name)
    east = OUTLOOK.replace(b"W. Europe Standard Time", b"Bibliotekets ostlige tid").replace(
        b"TZOFFSETTO:+0200", b"TZOFFSETTO:+0300").replace(b"TZOFFSETFROM:+0200",
                                                          b"TZOFFSETFROM:+0300")
    assert ("Språkkafé på nett", "2027-03-30T17:00:00+02:00",
            "tirsdag 30. mars 2027, 17:00") in screen(east, utc(2027, 3, 26, 12))


@pytest.mark.parametrize("language, text", [
    ("nn", "tysdag 1. desember 2026 18:00"),
    ("en", "Tuesday, 1 December 2026, 18:00"),
    ("ar", "الثلاثاء، 1 ديسمبر 2026، 6:00 م"),
])
def test_the_time_is_written_in_the_screens_language(language, text):
    assert screen(GOOGLE, utc(2026, 11, 28, 12), language)[0][2] == text


def calendar(*events: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\n{e.strip()}\nEND:VEVENT\n" for e in events)
    return ("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n" + body
            + "END:VCALENDAR\n").replace("\n", "\r\n").encode()


def test_cancelled_meetings_floating_times_and_finished_series():
    data = calendar(
        """UID:quiz\nSUMMARY:Quiz\nDTSTART;TZID=Europe/Oslo:20261103T180000
DURATION:PT1H\nRRULE:FREQ=WEEKLY;BYDAY=TU\nURL:https://example.org/quiz""",
        # Google's shape of one deleted meeting: an override with STATUS:CANCELLED
        """UID:quiz\nRECURRENCE-ID;TZID=Europe/Oslo:20261201T180000\nSUMMARY:Quiz
DTSTART;TZID=Europe/Oslo:20261201T180000\nDURATION:PT1H\nSTATUS:CANCELLED""",
        """UID:floating\nSUMMARY:Flytende tid\nDTSTART:20261202T120000
URL:https://example.org/flytende""",
        """UID:counted\nSUMMARY:Tre ganger\nDTSTART:20261001T170000Z\nRRULE:FREQ=WEEKLY;COUNT=3
URL:https://example.org/tre""",
        """UID:until\nSUMMARY:Til oktober\nDTSTART:20260901T170000Z
RRULE:FREQ=DAILY;UNTIL=20261031T235959Z\nURL:https://example.org/til""",
        """UID:whole-series-cancelled\nSUMMARY:Avlyst\nSTATUS:CANCELLED
DTSTART:20261205T170000Z\nURL:https://example.org/avlyst""",
    )
    assert screen(data, utc(2026, 11, 28, 12)) == [
        ("Flytende tid", "2026-12-02T12:00:00+01:00", "onsdag 2. desember 2026, 12:00"),
        ("Quiz", "2026-12-08T18:00:00+01:00", "tirsdag 8. desember 2026, 18:00"),
    ]


def test_rules_more_often_than_daily_and_far_future_events_are_left_out():
    data = calendar("""UID:busy\nSUMMARY:Hvert minutt\nDTSTART:19700101T000000Z
RRULE:FREQ=MINUTELY\nURL:https://example.org/busy""",
                    """UID:hourly\nSUMMARY:Hver time\nDTSTART:20260101T000000Z
RRULE:FREQ=HOURLY;INTERVAL=3\nURL:https://example.org/hourly""",
                    """UID:far\nSUMMARY:Om to år\nDTSTART:20281201T170000Z
URL:https://example.org/far""",
                    """UID:daily\nSUMMARY:Hver dag siden 1970\nDTSTART:19700101T120000Z
RRULE:FREQ=DAILY\nURL:https://example.org/daily""")
    assert screen(data, utc(2026, 11, 28, 12, 30)) == [
        ("Hver dag siden 1970", "2026-11-29T13:00:00+01:00", "søndag 29. november 2026, 13:00")]
    past = calendar("""UID:old\nSUMMARY:Gammel\nDTSTART:20200101T120000Z
URL:https://example.org/old""")
    assert screen(past, utc(2026, 11, 28, 12)) == []  # nothing to come is no error


EVERY = {part: ",".join(str(n) for n in range(top))
         for part, top in (("BYHOUR", 24), ("BYMINUTE", 60), ("BYSECOND", 60))}
BOMB = (f"RRULE:FREQ=DAILY;BYHOUR={EVERY['BYHOUR']};BYMINUTE={EVERY['BYMINUTE']};"
        f"BYSECOND={EVERY['BYSECOND']}")  # every second, written as a daily rule: 617 bytes
HOSTILE = {
    "every second as a daily rule": f"DTSTART:20261128T000000Z\n{BOMB}",
    "a second RRULE line every second": "DTSTART:20261127T120000Z\nRRULE:FREQ=WEEKLY\n"
                                        "RRULE:FREQ=SECONDLY",
    "a second RRULE line every minute": "DTSTART:20261127T120000Z\nRRULE:FREQ=WEEKLY\n"
                                        "RRULE:FREQ=MINUTELY",
    "500 listed dates": "DTSTART:20261128T121500Z\nRDATE:" + ",".join(
        f"20261128T{12 + i // 3600:02d}{i // 60 % 60:02d}{i % 60:02d}Z" for i in range(500)),
}


@pytest.mark.parametrize("rule", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_series_too_costly_to_expand_is_left_out_whatever_its_rule_says(rule, caplog):
    # A short look ahead keeps the old expansion of these small enough to finish in a test;
    # over the real window it took gigabytes.
    data = calendar(f"UID:bomb\nSUMMARY:Bombe\n{rule}\nURL:https://example.org/bomb",
                    """UID:three\nSUMMARY:Tre ganger om dagen\nDTSTART:20261101T080000Z
RRULE:FREQ=DAILY;BYHOUR=8,12,16\nURL:https://example.org/three""")
    found, _total = ical.upcoming(data, utc(2026, 11, 28, 12, 30), dt.timedelta(hours=6))
    assert [(o.summary, o.start.hour) for o in found] == [("Tre ganger om dagen", 16)]
    assert "1 of 2 series left out" in caplog.text


def test_a_huge_calendar_is_expanded_within_the_budget_in_file_order(caplog):
    many = [f"UID:s{i}\nSUMMARY:Serie {i}\nDTSTART:20261101T{8 + i % 10:02d}0000Z\n"
            f"RRULE:FREQ=DAILY\nURL:https://example.org/{i}" for i in range(400)]
    found, total = ical.upcoming(calendar(*many), utc(2026, 11, 28, 12, 30))
    kept = expansion.MAX_OCCURRENCES // expansion.PER_SERIES  # each looks 64 days ahead
    assert total == kept and {o.summary for o in found} == {f"Serie {i}" for i in range(kept)}
    assert f"{400 - kept} of 400 series left out" in caplog.text


def test_ended_and_counted_series_cost_only_what_they_walk(caplog):
    ended = [f"UID:e{i}\nSUMMARY:Ferdig {i}\nDTSTART:20000101T100000Z\n"
             f"RRULE:FREQ=DAILY;UNTIL=20001231T100000Z\nURL:https://example.org/e{i}"
             for i in range(150)]
    counted = [f"UID:c{i}\nSUMMARY:Talt {i}\nDTSTART:20000101T100000Z\n"
               f"RRULE:FREQ=DAILY;COUNT=10\nURL:https://example.org/c{i}" for i in range(150)]
    last = "UID:last\nSUMMARY:Sist i fila\nDTSTART:20261201T170000Z\nURL:https://example.org/l"
    found, total = ical.upcoming(calendar(*ended, *counted, last), utc(2026, 11, 28, 12))
    assert [o.summary for o in found] == ["Sist i fila"]
    assert "left out" not in caplog.text  # none of the 300 was charged 27 years of days


def test_a_broken_series_spoils_only_itself():
    data = calendar("""UID:bad\nSUMMARY:Ødelagt\nDTSTART:20261201T170000Z
DTEND:20261130T170000Z\nRRULE:FREQ=WEEKLY;BYDAY=XX\nURL:https://example.org/bad""",
                    """UID:good\nSUMMARY:Hel\nDTSTART:20261202T170000Z
URL:https://example.org/good""")
    assert "Hel" in [t for t, _, _ in screen(data, utc(2026, 11, 28, 12))]


@pytest.mark.parametrize("data, problem", [
    (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\n", "not an iCalendar feed"),
    (b"BEGIN:VCALENDAR\r\nthis is no content line\r\nEND:VCALENDAR\r\n", "not an iCalendar"),
    (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:Uten lenke\r\nDTSTART:20261201T170000Z\r\n"
     b"END:VEVENT\r\nEND:VCALENDAR\r\n", "none with a title and an http"),
])
def test_broken_calendars_raise_feed_error(data, problem):
    base = Offer(kind="event", title="", text="", url="")
    with pytest.raises(FeedError, match=problem):
        feeds.parse_feed(data, "ical", base, now=utc(2026, 11, 28, 12))


def test_the_idle_screen_shows_the_next_meeting_in_oslo_time(make_settings, tmp_path,
                                                           monkeypatch):
    """Through GET /kiosk/offers: a weekly meeting at 18:00 Oslo time, counted from today."""
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path))
    today = dt.date.today()
    first = today - dt.timedelta(days=21)
    path = tmp_path / "kafe.ics"
    path.write_bytes(calendar(f"""UID:kafe\nSUMMARY:Språkkafé\nDURATION:PT1H30M
DTSTART;TZID=Europe/Oslo:{first:%Y%m%d}T180000\nRRULE:FREQ=DAILY\nURL:https://example.org/k"""))
    app = create_app(make_settings({"offers": [{"kind": "language-cafe", "feed": str(path)}]}),
                     {"TESTING": True})
    try:
        app.extensions["offers"].refresh()
        (shown,) = app.test_client().get("/kiosk/offers?lang=nb").get_json()["offers"]
    finally:
        with app.app_context():
            db.engine.dispose()
    now = dt.datetime.now().astimezone()
    day = today if now.time() < dt.time(19, 30) else today + dt.timedelta(days=1)
    expected = dt.datetime.combine(day, dt.time(18)).astimezone()
    assert shown["when"] == expected.isoformat()
    assert shown["when_text"].endswith(f"{day.year}, 18:00")
    assert f" {day.day}. " in shown["when_text"] and shown["kind"] == "language-cafe"
