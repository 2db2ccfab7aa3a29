"""Messages of the domain code: English for the API, CLI and logs; translatable for staff pages.

The domain code does not import Flask or Flask-Babel. It raises a StationError with a
template marked by N_ (extracted by pybabel with `-k N_`, see
scripts/update-translations.sh) and named params: str(exc) is the English text with the
params filled in, and the staff pages translate `exc.template` with `exc.params`
(kiosk.staff.common.describe).
"""

from __future__ import annotations

from typing import Any


def N_(text: str) -> str:
    """Mark text for translation without translating it; return it unchanged."""
    return text


def fill(template: str, params: dict[str, Any]) -> str:
    """Return template with the named params put in (a template without params as it is)."""
    return template % params if params else template


class StationError(Exception):
    """An error whose message is a template with `%(name)s` placeholders and named params."""

    def __init__(self, template: str, **params: Any):
        super().__init__(fill(template, params))
        self.template = template
        self.params = params
