"""`kiosk demo`: a throw-away station with shelves, orders in every state and demo cards.

Without `--config` the demo runs `station_config/demo.toml` on an SQLite database
in a temporary folder, which is removed when the demo stops. A configuration
that names a database gets its demo orders there instead.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import sys
import tempfile
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click
from flask import Flask
from sqlalchemy.orm import Session

from kiosk import config as config_mod
from kiosk.appsetup import station_config_folder
from kiosk.domain import audit, shelving
from kiosk.domain import orders as order_ops
from kiosk.domain.lookup import find_pickups
from kiosk.extensions import db
from kiosk.models import Order

ACTOR_NAME = "demo"
DEMO_PASSWORD = "demo-station-2026"


@dataclass(frozen=True)
class DemoCard:
    """A demo patron: card number, what their orders are set up as, and what to expect."""

    card: str
    shows: str
    shelve: tuple[str, ...] = ()  # one ready order per slot label
    states: tuple[str, ...] = ()  # further orders in these states
    other_branch: bool = False


CARDS = (
    DemoCard("N000000001", "two bags ready on two shelves", shelve=("A-02", "B-05")),
    DemoCard("N000000002", "one bag ready, one order still being packed",
             shelve=("A-04",), states=("packing",)),
    DemoCard("N000000003", "an order being packed: come back later", states=("packing",)),
    DemoCard("N000000004", "an order just received: come back later", states=("received",)),
    DemoCard("N000000005", "three bags in one slot", shelve=("A-07", "A-07", "A-07")),
    DemoCard("N000000006", "nothing: its orders were collected or cancelled",
             states=("collected", "cancelled")),
    DemoCard("N000000007", "nothing: its order expired on the shelf", states=("expired",)),
    DemoCard("N000000008", "nothing here: its bag waits at another branch", other_branch=True),
)
FILLER_STATES = ("ready",) * 10 + ("packing",) * 3 + ("received",) * 3 + (
    "collected",) * 6 + ("expired",) * 2 + ("cancelled",) * 2
TITLES = ("Sult", "Markens grøde", "Kristin Lavransdatter", "Doppler", "Naiv. Super.",
          "Min kamp 1", "Det store spelet", "Anne på Grønnkvist", "Is-slottet", "Fuglane")


def demo_settings(folder: Path, host: str, port: int) -> config_mod.Settings:
    """Return demo.toml's settings with the database and an API token file in folder."""
    path = station_config_folder() / "demo.toml"
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    tokens = folder / "api-tokens"
    tokens.write_text(f"# demo token for /api/v1\ndemo-{secrets.token_hex(12)}\n")
    tokens.chmod(0o600)
    data.setdefault("database", {})["url"] = f"sqlite:///{folder / 'kiosk.db'}"
    data.setdefault("api", {})["tokens_file"] = str(tokens)
    data.setdefault("server", {}).update(host=host, port=port)
    return config_mod.parse(data, source=str(path))


def _items(n: int, count: int) -> tuple[order_ops.NewItem, ...]:
    return tuple(order_ops.NewItem(f"0301{n:05d}{i}", TITLES[(n + i) % len(TITLES)])
                 for i in range(count))


def _order(session: Session, station: Any, card: str, state: str, slot: str | None,
           n: int, branch: str | None = None) -> Order:
    """Create one demo order and bring it to state (shelved on slot when it gets there)."""
    actor = order_ops.Actor(ACTOR_NAME, station.name)
    new = order_ops.NewOrder(card=card, items=_items(n, 1 + n % 3),
                             branch=branch or station.branch, ref=f"demo-{n}",
                             patron_name=f"Demo patron {card[-1]}")
    order = order_ops.create_order(session, new, actor, source="demo")
    if state == "received":
        return order
    if state in ("packing", "cancelled"):
        order_ops.start_packing(session, order, actor)
        if state == "cancelled":
            order_ops.cancel(session, order, actor, audit.detail("reason", reason="patron asked"))
        return order
    for item in order.items:
        order_ops.pack_item(session, order, item.barcode, actor)
    order_ops.finish_packing(session, order, actor)
    try:
        target = shelving.get_slot(session, slot, order.branch) if slot else None
    except order_ops.NotFound:  # a configuration without this slot: any free one will do
        target = None
    target = target or shelving.suggest_slot(session, order, order.branch)
    if target is None:  # every slot full: the bag waits, packed
        return order
    shelving.shelve(session, order, target, actor, station.calendar,
                    station.settings.pickup.days_on_shelf)
    if state == "collected":
        order_ops.collect(session, order, actor)
    elif state == "expired":
        order_ops.expire(session, order, actor)
    return order


