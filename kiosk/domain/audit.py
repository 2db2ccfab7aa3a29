"""Audit-trail details as codes with params, told in the reader's language when shown.

An event's detail is stored as JSON `{"code": "on_slot", "slot": "B-03"}`: the staff
pages translate the code's template (kiosk.staff.history) and the English text serves
logs and the CLI. Rows written before this (plain English sentences) are shown as
they are. Free text that people typed (a reason) is a param, kept as typed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kiosk.domain.messages import N_, Nn_

# code → template, or (singular, plural) counted by the param "num".
TEMPLATES: dict[str, str | tuple[str, str]] = {
    "items": Nn_("%(num)d item", "%(num)d items"),
    "item_bag": N_("Item bag: %(barcode)s"),
    "item": N_("Item %(barcode)s"),
    "on_slot": N_("On %(slot)s"),
    "moved": N_("Moved from %(old)s to %(new)s"),
    "off_slot": N_("Off %(slot)s"),
    "without_items": N_("Packed without all items: %(reason)s"),
    "cleared": N_("Cleared from the shelf"),
    "not_waiting": N_("Cleared from the shelf: no longer waiting in the library system"),
    "by_staff": N_("Cancelled by staff"),
    "staff_scan": N_("Staff scan"),
    "card_at_desk": N_("Staff scan, patron card %(card)s given at the desk"),
    "card_given": N_("Patron card %(card)s given by staff to lend the items"),
    "card_by_api": N_("Patron card %(card)s given by the API caller"),
    "reason": N_("Reason: %(reason)s"),
    "ref_freed": N_("Reference %(ref)s freed for a new order"),
    "branch_changed": N_("Branch %(old)s → %(new)s"),
    "card_changed": N_("Patron card %(old)s → %(new)s"),
    "offline_collect": N_("Collected at the entrance at %(at)s while the database could not "
                          "be reached"),
    "offline_collect_late": N_("Collected at the entrance at %(at)s while the database could "
                               "not be reached, after the order had become %(status)s: "
                               "check it at the desk"),
    "lent": Nn_("%(num)d item lent", "%(num)d items lent"),
    "lent_queued": Nn_("%(num)d item lent (queued for the library system)",
                       "%(num)d items lent (queued for the library system)"),
    "refused": Nn_("The library system refused %(num)d item: %(items)s",
                   "The library system refused %(num)d items: %(items)s"),
}


# Details written before they were codes (plain English), read back as codes.
LEGACY = [
    (re.compile(r"(\d+) item\(s\)"), "items", ("num",)),
    (re.compile(r"on (\S+)"), "on_slot", ("slot",)),
    (re.compile(r"moved from (\S+) to (\S+)"), "moved", ("old", "new")),
    (re.compile(r"off (\S+)"), "off_slot", ("slot",)),
    (re.compile(r"override: (.*)", re.S), "without_items", ("reason",)),
    (re.compile(r"cleared from the shelf"), "cleared", ()),
    (re.compile(r"cleared from the shelf: no longer waiting in the library system"),
     "not_waiting", ()),
    (re.compile(r"cancelled by staff"), "by_staff", ()),
    (re.compile(r"staff scan"), "staff_scan", ()),
    (re.compile(r"item bag: (\S+)"), "item_bag", ("barcode",)),
]


def _legacy(text: str) -> dict[str, Any] | str:
    """Return an old plain-text detail as a code with params when it is a known one."""
    for pattern, code, names in LEGACY:
        found = pattern.fullmatch(text)
        if found:
            params = dict(zip(names, found.groups(), strict=True))
            if "num" in params:
                params["num"] = int(params["num"])
            return {"code": code, **params}
    return text


def detail(code: str, **params: Any) -> str:
    """Return the stored form of a detail: its code and params as JSON."""
    if code not in TEMPLATES:
        raise KeyError(f"unknown audit detail code {code!r}")
    return json.dumps({"code": code, **params}, ensure_ascii=False)


def join(*parts: str | None) -> str | None:
    """Return several stored details as one (shown one after the other)."""
    found = [p for p in parts if p]
    if len(found) < 2:
        return found[0] if found else None
    return json.dumps([parse(p) or {"code": "text", "text": p} for p in found],
                      ensure_ascii=False)


def parse(stored: str | None) -> dict[str, Any] | None:
    """Return a stored detail's code and params, or None for an old plain-text detail."""
    if not stored or stored[0] not in "[{":
        return None
    try:
        value = json.loads(stored)
    except ValueError:
        return None
    if isinstance(value, dict) and value.get("code") in TEMPLATES:
        return value
    return None


def parts(stored: str | None) -> list[dict[str, Any] | str]:
    """Return the pieces of a stored detail: code-and-params dicts, or old plain text."""
    if not stored:
        return []
    if stored[0] == "[":
        try:
            value = json.loads(stored)
        except ValueError:
            return [_legacy(stored)]
        if isinstance(value, list):
            return [v if isinstance(v, dict) and v.get("code") in TEMPLATES
                    else str(v.get("text", v) if isinstance(v, dict) else v) for v in value]
    found = parse(stored)
    return [found if found is not None else _legacy(stored)]


def render(stored: str | None, gettext: Any = None, ngettext: Any = None) -> str:
    """Return a stored detail as text: translated by the functions given, else English."""
    out = []
    for piece in parts(stored):
        if isinstance(piece, str):
            out.append(piece)
            continue
        params = {k: v for k, v in piece.items() if k != "code"}
        template = TEMPLATES[piece["code"]]
        if isinstance(template, tuple):
            num = int(params.get("num", 0))
            if ngettext is not None:
                params.pop("num", None)
                out.append(ngettext(*template, num, **params))
            else:
                out.append((template[0] if num == 1 else template[1]) % {**params, "num": num})
        elif gettext is not None:
            out.append(gettext(template, **params))
        else:
            out.append(template % params if params else template)
    return "; ".join(out)
