"""What the ILS answers, as the station reads it: patrons, checkouts, check-ins, items."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.ils import sip2
from kiosk.ils.sip2 import Message


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
