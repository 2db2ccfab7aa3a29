"""Staff accounts: argon2 hashes, the lockout per account and address, staff card + PIN."""

from __future__ import annotations

import pytest
import staff_helpers  # noqa: F401  (cheap argon2 parameters for the suite)

from kiosk.domain import accounts
from kiosk.domain.accounts import AccountLocked, LockoutPolicy, LoginFailed, LoginThrottle
from kiosk.models import StaffUser


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(attempts: int = 3, minutes: int = 15, factor: int = 10):
    clock = Clock()
    return LoginThrottle(LockoutPolicy(attempts, minutes, factor), clock=clock), clock


def test_passwords_are_stored_as_argon2id_hashes(session):
    user = accounts.create_user(session, "kari", "long password", card="S1", pin="4711")
    assert user.password_hash.startswith("$argon2id$")
    assert "long password" not in user.password_hash
    assert user.pin_hash.startswith("$argon2id$") and user.pin_hash != user.password_hash
    assert user.role == "staff"


@pytest.mark.parametrize("kwargs, message", [
    ({"username": "k"}, "username"),
    ({"username": "kari smith"}, "username"),
    ({"password": "short"}, "at least 8"),
    ({"role": "boss"}, "role"),
    ({"card": "S1"}, "needs a PIN"),
    ({"card": "S1", "pin": "12ab"}, "4 to 8 digits"),
])
def test_bad_accounts_are_refused(session, kwargs, message):
    args = {"username": "kari", "password": "long password", **kwargs}
    with pytest.raises(accounts.AccountError, match=message):
        accounts.create_user(session, **args)
    assert session.query(StaffUser).count() == 0


def test_duplicates_are_refused(session):
    accounts.create_user(session, "kari", "long password", card="S1", pin="1234")
    with pytest.raises(accounts.DuplicateAccount):
        accounts.create_user(session, "kari", "other password")
    with pytest.raises(accounts.DuplicateAccount):
        accounts.create_user(session, "ola", "other password", card="S1", pin="1234")


def test_failures_lock_the_name_from_that_address_only_until_they_run_out(session):
    accounts.create_user(session, "kari", "long password")
    gate, clock = throttle(attempts=3, minutes=15)
    for _ in range(2):
        with pytest.raises(LoginFailed):
            accounts.authenticate(session, "kari", "wrong", gate, "10.0.0.9")
    with pytest.raises(AccountLocked) as locked:  # the third failure locks, from there
        accounts.authenticate(session, "kari", "wrong", gate, "10.0.0.9")
    assert locked.value.retry_after == 15 * 60
    with pytest.raises(AccountLocked):  # even the right password, and it is not checked
        accounts.authenticate(session, "kari", "long password", gate, "10.0.0.9")
    # the owner at the desk is not locked out by someone guessing elsewhere
    assert accounts.authenticate(session, "kari", "long password", gate, "10.0.0.2")
    clock.now += 15 * 60 + 1
    assert accounts.authenticate(session, "kari", "long password", gate, "10.0.0.9")


def test_many_addresses_lock_the_account_everywhere(session):
    accounts.create_user(session, "kari", "long password")
    gate, clock = throttle(attempts=3, factor=2)
    for address in ("10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        with pytest.raises(LoginFailed):
            accounts.authenticate(session, "kari", "wrong", gate, address)
    with pytest.raises(AccountLocked):  # the sixth failure reaches the per-account limit
        accounts.authenticate(session, "kari", "wrong", gate, "10.0.0.5")
    with pytest.raises(AccountLocked):
        accounts.authenticate(session, "kari", "long password", gate, "10.0.0.6")
    assert gate.locked(LoginThrottle.account_key("KARI "))
    user = accounts.find_user(session, "kari")
    accounts.unlock(session, user)  # a new generation: the counters start afresh
    assert accounts.authenticate(session, "kari", "long password", gate, "10.0.0.6")


def test_unknown_names_are_counted_and_refused_like_known_ones(session):
    accounts.create_user(session, "kari", "long password")
    gate, _ = throttle(attempts=2)
    answers = {}
    for name in ("kari", "nobody"):
        answers[name] = []
        for _ in range(3):
            with pytest.raises(accounts.AccountError) as exc:
                accounts.authenticate(session, name, "wrong", gate, "10.0.0.9")
            answers[name].append((type(exc.value), str(exc.value),
                                  getattr(exc.value, "retry_after", None)))
    assert answers["kari"] == answers["nobody"]
    assert [a[0] for a in answers["kari"]] == [LoginFailed, AccountLocked, AccountLocked]


def test_success_forgets_the_failures_from_that_address(session):
    accounts.create_user(session, "kari", "long password")
    gate, _ = throttle(attempts=2)
    with pytest.raises(LoginFailed):
        accounts.authenticate(session, "kari", "x", gate, "10.0.0.9")
    assert accounts.authenticate(session, "kari", "long password", gate, "10.0.0.9")
    with pytest.raises(LoginFailed):  # one failure again, not the second
        accounts.authenticate(session, "kari", "x", gate, "10.0.0.9")


def test_the_throttle_keeps_a_bounded_number_of_names():
    gate = LoginThrottle(LockoutPolicy(attempts=1), max_keys=100)
    for n in range(1000):
        gate.failed(LoginThrottle.account_key(f"made-up-{n}"), "10.0.0.9")
    assert len(gate._pair._keys) == 100 and len(gate._account._keys) == 100
    assert gate.refused(LoginThrottle.account_key("made-up-999"), "10.0.0.9")


def test_staff_card_and_pin(session):
    accounts.create_user(session, "kari", "long password", card="S0042", pin="4711")
    accounts.create_user(session, "ola", "long password")
    gate, _ = throttle(attempts=5)
    ip = "10.0.0.9"
    assert accounts.authenticate_card(session, " S0042 ", "4711", gate, ip).username == "kari"
    with pytest.raises(LoginFailed):
        accounts.authenticate_card(session, "S0042", "0000", gate, ip)
    with pytest.raises(LoginFailed):
        accounts.authenticate_card(session, "", "4711", gate, ip)  # no card: never ola's
    with pytest.raises(LoginFailed):  # a password is not a PIN
        accounts.authenticate_card(session, "S0042", "long password", gate, ip)


def test_password_role_and_unlock_raise_the_session_generation(session):
    user = accounts.create_user(session, "kari", "long password")
    assert user.session_generation == 0
    accounts.set_password(session, user, "brand new password")
    accounts.set_role(session, user, "admin")
    accounts.set_role(session, user, "admin")  # no change, sessions stay
    accounts.unlock(session, user)
    assert user.session_generation == 3
    with pytest.raises(accounts.AccountError):
        accounts.set_role(session, user, "boss")
    gate, _ = throttle()
    assert accounts.authenticate(session, "kari", "brand new password", gate, "10.0.0.9")
