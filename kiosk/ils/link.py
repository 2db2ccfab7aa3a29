"""The station's link to the library system: connection state, reconnect, patrons, checkout.

The link keeps one SIP2 connection. It reports its state in the station's
`devices["ils"]` (shown by /healthz) and, after a failure, waits a growing while
before it tries again, so a scan or a pickup never waits on a dead ILS twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.domain.cards import mask
from kiosk.ils import sip2
from kiosk.ils.client import Endpoint, LinkDown, LoginRefused, SIP2Client
from kiosk.ils.sip2 import Message

log = logging.getLogger(__name__)

BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def read_secret(path: str) -> str:
    """Return the first line of a password file ("" when no file is configured)."""
    if not path:
        return ""
    text = Path(path).read_text(encoding="utf-8")
    return text.splitlines()[0].strip() if text.strip() else ""


@dataclass
class PatronInfo:
    """What the ILS says about a card: valid, PIN right, blocked, holds waiting."""

    valid: bool
    pin_ok: bool | None
    blocked: bool
    name: str
    screen_message: str
    hold_items: list[str] = field(default_factory=list)
    charged_items: list[str] = field(default_factory=list)
    message: Message | None = None

    @property
    def may_borrow(self) -> bool:
        """Return True when the ILS lets this patron borrow."""
        return self.valid and not self.blocked


@dataclass
class CheckoutResult:
    """The ILS's answer to a checkout: lent or not, due date, its screen message."""

    item: str
    ok: bool
    renewal: bool
    due_date: str
    message: str


@dataclass
class CheckinResult:
    """The ILS's answer to a check-in: ok, the alert (CV) with hold card, name, destination."""

    item: str
    ok: bool
    alert: str  # CV: "01" hold here, "02" hold elsewhere, "04" send home, "" none
    hold_card: str  # CY
    hold_name: str  # DA
    destination: str  # CT
    message: str  # AF


@dataclass
class ItemInfo:
    """What the ILS says about an item: its circulation status and screen message."""

    item: str
    circulation_status: str
    screen_message: str

    @property
    def waiting(self) -> bool:
        """Return True when the item waits on the hold shelf for its patron."""
        return self.circulation_status == sip2.WAITING_ON_HOLD_SHELF


def patron_info(reply: Message) -> PatronInfo:
    """Turn a 24 or 64 answer into a PatronInfo."""
    status = reply.fixed.get("patron_status", " " * 14)
    blocked = any(status[i] == "Y" for i in (sip2.PATRON_STATUS["charge_denied"],
                                              sip2.PATRON_STATUS["card_lost"]))
    valid_flag = reply.get("BL")
    pin_flag = reply.get("CQ")
    return PatronInfo(
        valid=valid_flag == "Y" if valid_flag is not None else True,
        pin_ok=None if pin_flag is None else pin_flag == "Y",
        blocked=blocked,
        name=reply.get("AE", "") or "",
        screen_message=reply.screen_message,
        hold_items=reply.get_all("AS"),
        charged_items=reply.get_all("AU"),
        message=reply,
    )