def populate(app: Flask) -> list[tuple[DemoCard, str]]:
    """Add the demo orders (once); return each demo card with what the screen shows."""
    station = app.extensions["station"]
    with app.app_context():
        session = db.session
        if not session.query(Order).filter(Order.ref.like("demo-%")).first():
            n = 0
            for demo in CARDS:
                for slot in demo.shelve:
                    n += 1
                    _order(session, station, demo.card, "ready", slot, n)
                for state in demo.states:
                    n += 1
                    _order(session, station, demo.card, state, None, n)
                if demo.other_branch:
                    n += 1
                    _order(session, station, demo.card, "received", None, n, branch="demo-other")
            for i, state in enumerate(FILLER_STATES):
                n += 1
                _order(session, station, f"N1000000{i:02d}", state, None, n)
            session.commit()
        shown = []
        for demo in CARDS:
            result = find_pickups(session, demo.card, station.branch)
            slots = ", ".join(p.slot for p in result.pickups)
            waiting = f", {result.waiting} not ready yet" if result.pickups and result.waiting \
                else ""
            shown.append((demo, f"{result.outcome}{': ' + slots if slots else ''}{waiting}"))
        return shown


def _staff_account(app: Flask) -> str | None:
    """Create the demo staff account if staff accounts exist in this build; return its name."""
    try:
        from kiosk.domain import accounts
    except ImportError:
        return None
    with app.app_context():
        if accounts.find_user(db.session, "demo"):
            return "demo"
        try:
            accounts.create_user(db.session, "demo", DEMO_PASSWORD, "admin")
            db.session.commit()
        except accounts.AccountError:  # a stricter password policy than the demo's
            db.session.rollback()
            return None
    return "demo"


def terminal_scans(station: Any, lines: IO[str]) -> int:
    """Play each line typed in the demo's terminal as a scan of the station's own scanner.

    The result reaches the patron screen the way a serial scanner's does (its event stream);
    return the number of scans played when the input ends.
    """
    played = 0
    for line in lines:
        code = line.strip()
        if code:
            station.handle_scan(code, source="terminal")
            played += 1
    return played


def _background_terminal_scans(station: Any, lines: IO[str] | None) -> None:
    if lines is None or lines.closed:
        return
    threading.Thread(target=terminal_scans, args=(station, lines), name="demo terminal scans",
                     daemon=True).start()


def run_demo(station_ctx: Any, host: str, port: int, serve: bool) -> None:
    """Set up the demo station, print the demo cards and serve it (unless serve is False)."""
    from kiosk import create_app
    from kiosk.schema import upgrade_database
    from kiosk.serving import serve as run

    folder = Path(tempfile.mkdtemp(prefix="kiosk-demo-"))
    app: Flask | None = None
    try:
        if station_ctx.config_path:
            settings = station_ctx.settings
            if not settings.sections["database"]["url"]:
                settings.sections["database"]["url"] = f"sqlite:///{folder / 'kiosk.db'}"
        else:
            settings = demo_settings(folder, host, port)
        app = create_app(settings)
        upgrade_database(app)
        shown = populate(app)
        user = _staff_account(app)
        base = f"http://{host}:{port}"
        click.echo(f"Demo station {settings.station.name!r}, database "
                   f"{settings.database_url}")
        click.echo("Demo cards: scan one at the patron screen with a USB scanner, or type it here "
                   "and press Enter (typing on the screen's keyboard is too slow to count as a "
                   "scan):")
        for demo, outcome in shown:
            click.echo(f"  {demo.card}  {demo.shows}  [{outcome}]")
        if user:
            click.echo(f"Staff pages: {base}/staff  (user {user}, password {DEMO_PASSWORD})")
        tokens = settings.api.tokens_file
        if tokens and Path(tokens).is_relative_to(folder):
            token = Path(tokens).read_text().splitlines()[-1]
            click.echo(f"API: curl -H 'Authorization: Bearer {token}' {base}/api/v1/orders")
        if not serve:
            return
        click.echo(f"Patron screen: {base}/   (Ctrl+C stops the demo)")
        _background_terminal_scans(app.extensions["station"], sys.stdin)
        if threading.current_thread() is threading.main_thread():
            # Stopped by a service manager: still clear the temporary folder.
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        run(app, host, port)
    finally:
        if app is not None:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)
