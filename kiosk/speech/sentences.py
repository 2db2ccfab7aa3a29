"""What the station says: the spoken sentences of every patron-facing outcome.

Every sentence comes from the gettext catalogues, like every text on the screen, so
translators see them. Each is SSML for espeak-ng: slot labels and pickup codes are spelled
(`say-as characters`), the last day is a date in words of the screen's language.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from babel.dates import format_date
from babel.support import NullTranslations, Translations

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"

# Every outcome a patron can meet on the screen (scan answers and the page's own messages),
# and what the screen shows after a button. tests/test_speech.py speaks each in nb, nn, en.
SCAN_OUTCOMES = ("ready", "waiting", "nothing", "not_recognised", "pin_required", "staff")
MESSAGES = ("not_recognised", "busy", "error", "printed", "print_unavailable", "collected",
            "collect_failed", "pin_wrong", "pin_locked", "pin_unavailable", "staff_locked",
            "idle")
FAILED_READS = ("not_recognised", "busy", "error")  # the "fail" tone before them
LETTER_PAUSE = 0.2  # between the letters of a spelled pickup code
# What one scan may say, however big the order: a few titles ("and 195 more"), a few slots.
MAX_TITLES = 3
MAX_TITLE_CHARS = 80
MAX_SLOTS = 4


@dataclass(frozen=True)
class Sentence:
    """One sentence: its words as translated, its SSML, and whether it holds a scan's data."""

    text: str
    ssml: str
    fixed: bool  # the same for every patron: audio may be kept and shared
    pause: float = 0.35  # seconds of quiet after it


@functools.cache
def translations(lang: str) -> NullTranslations:
    return Translations.load(str(TRANSLATIONS), [lang], domain="messages")


def spell(text: str) -> str:
    """Return SSML that reads text letter by letter (digits as digits), a short pause apart."""
    chars = [c for c in str(text) if c.isalnum()]
    return ", ".join(f'<say-as interpret-as="characters">{escape(c)}</say-as>' for c in chars)


def _fill(template: str, **values: str) -> tuple[str, str]:
    """Return (text, ssml) of a translated template with {name} placeholders filled."""
    text = template
    ssml = escape(template)
    for key, (plain, spoken) in values.items():
        text = text.replace("{" + key + "}", plain)
        ssml = ssml.replace("{" + key + "}", spoken)
    return text, ssml


def _date_words(iso: str | None, lang: str) -> str | None:
    try:
        day = dt.date.fromisoformat(str(iso)[:10])
    except ValueError:
        return None
    try:
        return format_date(day, "EEEE d MMMM", locale=lang)
    except (ValueError, LookupError):
        return day.isoformat()