class IlsLink:
    """One station's connection to the ILS, with its state and retry timer."""

    def __init__(self, endpoint: Endpoint, institution: str, terminal_password: str = "",
                 device: Any = None,
                 client_factory: Callable[[Endpoint], SIP2Client] = SIP2Client):
        self.endpoint = endpoint
        self.institution = institution
        self.terminal_password = terminal_password
        self.device = device
        self._client_factory = client_factory
        self._client: SIP2Client | None = None
        self._lock = threading.RLock()
        self._failures = 0
        self._retry_at = 0.0
        self.queue_lock = threading.Lock()  # one sender of queued jobs per process
        # How check-in answers are kept (set by kiosk.ils.attach from the station's settings):
        # the card reader that normalises the hold card (CY), and whether names (DA) are kept.
        self.cards: Any = None
        self.keep_names = False
        self.station_name = ""
        self.last_error = ""
        self._set_state("disconnected", "not connected yet")

    @classmethod
    def from_settings(cls, ils: Any, device: Any = None) -> IlsLink:
        """Build the link from the `[ils]` section; passwords are read from their files."""
        endpoint = Endpoint(
            host=ils["host"], port=ils["port"], user=ils["user"],
            password=read_secret(ils["password_file"]), location=ils["location"],
            tls=ils["tls"], tls_ca_file=ils["tls_ca_file"], encoding=ils["encoding"],
            timeout_s=float(ils["timeout_s"]))
        return cls(endpoint, ils["institution"], read_secret(ils["terminal_password_file"]),
                   device=device)

    # --- connection --------------------------------------------------------------------

    @property
    def up(self) -> bool:
        """Return True while connected."""
        return self._client is not None and self._client.connected

    def _set_state(self, state: str, detail: str) -> None:
        if self.device is not None:
            self.device.set(state, detail)

    def _connected_client(self, wait: bool) -> SIP2Client:
        if self._client is not None and self._client.connected:
            return self._client
        if not wait and time.monotonic() < self._retry_at:
            raise LinkDown(f"ILS unavailable ({self.last_error}); retrying later")
        client = self._client or self._client_factory(self.endpoint)
        self._client = client
        where = f"{self.endpoint.host}:{self.endpoint.port}"
        try:
            client.connect()
        except LoginRefused as exc:
            self._failed("error", str(exc))
            raise
        except LinkDown as exc:
            self._failed("disconnected", str(exc))
            raise
        self._failures = 0
        self._retry_at = 0.0
        self.last_error = ""
        self._set_state("connected", f"{where}{' (TLS)' if self.endpoint.tls else ''}")
        log.info("ILS link up: %s", where)
        return client

    def _failed(self, state: str, reason: str) -> None:
        delay = BACKOFF_S[min(self._failures, len(BACKOFF_S) - 1)]
        self._failures += 1
        self._retry_at = time.monotonic() + delay
        if reason != self.last_error:
            log.warning("ILS link %s: %s (next try in %g s)", state, reason, delay)
        self.last_error = reason
        self._set_state(state, reason)

    def connect(self) -> None:
        """Connect now, even while waiting to retry; raise LinkDown or LoginRefused."""
        with self._lock:
            self._connected_client(wait=True)

    def ready(self) -> None:
        """Make sure a connection is open (unless waiting to retry); raise LinkDown if not."""
        with self._lock:
            self._connected_client(wait=False)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._client is not None:
                self._client.close()
            self._set_state("disconnected", "closed")

    def _call(self, parts: tuple[str, list, list], expect: str, *, retry: bool) -> Message:
        """Send one request; on a stale connection reconnect once when retry is allowed."""
        with self._lock:
            fresh = not self.up
            client = self._connected_client(wait=False)
            try:
                reply = client.request(*parts, expect=expect)
            except LinkDown as exc:
                if not retry or fresh:
                    self._failed("disconnected", str(exc))
                    raise
                log.info("ILS connection went stale (%s); reconnecting", exc)
                client = self._connected_client(wait=True)
                try:
                    reply = client.request(*parts, expect=expect)
                except LinkDown as exc2:
                    self._failed("disconnected", str(exc2))
                    raise
            if self.device is not None:
                self.device.last_activity = time.time()
            return reply

    # --- requests ---------------------------------------------------------------------

    def status(self) -> Message:
        """Send 99 SC Status (the keepalive) and return the 98 answer."""
        return self._call(sip2.sc_status(), "98", retry=True)

    def patron(self, card: str, pin: str | None = None, summary: str = "") -> PatronInfo:
        """Ask 63 Patron Information for a card (with a PIN, and a list such as "hold")."""
        parts = sip2.patron_information(
            self.institution, card, terminal_password=self.terminal_password,
            patron_password=pin, summary=summary)
        info = patron_info(self._call(parts, "64", retry=True))
        log.debug("ILS patron %s: valid=%s blocked=%s", mask(card), info.valid, info.blocked)
        return info

    def check_pin(self, card: str, pin: str) -> PatronInfo:
        """Return the patron's info with pin_ok set by the ILS (CQ of 64)."""
        return self.patron(card, pin=pin)

    def item(self, barcode: str) -> ItemInfo:
        """Ask 17 Item Information for an item and return its circulation status."""
        parts = sip2.item_information(self.institution, barcode,
                                      terminal_password=self.terminal_password)
        reply = self._call(parts, "18", retry=True)
        return ItemInfo(item=reply.get("AB", barcode) or barcode,
                        circulation_status=reply.fixed.get("circulation_status", ""),
                        screen_message=reply.screen_message)

    def checkout(self, card: str, item: str) -> CheckoutResult:
        """Send 11 Checkout; LinkDown means the answer is unknown (it may have gone through)."""
        parts = sip2.checkout(self.institution, card, item,
                              terminal_password=self.terminal_password)
        reply = self._call(parts, "12", retry=False)
        return CheckoutResult(
            item=reply.get("AB", item) or item, ok=reply.flag("ok"),
            renewal=reply.flag("renewal_ok"), due_date=(reply.get("AH") or "").strip(),
            message=reply.screen_message)

    def checkin(self, item: str) -> CheckinResult:
        """Send 09 Checkin at this station's location; LinkDown means the answer is unknown."""
        parts = sip2.checkin(self.institution, item, self.endpoint.location,
                             terminal_password=self.terminal_password)
        reply = self._call(parts, "10", retry=False)
        return CheckinResult(
            item=reply.get("AB", item) or item, ok=reply.flag("ok"),
            alert=(reply.get("CV") or "").strip(), hold_card=(reply.get("CY") or "").strip(),
            hold_name=(reply.get("DA") or "").strip(),
            destination=(reply.get("CT") or "").strip(), message=reply.screen_message)

    def end_session(self, card: str) -> None:
        """Send 35 End Patron Session (some systems keep a session per patron)."""
        self._call(sip2.end_session(self.institution, card,
                                    terminal_password=self.terminal_password), "36",
                   retry=False)

    def ensure(self) -> bool:
        """Return True when the link answers a keepalive now (reconnecting if it may)."""
        try:
            self.status()
            return True
        except (LinkDown, LoginRefused):
            return False
