"""Staff accounts: argon2 hashes, slow-down, lockout and its end, staff card + PIN."""

from __future__ import annotations

import datetime as dt

import pytest
import staff_helpers  # noqa: F401  (cheap argon2 parameters for the suite)

from kiosk.domain import accounts
from kiosk.domain.accounts import AccountLocked, LockoutPolicy, LoginFailed
from kiosk.models import StaffUser

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class Sleeps(list):
    """Record the delays asked for instead of sleeping through them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


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


def test_delay_doubles_and_is_capped():
    policy = LockoutPolicy(base_delay_s=0.25, max_delay_s=2.0)
    assert [policy.delay(n) for n in range(0, 7)] == [0, 0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert LockoutPolicy(base_delay_s=0).delay(5) == 0


def test_wrong_passwords_slow_down_then_lock_then_the_lock_runs_out(session):
    accounts.create_user(session, "kari", "long password")
    policy = LockoutPolicy(attempts=3, minutes=15, base_delay_s=0.25)
    sleeps = Sleeps()
    for _ in range(2):
        with pytest.raises(LoginFailed):
            accounts.authenticate(session, "kari", "wrong", policy, now=T0, sleep=sleeps)
    with pytest.raises(AccountLocked) as locked:
        accounts.authenticate(session, "kari", "wrong", policy, now=T0, sleep=sleeps)
    assert sleeps == [0.25, 0.5, 1.0]
    assert locked.value.until == T0 + dt.timedelta(minutes=15)
    # while locked even the right password is refused, and not checked at all
    with pytest.raises(AccountLocked):
        accounts.authenticate(session, "kari", "long password", policy,
                              now=T0 + dt.timedelta(minutes=14), sleep=sleeps)
    assert len(sleeps) == 3
    user = accounts.authenticate(session, "kari", "long password", policy,
                                 now=T0 + dt.timedelta(minutes=16), sleep=sleeps)
    assert user.failed_logins == 0 and user.locked_until is None


def test_after_the_lock_a_single_failure_does_not_lock_again(session):
    accounts.create_user(session, "kari", "long password")
    policy = LockoutPolicy(attempts=2, minutes=5, base_delay_s=0)
    for _ in range(2):
        with pytest.raises(accounts.AccountError):
            accounts.authenticate(session, "kari", "x", policy, now=T0)
    later = T0 + dt.timedelta(minutes=6)
    with pytest.raises(LoginFailed):
        accounts.authenticate(session, "kari", "x", policy, now=later)
    assert not accounts.is_locked(accounts.find_user(session, "kari"), later)


def test_success_resets_the_failure_count(session):
    accounts.create_user(session, "kari", "long password")
    policy = LockoutPolicy(attempts=3, base_delay_s=0)
    with pytest.raises(LoginFailed):
        accounts.authenticate(session, "kari", "x", policy, now=T0)
    assert accounts.authenticate(session, "kari", "long password", policy).failed_logins == 0


def test_unknown_user_fails_like_a_wrong_password_and_waits_too(session):
    sleeps = Sleeps()
    with pytest.raises(LoginFailed, match="Wrong username or password"):
        accounts.authenticate(session, "nobody", "x", LockoutPolicy(), sleep=sleeps)
    assert sleeps == [0.25]


def test_staff_card_and_pin(session):
    accounts.create_user(session, "kari", "long password", card="S0042", pin="4711")
    accounts.create_user(session, "ola", "long password")
    policy = LockoutPolicy(base_delay_s=0)
    assert accounts.authenticate_card(session, " S0042 ", "4711", policy).username == "kari"
    with pytest.raises(LoginFailed):
        accounts.authenticate_card(session, "S0042", "0000", policy)
    with pytest.raises(LoginFailed):
        accounts.authenticate_card(session, "", "4711", policy)  # no card: never ola's
    with pytest.raises(LoginFailed):  # a password is not a PIN
        accounts.authenticate_card(session, "S0042", "long password", policy)


def test_set_password_lifts_the_lock(session):
    user = accounts.create_user(session, "kari", "long password")
    user.failed_logins, user.locked_until = 9, T0 + dt.timedelta(days=1)
    accounts.set_password(session, user, "brand new password")
    assert not accounts.is_locked(user, T0)
    assert accounts.authenticate(session, "kari", "brand new password",
                                 LockoutPolicy(base_delay_s=0)).username == "kari"
