"""The library-system (ILS) link over SIP2: codec, client, link, job queue, hooks.

Nothing here imports Flask except `staffpage`; `attach` wires a link to a station.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.ils.link import IlsLink
from kiosk.ils.patrons import PinGuard, patron_check_hook, pin_gate_hook


def attach(station: Any) -> IlsLink | None:
    """Give the station its ILS link and scan hooks as `[ils]` configures; None if no ILS."""
    ils = station.settings.ils
    if ils.kind != "sip2" or getattr(station, "ils", None) is not None:
        return getattr(station, "ils", None)
    link = IlsLink.from_settings(ils, station.devices["ils"])
    link.cards, link.keep_names = station.cards, bool(station.settings.kiosk.show_names)
    link.station_name = station.name
    station.ils = link
    from kiosk.ils.lending import IlsLending

    station.lending = IlsLending(station)
    station.pin_guard = PinGuard() if ils.require_pin else None
    asking: list[Callable] = []  # the lookup hooks that ask the ILS, run on one deadline
    if ils.holds_from_ils:
        from kiosk.ils.holds import HoldsStatus, holds_hook

        station.holds = HoldsStatus()  # fallbacks and the last reconciliation, for staff

        asking.append(holds_hook(link, station))
    if ils.holds_from_ils or ils.checkin_on_shelve:
        from kiosk.ils.checkin import shelving_hook

        station.shelve_hooks.append(shelving_hook(link, station))
    if ils.patron_check and not ils.require_pin:  # with a PIN, the check comes with the PIN
        asking.append(patron_check_hook(link))
    if asking:
        station.lookup_hooks.append(one_deadline(link, asking))
    if ils.require_pin:
        station.lookup_hooks.append(pin_gate_hook(station.pin_guard))
    return link


def one_deadline(link: IlsLink, hooks: list[Callable]) -> Callable:
    """Return a lookup hook running hooks in order within one ILS deadline (`timeout_s`)."""

    def hook(session: Any, card: str, result: Any) -> None:
        with link.budget():
            for each in hooks:
                each(session, card, result)

    return hook
