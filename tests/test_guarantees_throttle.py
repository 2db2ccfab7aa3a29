"""The guarantees of kiosk.domain.throttle (the lockout per account and address).

On a clock the test moves by hand: nothing sleeps, every boundary is exact.
"""

from __future__ import annotations

import pytest

from kiosk.domain.throttle import LockoutPolicy, LoginThrottle

KARI = LoginThrottle.account_key("kari")
HERE, THERE = "10.0.0.9", "10.0.0.2"
WINDOW = 15 * 60


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(attempts: int = 3, factor: int = 10, max_keys: int = 20_000):
    clock = Clock()
    return LoginThrottle(LockoutPolicy(attempts, 15, factor), max_keys, clock=clock), clock


def fail(gate: LoginThrottle, times: int, account: str = KARI, address: str = HERE) -> None:
    for _ in range(times):
        gate.failed(account, address)


def test_the_default_policy_is_five_failures_in_fifteen_minutes_and_fifty_from_everywhere():
    policy = LockoutPolicy()
    assert (policy.attempts, policy.minutes, policy.account_factor) == (5, 15, 10)
    assert policy.window_s == 900.0
    gate = LoginThrottle(policy)
    fail(gate, 4)
    assert gate.refused(KARI, HERE) is None
    fail(gate, 1)
    assert gate.refused(KARI, HERE) == pytest.approx(900.0, abs=5)
    for n in range(44):
        gate.failed(KARI, f"10.1.0.{n}")
    assert not gate.locked(KARI)
    gate.failed(KARI, "10.2.0.1")
    assert gate.locked(KARI)


def test_the_name_is_free_below_the_limit_and_refused_at_it():
    gate, _ = throttle(attempts=3)
    fail(gate, 2)
    assert gate.refused(KARI, HERE) is None
    fail(gate, 1)
    assert gate.refused(KARI, HERE) == WINDOW


def test_the_wait_runs_from_the_oldest_failure_that_counts():
    gate, clock = throttle(attempts=3)
    for step in (0, 100, 100, 100):  # four failures at 1000, 1100, 1200, 1300
        clock.now += step
        gate.failed(KARI, HERE)
    # the last three count (1100, 1200, 1300): free again 900 s after 1100
    assert gate.refused(KARI, HERE) == 1100 + WINDOW - 1300
    clock.now = 1100 + WINDOW - 0.25  # less than a second left: still at least one second
    assert gate.refused(KARI, HERE) == 1.0
    clock.now = 1100 + WINDOW  # the failure is exactly a window old: it no longer counts
    assert gate.refused(KARI, HERE) is None
    fail(gate, 1)  # two fresh ones and this: the limit again
    assert gate.refused(KARI, HERE) == 1200 + WINDOW - clock.now


def test_failures_older_than_the_window_are_forgotten_and_their_memory_freed():
    gate, clock = throttle(attempts=3)
    fail(gate, 3)
    clock.now += WINDOW - 1
    assert gate.refused(KARI, HERE) == 1.0
    clock.now += 1
    assert gate.refused(KARI, HERE) is None
    assert gate._pair._keys == {} and gate._account._keys == {}
    fail(gate, 2)
    assert gate.refused(KARI, HERE) is None  # a fresh count, not the old three plus two


def test_a_key_keeps_no_more_failure_times_than_its_limit():
    gate, _ = throttle(attempts=3, factor=2)
    fail(gate, 50)
    assert [len(t) for t in gate._pair._keys.values()] == [3]
    assert [len(t) for t in gate._account._keys.values()] == [6]


def test_the_per_account_limit_is_attempts_times_the_factor():
    gate, _ = throttle(attempts=3, factor=4)
    for n in range(11):
        gate.failed(KARI, f"10.1.0.{n}")
    assert not gate.locked(KARI) and gate.refused(KARI, THERE) is None
    gate.failed(KARI, "10.1.0.99")
    assert gate.locked(KARI) and gate.refused(KARI, THERE) == WINDOW


def test_the_longer_of_the_two_waits_is_the_one_given():
    gate, clock = throttle(attempts=2, factor=2)
    gate.failed(KARI, "10.1.0.1")
    gate.failed(KARI, "10.1.0.2")
    clock.now += 300
    fail(gate, 2)  # the pair's wait: 900 s; the account's (its oldest two at 1000): 600 s
    assert gate.refused(KARI, HERE) == WINDOW
    clock.now += 700  # the pair's first failure still counts; the account's 1000 ones do not
    assert gate.refused(KARI, HERE) == 200


def test_success_forgets_the_failures_from_that_address_only():
    gate, _ = throttle(attempts=3, factor=3)
    fail(gate, 2)
    fail(gate, 2, address=THERE)
    gate.succeeded(KARI, HERE)
    fail(gate, 2)
    assert gate.refused(KARI, HERE) is None  # two since the success, not four
    fail(gate, 1, address=THERE)  # the failures from elsewhere are kept: three there now
    assert gate.refused(KARI, THERE) == WINDOW
    # and so is the per-account count: 7 so far, the ninth locks the account everywhere
    gate.failed(KARI, "10.0.0.3")
    assert not gate.locked(KARI)
    gate.failed(KARI, "10.0.0.4")
    assert gate.locked(KARI) and gate.refused(KARI, "10.0.0.5") == WINDOW


def test_other_names_and_other_addresses_are_not_refused():
    gate, _ = throttle(attempts=3)
    fail(gate, 3)
    assert gate.refused(KARI, HERE) is not None
    assert gate.refused(KARI, THERE) is None
    assert gate.refused(LoginThrottle.account_key("ola"), HERE) is None
    assert not gate.locked(KARI)


def test_account_keys_ignore_case_and_spaces_but_not_the_generation():
    assert LoginThrottle.account_key(" KARI\t") == LoginThrottle.account_key("kari")
    assert LoginThrottle.account_key("Straße") == LoginThrottle.account_key("STRASSE")
    assert LoginThrottle.account_key("kari", 1) != LoginThrottle.account_key("kari", 0)
    assert LoginThrottle.account_key("kari") == LoginThrottle.account_key("kari", 0)
    assert LoginThrottle.account_key("ka", 11) != LoginThrottle.account_key("ka1", 1)


def test_a_busy_name_is_not_the_one_forgotten_when_the_memory_is_full():
    gate, _ = throttle(attempts=2, max_keys=3)
    fail(gate, 1)
    for name in ("a1", "a2"):
        fail(gate, 1, account=name)
    fail(gate, 1)  # kari again: now the most recent
    fail(gate, 1, account="a3")  # one key too many: the oldest (a1) goes, not kari
    assert gate.refused(KARI, HERE) == WINDOW
    assert list(gate._account._keys) == ["a2", KARI, "a3"]
    assert gate.refused("a1", HERE) is None
