"""The guarantees of kiosk.domain.staff_sessions: when a staff session ends.

On the real database, with the time passed in: idle too long ends a session (and says so);
logout everywhere, a new password, a new role, an unlock and removing the account end every
session of that user, and nobody else's.
"""

from __future__ import annotations

import pytest
import staff_helpers  # noqa: F401  (cheap argon2 parameters for the suite)

from kiosk.domain import accounts, staff_sessions
from kiosk.domain.staff_sessions import SEEN_STEP_S, SessionCheck, check_session

NOW = 1_800_000_000.0
TIMEOUT = 30 * 60


def check(session, user_id: int, generation: int, seen: float = NOW, now: float = NOW):
    return check_session(session, user_id, generation, seen, now, TIMEOUT)


@pytest.fixture
def kari(session):
    user = accounts.create_user(session, "kari", "long password")
    session.commit()
    return user


def test_a_fresh_session_of_the_current_generation_stands(session, kari):
    assert check(session, kari.id, 0) == SessionCheck(kari, timed_out=False, seen=None)


def test_a_session_idle_for_exactly_the_timeout_still_stands(session, kari):
    verdict = check(session, kari.id, 0, seen=NOW - TIMEOUT)
    assert verdict.user is kari and verdict.seen == int(NOW)


def test_a_session_idle_longer_than_the_timeout_ends_and_says_why(session, kari):
    verdict = check(session, kari.id, 0, seen=NOW - TIMEOUT - 1)
    assert verdict == SessionCheck(None, timed_out=True, seen=None)


def test_last_activity_is_recorded_once_the_step_has_passed_and_not_before(session, kari):
    assert SEEN_STEP_S == 30
    assert check(session, kari.id, 0, seen=NOW - 29.5).seen is None
    assert check(session, kari.id, 0, seen=NOW - 30, now=NOW + 0.75).seen == int(NOW)
    assert check(session, kari.id, 0, seen=NOW - 30).seen == int(NOW)
    assert check(session, kari.id, 0, seen=NOW - 31).seen == int(NOW)


def test_a_session_of_an_older_or_newer_generation_ends_without_saying_timeout(session, kari):
    for generation in (1, -1, None):
        assert check(session, kari.id, generation) == SessionCheck(None, timed_out=False)


def test_a_session_of_a_removed_account_ends(session, kari):
    user_id = kari.id
    accounts.remove_user(session, kari)
    session.commit()
    assert check(session, user_id, 0) == SessionCheck(None, timed_out=False)


def test_ending_the_sessions_raises_the_generation_by_one(session, kari):
    staff_sessions.end_sessions(kari)
    session.commit()
    assert kari.session_generation == 1
    assert check(session, kari.id, 0).user is None  # the old session
    assert check(session, kari.id, 1).user is kari  # a login after it
    staff_sessions.end_sessions(kari)  # and again: that login ends too
    session.commit()
    assert kari.session_generation == 2
    assert check(session, kari.id, 1).user is None
    assert check(session, kari.id, 2).user is kari


@pytest.mark.parametrize("change", [
    lambda s, u: staff_sessions.end_sessions(u),  # logout, everywhere
    lambda s, u: accounts.set_password(s, u, "another long password"),
    lambda s, u: accounts.set_role(s, u, "admin"),
    lambda s, u: accounts.unlock(s, u),
], ids=["logout", "password", "role", "unlock"])
def test_each_change_ends_every_session_of_that_user_and_no_one_elses(session, kari, change):
    ola = accounts.create_user(session, "ola", "long password")
    session.commit()
    before = kari.session_generation
    change(session, kari)
    session.commit()
    session.expire_all()  # read back what another station would see
    assert check(session, kari.id, before).user is None
    assert check(session, kari.id, before + 1).user.username == "kari"
    assert check(session, ola.id, 0).user.username == "ola"


def test_the_same_role_again_keeps_the_sessions(session, kari):
    accounts.set_role(session, kari, "staff")
    session.commit()
    assert check(session, kari.id, 0).user is kari
