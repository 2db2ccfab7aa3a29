"""Staff accounts: argon2-hashed passwords and PINs, slow-down and lockout on failures.

After each wrong password the next answer comes a little later (doubling,
capped), and after `lockout_attempts` failures in a row the account is
locked for `lockout_minutes`; while locked, no password is even checked.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.domain.messages import N_, StationError
from kiosk.models import StaffUser, utcnow

ROLES = ("staff", "admin")
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
PIN_RE = re.compile(r"^\d{4,8}$")
MIN_PASSWORD = 8

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
_dummy_hash: str | None = None


def use_hasher(hasher: PasswordHasher) -> None:
    """Hash new secrets with other argon2 parameters (tests use a cheap profile)."""
    global _hasher, _dummy_hash
    _hasher, _dummy_hash = hasher, None


def _dummy() -> str:
    # Verified against when the username is unknown, so both cases take as long.
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not a real password")
    return _dummy_hash


class AccountError(StationError):
    """A request about an account that cannot be met; the message says why.

    The message is a template with `%(name)s` placeholders and named params (see
    kiosk.domain.messages).
    """


class DuplicateAccount(AccountError):
    """The username or staff card is taken already."""


class LoginFailed(AccountError):
    """Wrong username, password, card or PIN (deliberately not saying which)."""


class AccountLocked(AccountError):
    """Too many failures: the account is locked until `until`."""

    def __init__(self, until: dt.datetime):
        super().__init__(N_("Too many failed attempts; the account is locked for a while"))
        self.until = until


@dataclass(frozen=True)
class LockoutPolicy:
    """How failures are punished: attempts before a lockout, its length, the first delay."""

    attempts: int = 5
    minutes: int = 15
    base_delay_s: float = 0.25
    max_delay_s: float = 2.0

    def delay(self, failures: int) -> float:
        """Return how long to hold back the answer after this many failures in a row."""
        if failures <= 0 or self.base_delay_s <= 0:
            return 0.0
        return min(self.base_delay_s * 2 ** (failures - 1), self.max_delay_s)


def hash_secret(secret: str) -> str:
    """Return the argon2id hash of a password or PIN."""
    return _hasher.hash(secret)


def _verify(hash_: str | None, secret: str) -> bool:
    try:
        return _hasher.verify(hash_ or _dummy(), secret) and hash_ is not None
    except (VerificationError, InvalidHashError):
        return False


def check_password_rules(password: str) -> None:
    """Raise AccountError when a new password is too weak."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(N_("The password must have at least %(n)d characters"),
                           n=MIN_PASSWORD)


def create_user(session: Session, username: str, password: str, role: str = "staff",
                card: str | None = None, pin: str | None = None) -> StaffUser:
    """Add a staff account with hashed password (and staff card + PIN if given); flush it."""
    if not USERNAME_RE.match(username or ""):
        raise AccountError(N_("The username must be 2-64 letters, digits or . _ @ -"))
    if role not in ROLES:
        raise AccountError(N_("The role must be one of %(roles)s"), roles=", ".join(ROLES))
    check_password_rules(password)
    if pin is not None and not PIN_RE.match(pin):
        raise AccountError(N_("The PIN must be 4 to 8 digits"))
    if (card is None) != (pin is None):
        raise AccountError(N_("A staff card needs a PIN, and a PIN needs a staff card"))
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        raise DuplicateAccount(N_("A user named %(name)s exists already"), name=username)
    if card and session.scalar(select(StaffUser.id).where(StaffUser.card == card)):
        raise DuplicateAccount(N_("That staff card belongs to another user"))
    user = StaffUser(username=username, password_hash=hash_secret(password), role=role,
                     card=card or None, pin_hash=hash_secret(pin) if pin else None,
                     failed_logins=0)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> StaffUser | None:
    """Return the staff account with this username, if any."""
    return session.scalar(select(StaffUser).where(StaffUser.username == username))


def _aware(when: dt.datetime | None) -> dt.datetime | None:
    if when is not None and when.tzinfo is None:  # SQLite gives naive UTC back
        return when.replace(tzinfo=dt.UTC)
    return when


def is_locked(user: StaffUser, now: dt.datetime | None = None) -> bool:
    """Return True while user's account is locked after too many failures."""
    until = _aware(user.locked_until)
    return until is not None and until > (now or utcnow())


def _check(session: Session, user: StaffUser | None, hash_attr: str, secret: str,
           policy: LockoutPolicy, now: dt.datetime | None,
           sleep: Callable[[float], None]) -> StaffUser:
    now = now or utcnow()
    if user is None:
        _verify(None, secret)
        sleep(policy.delay(1))
        raise LoginFailed(N_("Wrong username or password"))
    locked_until = _aware(user.locked_until)
    if locked_until and locked_until > now:
        raise AccountLocked(locked_until)
    if locked_until and (user.failed_logins or 0) >= policy.attempts:
        user.failed_logins = 0  # the lockout has run out: a fresh start
    hash_ = getattr(user, hash_attr)
    if _verify(hash_, secret):
        user.failed_logins = 0
        user.locked_until = None
        if hash_attr == "password_hash" and _hasher.check_needs_rehash(hash_):
            user.password_hash = hash_secret(secret)
        session.flush()
        return user
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= policy.attempts:
        user.locked_until = now + dt.timedelta(minutes=policy.minutes)
    session.flush()
    sleep(policy.delay(user.failed_logins))
    if user.locked_until and _aware(user.locked_until) > now:
        raise AccountLocked(_aware(user.locked_until))
    raise LoginFailed(N_("Wrong username or password"))


def authenticate(session: Session, username: str, password: str, policy: LockoutPolicy,
                 now: dt.datetime | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> StaffUser:
    """Return the user whose password this is; raise LoginFailed or AccountLocked.

    The failure count is flushed, not committed: the caller commits either way.
    """
    return _check(session, find_user(session, username.strip()), "password_hash", password,
                  policy, now, sleep)


def authenticate_card(session: Session, card: str, pin: str, policy: LockoutPolicy,
                      now: dt.datetime | None = None,
                      sleep: Callable[[float], None] = time.sleep) -> StaffUser:
    """Return the user with this staff card and PIN; raise LoginFailed or AccountLocked."""
    user = session.scalar(select(StaffUser).where(StaffUser.card == card.strip())) \
        if card.strip() else None
    return _check(session, user, "pin_hash", pin, policy, now, sleep)


def set_password(session: Session, user: StaffUser, password: str) -> None:
    """Give user a new password and lift any lockout."""
    check_password_rules(password)
    user.password_hash = hash_secret(password)
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
