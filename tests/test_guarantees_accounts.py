"""The guarantees of kiosk.domain.accounts, each pinned where a mutant of it survived.

Real argon2id (the suite's cheap profile) on the real database; the throttle runs on a
clock the test moves, so nothing sleeps.
"""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
import staff_helpers  # noqa: F401  (cheap argon2 parameters for the suite)
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST

from kiosk.domain import accounts
from kiosk.domain.accounts import AccountLocked, LockoutPolicy, LoginFailed, LoginThrottle
from kiosk.domain.messages import fill
from kiosk.models import StaffUser

IP = "10.0.0.9"
TRANSLATIONS = Path(accounts.__file__).parents[1] / "translations"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gate(attempts: int = 3) -> LoginThrottle:
    return LoginThrottle(LockoutPolicy(attempts, 15, 10), clock=Clock())


class CountingHasher(PasswordHasher):
    """The suite's hasher, counting the hashes it verifies (the cost of an answer)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.verified = 0

    def verify(self, hash, password):
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def counting():
    previous = accounts._hasher
    hasher = CountingHasher.from_parameters(CHEAPEST)
    accounts.use_hasher(hasher)
    yield hasher
    accounts.use_hasher(previous)


def test_the_dummy_password_opens_no_unknown_name(session):
    # an unknown name is checked against a hash of a fixed text: that text must not let in
    with pytest.raises(LoginFailed):
        accounts.authenticate(session, "nobody", "not a real password", gate(), IP)


def test_an_unknown_name_costs_one_hash_like_a_known_one(session, counting):
    accounts.create_user(session, "kari", "long password")
    for name in ("kari", "nobody"):
        counting.verified = 0
        with pytest.raises(LoginFailed):
            accounts.authenticate(session, name, "wrong password", gate(), IP)
        assert counting.verified == 1, name


def test_a_locked_name_is_refused_without_computing_a_hash(session, counting):
    accounts.create_user(session, "kari", "long password")
    throttle = gate(attempts=2)
    for _ in range(2):
        with pytest.raises(accounts.AccountError):
            accounts.authenticate(session, "kari", "wrong password", throttle, IP)
    counting.verified = 0
    with pytest.raises(AccountLocked) as locked:
        accounts.authenticate(session, "kari", "long password", throttle, IP)
    assert counting.verified == 0 and locked.value.retry_after == 15 * 60


def test_a_locked_account_stays_locked_for_the_right_password(session):
    accounts.create_user(session, "kari", "long password")
    throttle = gate(attempts=2)
    with pytest.raises(LoginFailed):
        accounts.authenticate(session, "kari", "wrong password", throttle, IP)
    with pytest.raises(AccountLocked):  # the failure that reaches the limit says so at once
        accounts.authenticate(session, "kari", "wrong password", throttle, IP)
    for _ in range(3):
        with pytest.raises(AccountLocked):
            accounts.authenticate(session, "kari", "long password", throttle, IP)


@pytest.mark.parametrize("password, ok", [("1234567", False), ("12345678", True)])
def test_a_password_needs_at_least_eight_characters(session, password, ok):
    if ok:
        accounts.create_user(session, "kari", password)
        accounts.check_password_rules(password)
        return
    with pytest.raises(accounts.AccountError, match="at least 8"):
        accounts.create_user(session, "kari", password)
    user = accounts.create_user(session, "kari", "long password")
    with pytest.raises(accounts.AccountError, match="at least 8"):
        accounts.set_password(session, user, password)
    assert accounts.authenticate(session, "kari", "long password", gate(), IP) is user


@pytest.mark.parametrize("name, ok", [
    ("ka", True), ("k" * 64, True), ("k" * 65, False), ("k", False), ("", False),
    ("kari.n_o-r@lib", True), ("0kari", True), (".kari", False), ("-kari", False),
    ("kari nordmann", False), ("kari/x", False), ("kåri", False), ("kari\n", False),
])
def test_usernames_are_two_to_sixty_four_plain_characters(session, name, ok):
    if ok:
        assert accounts.create_user(session, name, "long password").username == name
    else:
        with pytest.raises(accounts.AccountError, match="username"):
            accounts.create_user(session, name, "long password")
        assert session.query(StaffUser).count() == 0


@pytest.mark.parametrize("pin, ok", [
    ("1234", True), ("12345678", True), ("123", False), ("123456789", False),
    ("12a4", False), ("1234\n", False), (" 1234", False), ("\u0661\u0662\u0663\u0664", False),
])
def test_a_pin_is_four_to_eight_digits(session, pin, ok):
    if ok:
        user = accounts.create_user(session, "kari", "long password", card="S1", pin=pin)
        assert accounts.authenticate_card(session, "S1", pin, gate(), IP) is user
    else:
        with pytest.raises(accounts.AccountError, match="4 to 8 digits"):
            accounts.create_user(session, "kari", "long password", card="S1", pin=pin)


def test_a_pin_needs_a_staff_card(session):
    with pytest.raises(accounts.AccountError, match="needs a staff card"):
        accounts.create_user(session, "kari", "long password", pin="4711")
    assert session.query(StaffUser).count() == 0


def test_an_account_without_a_card_has_no_card_and_no_pin(session):
    user = accounts.create_user(session, "kari", "long password")
    assert user.card is None and user.pin_hash is None
    with pytest.raises(LoginFailed):
        accounts.authenticate_card(session, "", "", gate(), IP)


def test_the_username_is_taken_without_the_spaces_around_it(session):
    user = accounts.create_user(session, "kari", "long password")
    assert accounts.authenticate(session, "  kari\t", "long password", gate(), IP) is user
    assert accounts.find_user(session, "kari") is user
    assert accounts.find_user(session, "Kari") is None


def test_an_outdated_password_hash_is_renewed_at_login(session):
    user = accounts.create_user(session, "kari", "long password", card="S1", pin="4711")
    old_password, old_pin = user.password_hash, user.pin_hash
    previous = accounts._hasher
    accounts.use_hasher(PasswordHasher(time_cost=1, memory_cost=16, parallelism=2))
    try:
        assert accounts.authenticate(session, "kari", "long password", gate(), IP) is user
        assert user.password_hash != old_password and "p=2" in user.password_hash
        assert accounts.authenticate(session, "kari", "long password", gate(), IP) is user
    finally:
        accounts.use_hasher(previous)
    assert old_pin == user.pin_hash


def test_a_card_login_never_turns_the_pin_into_the_password(session):
    user = accounts.create_user(session, "kari", "long password", card="S1", pin="4711")
    old_password, old_pin = user.password_hash, user.pin_hash
    previous = accounts._hasher
    accounts.use_hasher(PasswordHasher(time_cost=1, memory_cost=16, parallelism=2))
    try:
        assert accounts.authenticate_card(session, "S1", "4711", gate(), IP) is user
    finally:
        accounts.use_hasher(previous)
    assert (user.password_hash, user.pin_hash) == (old_password, old_pin)
    with pytest.raises(LoginFailed):
        accounts.authenticate(session, "kari", "4711", gate(), IP)
    assert accounts.authenticate(session, "kari", "long password", gate(), IP) is user


def test_a_new_hasher_makes_a_new_dummy_hash(session):
    # the dummy hash follows the hasher, so an unknown name costs what a known one does
    previous = accounts._hasher
    accounts.use_hasher(PasswordHasher(time_cost=1, memory_cost=16, parallelism=2))
    try:
        with pytest.raises(LoginFailed):
            accounts.authenticate(session, "nobody", "x", gate(), IP)
        assert "p=2" in accounts._dummy_hash
    finally:
        accounts.use_hasher(previous)
    assert accounts._dummy_hash is None


def test_a_failed_role_change_changes_nothing(session):
    user = accounts.create_user(session, "kari", "long password")
    with pytest.raises(accounts.AccountError, match="role must be one of staff, admin"):
        accounts.set_role(session, user, "boss")
    assert (user.role, user.session_generation) == ("staff", 0)


def test_a_removed_account_is_gone_and_cannot_log_in(session):
    user = accounts.create_user(session, "kari", "long password", card="S1", pin="4711")
    accounts.remove_user(session, user)
    assert accounts.find_user(session, "kari") is None
    with pytest.raises(LoginFailed):
        accounts.authenticate(session, "kari", "long password", gate(), IP)
    with pytest.raises(LoginFailed):
        accounts.authenticate_card(session, "S1", "4711", gate(), IP)


def test_a_new_account_gets_the_role_it_was_given(session):
    accounts.create_user(session, "anne", "long password", role="admin")
    session.commit()
    session.expire_all()
    assert accounts.find_user(session, "anne").role == "admin"


def test_a_staff_card_locked_from_one_address_still_opens_at_another(session):
    user = accounts.create_user(session, "kari", "long password", card="S1", pin="4711")
    throttle = gate(attempts=2)
    for _ in range(2):
        with pytest.raises(accounts.AccountError):
            accounts.authenticate_card(session, "S1", "0000", throttle, IP)
    with pytest.raises(AccountLocked):
        accounts.authenticate_card(session, "S1", "4711", throttle, IP)
    assert accounts.authenticate_card(session, "S1", "4711", throttle, "10.0.0.2") is user
    # and the card's count is its own: the password login of the same user is not locked
    assert accounts.authenticate(session, "kari", "long password", throttle, IP) is user


def _refusals(session) -> list[accounts.AccountError]:
    """Provoke every refusal of the module once; return the errors raised."""
    caught = []

    def expect(call):
        with pytest.raises(accounts.AccountError) as exc:
            call()
        caught.append(exc.value)

    create = accounts.create_user
    expect(lambda: create(session, "k", "long password"))
    expect(lambda: create(session, "kari", "long password", role="boss"))
    expect(lambda: create(session, "kari", "short"))
    expect(lambda: create(session, "kari", "long password", card="S1", pin="12"))
    expect(lambda: create(session, "kari", "long password", card="S1"))
    user = create(session, "kari", "long password", card="S1", pin="4711")
    expect(lambda: create(session, "kari", "long password"))
    expect(lambda: create(session, "ola", "long password", card="S1", pin="1234"))
    expect(lambda: accounts.set_role(session, user, "boss"))
    throttle = gate(attempts=2)
    expect(lambda: accounts.authenticate(session, "kari", "wrong password", throttle, IP))
    expect(lambda: accounts.authenticate(session, "kari", "wrong password", throttle, IP))
    expect(lambda: accounts.authenticate(session, "kari", "long password", throttle, IP))
    return caught


def test_every_refusal_says_why_in_english_and_in_the_staff_languages(session):
    errors = _refusals(session)
    assert [str(e) for e in errors] == [
        "The username must be 2-64 letters, digits or . _ @ -",
        "The role must be one of staff, admin",
        "The password must have at least 8 characters",
        "The PIN must be 4 to 8 digits",
        "A staff card needs a PIN, and a PIN needs a staff card",
        "A user named kari exists already",
        "That staff card belongs to another user",
        "The role must be one of staff, admin",
        "Wrong username or password",
        "Too many failed attempts; the account is locked for a while",
        "Too many failed attempts; the account is locked for a while",
    ]
    for language in ("nb", "nn"):
        catalogue = gettext.translation("messages", TRANSLATIONS, languages=[language])
        for error in errors:
            translated = catalogue.gettext(error.template)
            assert translated != error.template, (language, error.template)
            assert "%(" not in fill(translated, error.params), (language, error.template)
