"""Codes the station stores, in the staff's words: history events, sources, roles, states.

Each name is a template global of the staff pages (`action_name(code)` and so on); an
unknown code is shown as it is, marked as a code (translate="no") by the templates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask_babel import gettext, ngettext

from kiosk.domain import audit
from kiosk.domain.messages import N_

# What happened, for each audit action (a move to a status is recorded as that status).
ACTIONS = {
    "created": N_("Order created"), "received": N_("Back to received"),
    "packing": N_("Packing started"), "packed": N_("Bag packed"),
    "shelved": N_("Put on a slot"), "ready": N_("Put on a slot"),
    "unshelved": N_("Taken off the shelf"), "collected": N_("Collected"),
    "cancelled": N_("Cancelled"), "expired": N_("Not collected in time"),
    "item_added": N_("Item added to the bag"), "card_given": N_("Patron card given"),
    "partly_lent": N_("Partly lent"), "corrected": N_("Corrected"),
}
SOURCES = {"import": N_("Import file"), "staff": N_("Staff"), "api": N_("Order system (API)"),
           "ils": N_("Library system"), "demo": N_("Demo")}
ROLES = {"admin": N_("Administrator"), "staff": N_("Staff member")}
DEVICE_STATES = {"absent": N_("not configured"), "connected": N_("connected"),
                 "disconnected": N_("not connected"), "error": N_("error"), "ok": N_("ready")}


def namer(names: dict[str, str]) -> Callable[[Any], str]:
    """Return a function naming a code in the page's language (an unknown one as it is)."""

    def name(code: Any) -> str:
        text = str(code or "")
        return gettext(names[text]) if text in names else text

    return name


action_name = namer(ACTIONS)
source_name = namer(SOURCES)
role_name = namer(ROLES)
device_state_name = namer(DEVICE_STATES)


def audit_detail(stored: str | None) -> str:
    """Return an audit event's detail in the page's language (old English rows as stored)."""
    return audit.render(stored, gettext, ngettext)


def init_app(app: Flask) -> None:
    """Make the names template globals."""
    names = {"action_name": action_name, "source_name": source_name, "role_name": role_name,
             "device_state_name": device_state_name, "audit_detail": audit_detail}
    for key, function in names.items():
        app.add_template_global(function, key)
