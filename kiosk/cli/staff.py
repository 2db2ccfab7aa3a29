"""`kiosk user add|list|unlock|password|role|remove`: staff accounts from the command line."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from kiosk.cli.context import StationContext, fail, pass_station


def _read_secret(prompt: str, interactive: bool, stdin_lines: list[str]) -> str:
    """Read a password or PIN: hidden and confirmed on a terminal, else one line of stdin."""
    if interactive:
        return click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    if not stdin_lines:
        fail(f"{prompt} expected on standard input (one line)", 2)
    return stdin_lines.pop(0)


@click.group("user")
def user() -> None:
    """Manage staff accounts."""


@user.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Give the account the admin role.")
@click.option("--card", help="Staff card number, for the kiosk's staff mode (needs --pin).")
@click.option("--pin", "with_pin", is_flag=True,
              help="Also ask for a PIN (4-8 digits) to use with the staff card.")
@pass_station
def add(station: StationContext, name: str, admin: bool, card: str | None,
        with_pin: bool) -> None:
    """Create a staff account; the password is read from the terminal or stdin.

    On a terminal the password (and PIN) are asked for, hidden and twice.
    Otherwise the first line of stdin is the password and the second the PIN.
    """
    from kiosk.domain import accounts
    from kiosk.extensions import db

    if bool(card) != with_pin:
        fail("--card and --pin go together: a staff card needs a PIN", 2)
    stream = sys.stdin
    interactive = stream.isatty()
    lines = [] if interactive else stream.read().splitlines()
    password = _read_secret("Password", interactive, lines)
    pin = _read_secret("PIN", interactive, lines) if with_pin else None
    app = station.ready_app()  # a station never initialised is initialised, as serve does
    with app.app_context():
        try:
            account = accounts.create_user(db.session, name, password,
                                           "admin" if admin else "staff", card=card, pin=pin)
            db.session.commit()
        except accounts.DuplicateAccount as exc:
            db.session.rollback()
            fail(str(exc), 1)
        except accounts.AccountError as exc:
            db.session.rollback()
            fail(str(exc), 2)
        except (OperationalError, ProgrammingError) as exc:
            fail(f"database not ready (run `kiosk init`): {exc.orig}", 1)
        click.echo(f"User {account.username} added ({account.role}"
                   f"{', with staff card' if card else ''})")


@user.command("list")
@pass_station
def list_users(station: StationContext) -> None:
    """List staff accounts with their role."""
    from kiosk.extensions import db
    from kiosk.models import StaffUser

    with station.ready_app().app_context():
        try:
            rows = db.session.scalars(select(StaffUser).order_by(StaffUser.username)).all()
        except (OperationalError, ProgrammingError) as exc:
            fail(f"database not ready (run `kiosk init`): {exc.orig}", 1)
        for row in rows:
            click.echo(f"{row.username}\t{row.role}")


@user.command("unlock")
@click.argument("name")
@pass_station
def unlock(station: StationContext, name: str) -> None:
    """Lift a lockout after too many failed logins."""
    from kiosk.domain import accounts
    from kiosk.extensions import db

    with station.ready_app().app_context():
        accounts.unlock(db.session, _account(name))
        db.session.commit()
    click.echo(f"User {name} unlocked (and logged out everywhere)")


def _account(name: str):
    from kiosk.domain import accounts
    from kiosk.extensions import db

    account = accounts.find_user(db.session, name)
    if account is None:
        fail(f"No user named {name}", 1)
    return account


@user.command("password")
@click.argument("name")
@pass_station
def password(station: StationContext, name: str) -> None:
    """Give a user a new password (from the terminal or stdin); their sessions end."""
    from kiosk.domain import accounts
    from kiosk.extensions import db

    interactive = sys.stdin.isatty()
    lines = [] if interactive else sys.stdin.read().splitlines()
    secret = _read_secret("Password", interactive, lines)
    with station.ready_app().app_context():
        try:
            accounts.set_password(db.session, _account(name), secret)
        except accounts.AccountError as exc:
            fail(str(exc), 2)
        db.session.commit()
    click.echo(f"New password set for user {name}; logged out everywhere")


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["staff", "admin"]))
@pass_station
def role(station: StationContext, name: str, role: str) -> None:
    """Give a user another role; their sessions end."""
    from kiosk.domain import accounts
    from kiosk.extensions import db

    with station.ready_app().app_context():
        accounts.set_role(db.session, _account(name), role)
        db.session.commit()
    click.echo(f"User {name} is now {role}; logged out everywhere")


@user.command("remove")
@click.argument("name")
@pass_station
def remove(station: StationContext, name: str) -> None:
    """Remove a staff account; its sessions end."""
    from kiosk.domain import accounts
    from kiosk.extensions import db

    with station.ready_app().app_context():
        accounts.remove_user(db.session, _account(name))
        db.session.commit()
    click.echo(f"User {name} removed")


COMMANDS = [user]