class Speaker:
    """Builds the sentences of one language; personal data only when private is true."""

    def __init__(self, lang: str, private: bool = False):
        self.lang = lang
        self.private = private
        tr = translations(lang)
        self.gettext, self.ngettext = tr.gettext, tr.ngettext

    def _say(self, text: str, shared: bool = False, pause: float = 0.35,
             **values: tuple[str, str]) -> Sentence:
        """Return a sentence; shared: its values are no one's own (a slot, a day, a count)."""
        plain, ssml = _fill(text, **values)
        return Sentence(plain, ssml, shared or not values, pause)

    def _fixed(self, *texts: str) -> list[Sentence]:
        return [self._say(_end(t)) for t in texts]

    def scan(self, data: dict[str, Any]) -> list[Sentence]:
        """Return what is said after a scan with this result (the scan answer's dict)."""
        _, ngettext = self.gettext, self.ngettext
        outcome = data.get("outcome")
        out: list[Sentence] = []
        if outcome == "ready" and data.get("pickups"):
            if self.private and data.get("name"):
                out.append(self._say(_end(_("Hello, {name}!")),
                                     name=(data["name"], escape(str(data["name"])))))
            out += self._fixed(_("Your order is ready"))
            slots = _by_slot(data["pickups"])
            for slot, pickups in slots[:MAX_SLOTS]:
                out += self._bag(slot, pickups)
            unsaid = sum(len(p) for _s, p in slots[MAX_SLOTS:])
            if unsaid:
                out.append(self._say(ngettext(
                    "%(num)d more bag is ready. The screen shows where.",
                    "%(num)d more bags are ready. The screen shows where.",
                    unsaid) % {"num": unsaid}))
            waiting = int(data.get("waiting") or 0)
            if waiting:
                out.append(self._say(ngettext(
                    "%(num)d more order is still being packed. Come back for it later.",
                    "%(num)d more orders are still being packed. Come back for them later.",
                    waiting) % {"num": waiting}))
        elif outcome == "waiting":
            out += self._fixed(_("Not ready yet"),
                               _("Your order is still being packed. Please come back later."))
        elif outcome == "not_recognised":
            return self.message("not_recognised")
        elif outcome == "pin_required":
            out += self._fixed(_("Enter your PIN"),
                               _("Please enter your PIN to see your orders."),
                               _("Type it on the keypad and press Enter. "
                                 "The digits are not read aloud."))
        elif outcome == "staff":
            out += self._fixed(_("Staff login"), _("Enter your PIN"),
                               _("Type it on the keypad and press Enter. "
                                 "The digits are not read aloud."))
        elif data.get("elsewhere"):  # [kiosk] tell_other_branch, as the screen says it
            where = ", ".join(str(b) for b in data["elsewhere"])
            out.append(self._say(_end(_("Your order is waiting at {branch}")),
                                 branch=(where, escape(where))))
            out += self._fixed(_("Pick it up there, or ask at the desk."))
        else:
            out += self._fixed(_("Nothing to pick up right now"),
                               _("If you expected something, please ask at the desk."))
        out += self.notices(data.get("notices") or [], skip=outcome)
        out += self._fixed(_("Press the star key to hear this again."))
        return out

    def _bag(self, slot: str, pickups: list[dict[str, Any]]) -> list[Sentence]:
        _, ngettext = self.gettext, self.ngettext
        items = sum(int(p.get("items") or 0) for p in pickups)
        out = self._slot(_("Go to slot {slot}."), slot)
        for p in pickups:
            out += self._code(_("Pickup code {code}."), str(p.get("pickup_code", "")))
            if self.private and p.get("titles"):
                out += self._titles([str(t) for t in p["titles"]])
        if items:
            out.append(self._say(_end(ngettext("%(num)d item", "%(num)d items", items)
                                      % {"num": items})))
        deadlines = sorted(str(p["deadline"]) for p in pickups if p.get("deadline"))
        when = _date_words(deadlines[0], self.lang) if deadlines else None
        if when:
            out.append(self._say(_end(_("Pick up by {date}")), True, date=(when, escape(when))))
        return out

    def _titles(self, titles: list[str]) -> list[Sentence]:
        """Return the first MAX_TITLES titles (each cut short) and how many more there are."""
        _, ngettext = self.gettext, self.ngettext
        said = "; ".join(_cut(t) for t in titles[:MAX_TITLES])
        out = [self._say(_("Titles: {titles}."), titles=(said, escape(said)))]
        more = len(titles) - MAX_TITLES
        if more > 0:
            out.append(self._say(ngettext("And %(num)d more.", "And %(num)d more.", more)
                                 % {"num": more}))
        return out

    def _code(self, template: str, code: str) -> list[Sentence]:
        """Return the code's sentence as its words and one clip per letter, kept and shared:
        a code is spelled from the same few dozen letters and digits for every patron."""
        return self._pieces(template, "{code}", [Sentence(c, spell(c), True, LETTER_PAUSE)
                                                 for c in code if c.isalnum()])

    def _slot(self, template: str, slot: str) -> list[Sentence]:
        """Return the slot's sentence as clips: the words, the shelf spelled, the number."""
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)-0*(\d+)", slot)
        if not m:
            return self._pieces(template, "{slot}", [Sentence(slot, spell(slot), True)])
        return self._pieces(template, "{slot}", [
            *(Sentence(c, spell(c), True, LETTER_PAUSE) for c in m.group(1)),
            Sentence(str(int(m.group(2))), str(int(m.group(2))), True)])

    def _pieces(self, template: str, placeholder: str, middle: list[Sentence]) -> list[Sentence]:
        before, _sep, after = template.partition(placeholder)
        out = [self._say(before.strip(), pause=LETTER_PAUSE)] if before.strip() else []
        out += middle
        if after.strip(" ."):
            out.append(self._say(after.strip()))
        if out:
            out[-1] = Sentence(out[-1].text, out[-1].ssml, out[-1].fixed)
        return out

    def notices(self, codes: list[str], skip: str | None = None) -> list[Sentence]:
        _ = self.gettext
        words = {"see_staff": _("Please talk to the staff at the desk about your card."),
                 "pin_locked": _("Too many wrong PINs. Please ask at the desk.")}
        return [self._say(words[c]) for c in codes if c in words and c != skip]

    def message(self, key: str) -> list[Sentence]:
        """Return what is said for one of the screen's own messages (MESSAGES)."""
        _ = self.gettext
        texts = {
            "not_recognised": (_("Card not recognised"),
                               _("Please try again: hold the barcode still under the scanner.")),
            "busy": (_("Please wait a moment"),
                     _("There were too many scans just now. Try again in a minute.")),
            "error": (_("Something went wrong"), _("Please try again, or ask at the desk.")),
            "printed": (_("Your slip is being printed."),),
            "print_unavailable": (_("Printing is not available. Please note your slot."),),
            "collected": (_("Thank you! Registered as collected."),),
            "collect_failed": (_("That could not be registered. Please ask at the desk."),),
            "pin_wrong": (_("Wrong PIN. Please try again."),),
            "pin_locked": (_("Too many wrong PINs. Please ask at the desk."),),
            "pin_unavailable": (_("The PIN cannot be checked just now. "
                                  "Please ask at the desk."),),
            "staff_locked": (_("Too many failed attempts. The account is locked for a while."),),
            # the idle screen's instructions, for the star key before any scan
            "idle": (_("Scan your library card"),
                     _("Hold the barcode on your library card under the scanner."),
                     _("The screen shows which shelf slot holds your bag."),
                     _("Take your bag from that slot."),
                     _("No card with you, or questions? Ask at the desk.")),
        }
        return self._fixed(*texts[key])

    def slip(self, data: dict[str, Any], station: str) -> list[Sentence]:
        """Return the printed slip's content, read aloud (what the paper says)."""
        _, ngettext = self.gettext, self.ngettext
        out = self._fixed(_("Your slip is being printed."), _("The slip says:"))
        out.append(self._say("{station}.", True, station=(station, escape(station))))
        pickups = data.get("pickups") or []
        for p in pickups[:MAX_SLOTS]:
            slot = str(p.get("slot", ""))
            out += self._code(_("Pickup code {code}."), str(p.get("pickup_code", "")))
            out += self._slot(_("Go to slot {slot}."), slot)
            items = int(p.get("items") or 0)
            out.append(self._say(_end(ngettext("%(num)d item", "%(num)d items", items)
                                      % {"num": items})))
            when = _date_words(p.get("deadline"), self.lang) if p.get("deadline") else None
            if when:
                out.append(self._say(_end(_("Pick up by {date}")), True,
                                     date=(when, escape(when))))
        if len(pickups) > MAX_SLOTS:
            unsaid = len(pickups) - MAX_SLOTS
            out.append(self._say(ngettext(
                "%(num)d more bag is ready. The screen shows where.",
                "%(num)d more bags are ready. The screen shows where.",
                unsaid) % {"num": unsaid}))
        out += self._fixed(_("Bring your library card when you collect."))
        offer = data.get("offer")
        if isinstance(offer, dict) and offer.get("title"):
            title = str(offer["title"])
            out += self._fixed(_("Did you know?"))
            out.append(self._say("{title}.", True, title=(_cut(title), escape(_cut(title)))))
        return out


def _end(text: str) -> str:
    """Return text ending in a full stop (screen headings have none), so speech pauses."""
    text = text.rstrip()
    return text if text[-1:] in ".!?…:؟" else text + "."


def _cut(title: str) -> str:
    """Return a title of at most MAX_TITLE_CHARS, cut at a word."""
    title = " ".join(title.split())
    if len(title) <= MAX_TITLE_CHARS:
        return title
    return title[:MAX_TITLE_CHARS].rsplit(" ", 1)[0] + " …"


def _by_slot(pickups: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Group the bags by slot, in the order shown on the screen."""
    slots: dict[str, list[dict[str, Any]]] = {}
    for p in pickups:
        slots.setdefault(str(p.get("slot", "")), []).append(p)
    return list(slots.items())


def document(sentences: list[Sentence], voice: str) -> str:
    """Return one SSML document that speaks the sentences in order with that voice."""
    body = " ".join(s.ssml for s in sentences)
    return f'<speak xml:lang="{escape(voice)}">{body}</speak>'
