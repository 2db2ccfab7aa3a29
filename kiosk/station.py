"""The station at run time: the one path every scan takes, and the devices' states.

scan → normalised card → lookup → result event → screen (SSE) and printer.
The patron view and the scanner thread both call `Station.handle_scan`; views
never talk to devices, and devices never import Flask.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import or_, select

from kiosk import clock
from kiosk.config import Settings
from kiosk.domain import pickup
from kiosk.domain.branches import KnownBranches, branch_name, known_branches
from kiosk.domain.calendar import OpeningCalendar
from kiosk.domain.cards import CardReader, mask
from kiosk.domain.lookup import NOT_RECOGNISED, LookupResult, find_pickups, ready_elsewhere
from kiosk.domain.messages import plural
from kiosk.domain.pickup import PickupOutcome
from kiosk.events import SCAN_RESULT, EventBus
from kiosk.models import StaffUser

log = logging.getLogger(__name__)

STAFF = "staff"  # the outcome of a staff card's scan when staff mode by card + PIN is on


class Lending(Protocol):
    """Lending at collect, as a library system does it (kiosk.ils.lending.IlsLending)."""

    def collect(self, session: Any, order: Any, card: str | None, actor: Any,
                detail: str | None = None) -> PickupOutcome: ...

    def card_needed(self, order: Any) -> bool: ...


class Offline(Protocol):
    """Answers scans while the database cannot be reached (kiosk.outage, on PostgreSQL)."""

    def serving(self) -> bool: ...

    def database_failed(self, exc: BaseException) -> bool: ...

    def lookup(self, card: str) -> LookupResult: ...

    def collect(self, card: str, order_id: int) -> dict[str, Any]: ...


@dataclass
class DeviceState:
    """What /healthz reports for one device: state, detail and when it last worked."""

    state: str = "absent"  # absent | connected | disconnected | error | ok
    detail: str = ""
    since: float = field(default_factory=clock.timestamp)
    last_activity: float | None = None

    def set(self, state: str, detail: str = "") -> None:
        if state != self.state:
            self.since = clock.timestamp()
        self.state, self.detail = state, detail

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "detail": self.detail, "since": self.since,
                "last_activity": self.last_activity}


class Station:
    """Holds configuration, the event bus and device states; runs the scan path."""

    def __init__(self, settings: Settings, session_scope: Callable[[], Any]):
        self.settings = settings
        self.name = settings.station.name
        self.branch = settings.station.branch
        self.cards = CardReader(settings.cards.patterns, settings.cards.strip,
                                settings.cards.uppercase)
        p = settings.pickup
        self.calendar = OpeningCalendar(p.closed_weekdays, [str(d) for d in p.closed_dates],
                                        p.holidays_country)
        self.bus = EventBus(max_subscribers=settings.server.max_streams)
        self.devices: dict[str, DeviceState] = {
            "scanner": DeviceState(), "printer": DeviceState(), "ils": DeviceState()}
        self._session_scope = session_scope
        self._lock = threading.Lock()
        self.printer: Any = None  # set by kiosk.devices when a printer is configured
        self.ils: Any = None  # set when an ILS link is configured
        # Lends a bag's items as it is collected: set by kiosk.ils when `[ils]` has a link.
        self.lending: Lending | None = None
        self.lookup_hooks: list[Callable[[Any, str, LookupResult], None]] = []
        # Answers scans from a local copy while the database is away: set by kiosk.outage.
        self.offline: Offline | None = None
        # Run before a bag goes on a slot (session, order, actor); a hook refuses by raising
        # an OrderError and may return notes (StationErrors) for staff. See before_shelving.
        self.shelve_hooks: list[Callable[[Any, Any, Any], list | None]] = []
        # Called after every scan with its answer and how long it took (s): metrics, fleet.
        self.scan_hooks: list[Callable[[dict[str, Any], float], None]] = []
        self._recent: OrderedDict[str, tuple[float, str | None, dict[str, Any],
                                             frozenset[str]]] = OrderedDict()

    def known_branches(self, session: Any) -> KnownBranches:
        """Return the library's branches: `[station] branches`, this one, those shelved at."""
        return known_branches(session, self.settings.station.branches, self.branch)

    def remember(self, event_id: str, card: str | None, data: dict[str, Any],
                 screens: frozenset[str] = frozenset()) -> None:
        """Keep a scan's result (and card) briefly, so the screens that showed it can refer
        to it (print, collect, PIN): only those screens, by their secret."""
        with self._lock:
            self._recent[event_id] = (time.monotonic(), card, data, screens)
            while len(self._recent) > 256:
                self._recent.popitem(last=False)

    def recent(self, event_id: str, screen: str | None = None
               ) -> tuple[str | None, dict[str, Any]] | None:
        """Return (card, result) of a scan still on screen, or None once it has gone idle.

        With screen (a screen's secret, "" for none), also None unless that screen showed it.
        """
        keep_s = self.settings.kiosk.idle_seconds * 3 + 60
        with self._lock:
            entry = self._recent.get(event_id)
        if entry is None or time.monotonic() - entry[0] > keep_s:
            return None
        if screen is not None and screen not in entry[3]:
            return None
        return entry[1], entry[2]

    def lookup(self, card: str) -> LookupResult:
        """Look the card up in the database (and any ILS hook) and return the result.

        While the database cannot be reached, the offline copy answers instead (if any).
        """
        k = self.settings.kiosk
        offline = self.offline
        if offline is not None and offline.serving():
            return offline.lookup(card)
        with self._session_scope() as session:
            try:
                result = find_pickups(session, card, self.branch,
                                      show_titles=k.show_titles, show_names=k.show_names)
                if k.tell_other_branch and not result.pickups:  # off: "nothing here"
                    result.elsewhere = [branch_name(b) for b in
                                        ready_elsewhere(session, card, self.branch)]
                for hook in self.lookup_hooks:
                    hook(session, card, result)
            except Exception as exc:  # the scan reads through the bare driver too
                if offline is None or not offline.database_failed(exc):
                    raise
                session.rollback()
                return offline.lookup(card)
        return result

    def collect(self, session: Any, order: Any, card: str | None, actor: Any,
                detail: str | None = None) -> PickupOutcome:
        """Collect a ready order at any door (kiosk, desk, API): through the library
        system's lending when one is hooked in, else just marked collected."""
        if self.lending is not None:
            return self.lending.collect(session, order, card, actor, detail)
        return pickup.collect(session, order, actor, detail)

    def card_needed(self, order: Any) -> bool:
        """Return True when collecting order lends its items but it has no card yet."""
        return self.lending is not None and self.lending.card_needed(order)

    def before_shelving(self, session: Any, order: Any, actor: Any) -> list:
        """Run the shelving hooks (such as an ILS check-in) for order; return their notes."""
        notes: list = []
        for hook in self.shelve_hooks:
            notes += hook(session, order, actor) or []
        return notes

    def staff_card(self, raw: str) -> str | None:
        """Return the staff card scanned, if it is one and staff mode by card + PIN is on."""
        if not self.settings.kiosk.staff_pin or not isinstance(raw, str):
            return None
        if self.offline is not None and self.offline.serving():
            return None  # staff cannot log in without the database anyway
        # Staff cards are stored as entered; a scanner may send them in either case.
        wanted = {c for c in (self.cards.normalise(raw), raw.strip()) if 0 < len(c) <= 64}
        if not wanted:
            return None
        with self._session_scope() as session:  # one lookup in the unique index on card
            return session.scalar(select(StaffUser.card).where(
                or_(*(StaffUser.card == c for c in sorted(wanted)))).limit(1))

    def handle_scan(self, raw: str, source: str, screen: str | None = None) -> dict[str, Any]:
        """Turn raw scanner text into the screen's answer and publish it as an event.

        screen: the secret of the screen that sent the scan; the result is then its alone to
        act on. Without one (the station's own scanner) it belongs to the screens listening.
        """
        started = time.perf_counter()
        card = self.cards.card(raw) if isinstance(raw, str) else None
        staff = self.staff_card(raw) if self.settings.kiosk.staff_pin else None
        if staff is not None:  # the screen asks for the PIN; the card stays on the server
            card, result = staff, LookupResult(outcome=STAFF)
            log.info("scan from %s: a staff card", source)
        elif card is None:
            result = LookupResult(outcome=NOT_RECOGNISED)
            log.info("scan from %s: not a card number", source)
        else:
            result = self.lookup(card)
            log.info("scan from %s: card %s, %s, %s", source, mask(card),
                     result.outcome, plural(len(result.pickups), "%(num)d bag", "%(num)d bags"))
            log.debug("scan from %s: card %s", source, card)
        data = result.as_dict()
        data["source"] = source
        data["idle_seconds"] = self.settings.kiosk.idle_seconds
        data["at"] = clock.timestamp()
        data["event_id"] = self.bus.next_id()
        self.remember(data["event_id"], card, data,
                      frozenset((screen,)) if screen else frozenset(self.bus.screens()))
        self.bus.publish(SCAN_RESULT, data, event_id=data["event_id"])
        elapsed = time.perf_counter() - started
        for hook in self.scan_hooks:
            try:
                hook(data, elapsed)
            except Exception:  # counting a scan must never fail it
                log.exception("scan hook failed")
        log.debug("scan handled in %.2f ms", elapsed * 1000)
        return data
