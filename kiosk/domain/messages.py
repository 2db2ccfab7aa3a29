"""Messages of the domain code: English for the API, CLI and logs; translatable for staff pages.

The domain code does not import Flask or Flask-Babel. It raises a StationError with a
template marked by N_ (extracted by pybabel with `-k N_`, see
scripts/update-translations.sh) and named params: str(exc) is the English text with the
params filled in, and the staff pages translate `exc.template` with `exc.params`
(kiosk.staff.common.describe).

Words: a message starts with a capital letter and names things (refs, barcodes, branches,
columns) without quotes. A colon inside a message goes on in lower case ("Item 1 is not on
hold: back to the shelves"). Where messages are put together, the whole starts with a
capital: a place in front of a message ("Line 3, column card: No value in card", see
`sentence_start`) or a lead in front of several ("Not shelved: Item 1 ... . Item 2 ... .",
see `sentences`) ends with a colon, and each message after it keeps its capital as the
sentence it is. tests/test_words_capitals.py holds the catalogue to this. A configuration
problem reads as one sentence with its key as the subject ("server.port: must be an
integer"), and the English of the command line, the API and the logs counts with `plural`.
"""

from __future__ import annotations

from collections.abc import Iterable
from gettext import NullTranslations
from typing import Any

_ENGLISH = NullTranslations()  # the command line, the API's details and the logs: English


def N_(text: str) -> str:
    """Mark text for translation without translating it; return it unchanged."""
    return text


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a text with a plural for translation (`-k Nn_:1,2`); return both forms."""
    return singular, plural


def fill(template: str | tuple[str, str], params: dict[str, Any]) -> str:
    """Return template with the named params put in (a template without params as it is).

    A template with a plural (Nn_) is chosen by the param "num" (English: one or more).
    """
    if isinstance(template, tuple):
        template = template[0] if params.get("num") == 1 else template[1]
    return template % params if params else template


def plural(num: int, singular: str, plural_form: str) -> str:
    """Return "%(num)d order" or "%(num)d orders" filled in, as ngettext picks in English.

    For the texts that are English only (command line, API details, logs): no "order(s)".
    """
    return _ENGLISH.ngettext(singular, plural_form, num) % {"num": num}


def sentence_start(text: str) -> str:
    """Return text with its first letter made a capital (a composed message's start)."""
    return text[:1].upper() + text[1:]


def sentences(texts: Iterable[str]) -> str:
    """Return whole messages as one text: each ends with a full stop, one space between."""
    return " ".join(t if t.endswith((".", "!", "?")) else f"{t}." for t in texts)


class StationError(Exception):
    """An error whose message is a template with `%(name)s` placeholders and named params."""

    def __init__(self, template: str | tuple[str, str], **params: Any):
        super().__init__(fill(template, params))
        self.template = template
        self.params = params
