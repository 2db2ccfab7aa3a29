"""The station's link to the library system: connection state, reconnect, patrons, checkout.

The link keeps one SIP2 connection. Each call has one deadline of `[ils] timeout_s`
covering the wait for the link's lock, the connect, TLS, login and every read, so a call
never waits longer than that, whatever the ILS does. It reports its state in the
station's `devices["ils"]` (shown by /healthz, which never waits on the link) and, after
a failure, a breaker (kiosk.ils.breaker) refuses calls at once for a growing while (5 s,
doubling to 60 s) before one call (the keepalive thread, while the station serves) probes
again: meanwhile scans answer from local data.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from kiosk import clock
from kiosk.domain.cards import mask
from kiosk.ils import sip2
from kiosk.ils.answers import (  # re-exported: callers import the answers from the link
    CheckinResult,
    CheckoutResult,
    ItemInfo,
    PatronInfo,
    patron_info,
)
from kiosk.ils.breaker import Breaker
from kiosk.ils.client import Endpoint, LinkDown, LoginRefused, SIP2Client
from kiosk.ils.deadline import Clock, Deadline
from kiosk.ils.sip2 import Message

log = logging.getLogger(__name__)

T = TypeVar("T")

# The deadline shared by every call inside `IlsLink.budget()` (one scan), per thread.
_shared: ContextVar[Deadline | None] = ContextVar("ils_shared_deadline", default=None)


def read_secret(path: str) -> str:
    """Return the first line of a password file ("" when no file is configured)."""
    if not path:
        return ""
    text = Path(path).read_text(encoding="utf-8")
    return text.splitlines()[0].strip() if text.strip() else ""


class IlsLink:
    """One station's connection to the ILS, with its state, deadlines and breaker."""

    def __init__(self, endpoint: Endpoint, institution: str, terminal_password: str = "",
                 device: Any = None,
                 client_factory: Callable[[Endpoint], SIP2Client] = SIP2Client,
                 breaker: Breaker | None = None, clock: Clock = time.monotonic):
        self.endpoint = endpoint
        self.institution = institution
        self.terminal_password = terminal_password
        self.device = device
        self._client_factory = client_factory
        self._client: SIP2Client | None = None
        self._lock = threading.RLock()
        self._clock = clock
        self.breaker = breaker or Breaker(clock=clock)
        # True while a background thread (kiosk.ils.runtime) probes the ILS: then only it
        # does, and a scan never becomes the half-open probe that waits out timeout_s.
        self.background_prober = False
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
        client = self._client
        return client is not None and client.connected

    @property
    def _retry_at(self) -> float:
        """When the breaker lets the next probe out (tests set 0 to skip the wait)."""
        return self.breaker.open_until

    @_retry_at.setter
    def _retry_at(self, value: float) -> None:
        self.breaker.open_until = value

    def _set_state(self, state: str, detail: str) -> None:
        if self.device is not None:
            self.device.set(state, detail)

    def _connected_client(self, d: Deadline) -> SIP2Client:
        if self._client is not None and self._client.connected:
            return self._client
        client = self._client or self._client_factory(self.endpoint)
        self._client = client
        client.connect(d)
        where = f"{self.endpoint.host}:{self.endpoint.port}"
        self._set_state("connected", f"{where}{' (TLS)' if self.endpoint.tls else ''}")
        log.info("ILS link up: %s", where)
        return client

    def _failed(self, state: str, reason: str) -> None:
        delay = self.breaker.failed()
        if reason != self.last_error:
            log.warning("ILS link %s: %s (next try in %g s)", state, reason, delay)
        self.last_error = reason
        self._set_state(state, reason)

    def _run(self, work: Callable[[Deadline], T], *, force: bool = False,
             background: bool = False) -> T:
        """Do work on the link within one deadline of `timeout_s`, through the breaker.

        The deadline starts here, so the wait for the link's lock counts against it. While
        the breaker is open the call is refused at once (force: connect anyway, as
        `kiosk ils-test` does). A failure opens the breaker; a success closes it.
        """
        d = _shared.get() or Deadline(self.endpoint.timeout_s, self._clock)
        if d.expired:  # an earlier call of this scan used the time up: not the ILS's failure
            raise LinkDown(f"no time left of {d.seconds:g} s for the ILS")
        may_probe = background or not self.background_prober
        turn = "probe" if force else self.breaker.admit(may_probe)
        if turn == "refuse":
            raise self._refused()
        judged = False  # whether the breaker has heard how this call went
        try:
            if not self._lock.acquire(timeout=d.remaining()):
                raise LinkDown(f"the ILS link stayed busy for {d.seconds:g} s")
            try:
                # Another call may have failed while this one waited for its turn.
                if turn == "go" and self.breaker.tripped:
                    raise self._refused()
                try:
                    result = work(d)
                except LoginRefused as exc:
                    judged = True
                    self._failed("error", str(exc))
                    raise
                except LinkDown as exc:
                    judged = True
                    self._failed("disconnected", str(exc))
                    raise
                judged = True
                self.last_error = ""
                self.breaker.succeeded()
                return result
            finally:
                self._lock.release()
        except BaseException:
            # A probe that never got a verdict (busy link, a request the codec refused)
            # gives its turn back, or the breaker would stay half-open for ever.
            if turn == "probe" and not judged:
                self.breaker.release()
            raise

    @contextmanager
    def budget(self) -> Iterator[Deadline]:
        """Give every call made inside (in this thread) one shared deadline of `timeout_s`.

        A scan's ILS hooks (holds, patron check) run inside one budget, so together they
        wait on the ILS at most `timeout_s`, not that much each.
        """
        d = _shared.get() or Deadline(self.endpoint.timeout_s, self._clock)
        token = _shared.set(d)
        try:
            yield d
        finally:
            _shared.reset(token)

    def _refused(self) -> LinkDown:
        return LinkDown(f"ILS unavailable ({self.last_error or 'a call failed'}); "
                        f"next try in {self.breaker.retry_in():.0f} s")

    def connect(self) -> None:
        """Connect now, even while the breaker is open; raise LinkDown or LoginRefused."""
        self._run(self._connected_client, force=True)

    def ready(self) -> None:
        """Make sure a connection is open (unless the breaker is open); raise LinkDown if not."""
        self._run(self._connected_client)

    def close(self) -> None:
        """Close the connection (after any exchange under way, which its deadline ends)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
            self._set_state("disconnected", "closed")

    def _call(self, parts: tuple[str, list, list], expect: str, *, retry: bool,
              background: bool = False) -> Message:
        """Send one request within one deadline; a stale connection is reconnected once when
        retry is allowed and time is left."""

        def exchange(d: Deadline) -> Message:
            fresh = not self.up
            client = self._connected_client(d)
            try:
                reply = client.request(*parts, expect=expect, deadline=d)
            except LinkDown as exc:
                if not retry or fresh or d.expired:
                    raise
                log.info("ILS connection went stale (%s); reconnecting", exc)
                client = self._connected_client(d)
                reply = client.request(*parts, expect=expect, deadline=d)
            if self.device is not None:
                self.device.last_activity = clock.timestamp()
            return reply

        return self._run(exchange, background=background)

    # --- requests ---------------------------------------------------------------------

    def status(self, background: bool = False) -> Message:
        """Send 99 SC Status (the keepalive) and return the 98 answer."""
        return self._call(sip2.sc_status(), "98", retry=True, background=background)

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

    def ensure(self, background: bool = False) -> bool:
        """Return True when the link answers a keepalive now (reconnecting if it may).

        background: the caller is the background prober, which may probe a half-open link.
        """
        try:
            self.status(background)
            return True
        except (LinkDown, LoginRefused):
            return False
