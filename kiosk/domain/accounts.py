"""Staff accounts: argon2-hashed passwords and PINs, logins throttled per account and address.

Whether a name may be tried at all is the LoginThrottle's decision (kiosk.domain.throttle),
taken before any hash is computed; an unknown name costs the same hash and the same answer
as a known one. Nothing here sleeps: a request thread never waits out a penalty.
Each account has a session generation; raising it ends all of that user's sessions
(kiosk.domain.staff_sessions).
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.domain.messages import N_, StationError
from kiosk.domain.staff_sessions import end_sessions
from kiosk.domain.throttle import LockoutPolicy, LoginThrottle
from kiosk.models import StaffUser

__all__ = ["LockoutPolicy", "LoginThrottle"]  # re-exported: the lockout's names live here too

ROLES = ("staff", "admin")
USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{1,63}")  # fullmatch: no "\n" at the end
PIN_RE = re.compile(r"[0-9]{4,8}")  # fullmatch; ASCII digits only
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
    """Too many failures for this name (from this address, or from everywhere)."""

    def __init__(self, retry_after: float):
        super().__init__(N_("Too many failed attempts; the account is locked for a while"))
        self.retry_after = retry_after


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
    if not USERNAME_RE.fullmatch(username or ""):
        raise AccountError(N_("The username must be 2-64 letters, digits or . _ @ -"))
    if role not in ROLES:
        raise AccountError(N_("The role must be one of %(roles)s"), roles=", ".join(ROLES))
    check_password_rules(password)
    if pin is not None and not PIN_RE.fullmatch(pin):
        raise AccountError(N_("The PIN must be 4 to 8 digits"))
    if (card is None) != (pin is None):
        raise AccountError(N_("A staff card needs a PIN, and a PIN needs a staff card"))
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        raise DuplicateAccount(N_("A user named %(name)s exists already"), name=username)
    if card and session.scalar(select(StaffUser.id).where(StaffUser.card == card)):
        raise DuplicateAccount(N_("That staff card belongs to another user"))
    user = StaffUser(username=username, password_hash=hash_secret(password), role=role,
                     card=card or None, pin_hash=hash_secret(pin) if pin else None)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> StaffUser | None:
    """Return the staff account with this username, if any."""
    return session.scalar(select(StaffUser).where(StaffUser.username == username))


def _check(user: StaffUser | None, name: str, hash_attr: str, secret: str,
           throttle: LoginThrottle, address: str) -> StaffUser:
    key = LoginThrottle.account_key(name, user.session_generation if user else 0)
    wait = throttle.refused(key, address)
    if wait is not None:  # no hash at all: a locked name costs nothing to refuse
        raise AccountLocked(wait)
    hash_ = getattr(user, hash_attr) if user is not None else None
    if _verify(hash_, secret):
        throttle.succeeded(key, address)
        if hash_attr == "password_hash" and _hasher.check_needs_rehash(hash_):
            user.password_hash = hash_secret(secret)
        return user
    throttle.failed(key, address)
    wait = throttle.refused(key, address)
    if wait is not None:
        raise AccountLocked(wait)
    raise LoginFailed(N_("Wrong username or password"))


def authenticate(session: Session, username: str, password: str, throttle: LoginThrottle,
                 address: str) -> StaffUser:
    """Return the user whose password this is; raise LoginFailed or AccountLocked."""
    name = username.strip()
    return _check(find_user(session, name), name, "password_hash", password, throttle, address)


def authenticate_card(session: Session, card: str, pin: str, throttle: LoginThrottle,
                      address: str) -> StaffUser:
    """Return the user with this staff card and PIN; raise LoginFailed or AccountLocked."""
    card = card.strip()
    user = session.scalar(select(StaffUser).where(StaffUser.card == card)) if card else None
    return _check(user, "card:" + card, "pin_hash", pin, throttle, address)


def set_password(session: Session, user: StaffUser, password: str) -> None:
    """Give user a new password; every session of theirs ends and any lockout is lifted."""
    check_password_rules(password)
    user.password_hash = hash_secret(password)
    end_sessions(user)
    session.flush()


def set_role(session: Session, user: StaffUser, role: str) -> None:
    """Give user another role; every session of theirs ends."""
    if role not in ROLES:
        raise AccountError(N_("The role must be one of %(roles)s"), roles=", ".join(ROLES))
    if role != user.role:
        user.role = role
        end_sessions(user)
    session.flush()


def unlock(session: Session, user: StaffUser) -> None:
    """Lift a lockout of user (their failure counts start afresh); their sessions end."""
    end_sessions(user)
    session.flush()


def remove_user(session: Session, user: StaffUser) -> None:
    """Remove a staff account; its sessions end with it."""
    session.delete(user)
    session.flush()
