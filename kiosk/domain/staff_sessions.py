"""Whether a staff session still stands: the idle timeout, and revocation by generation.

A staff session lives in a signed cookie (kept by kiosk.staff.auth) that carries the
account's id, the account's session generation at login and the time of its last activity.
A signed cookie cannot be revoked, but the number it carries can go stale: `end_sessions`
raises the account's generation, and every session that started before no longer matches.
Logout (everywhere), a new password, a new role and an unlock do that
(kiosk.domain.accounts); removing the account leaves nothing to match. This module only
decides; the cookie is the web layer's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from kiosk.models import StaffUser

# Last activity is recorded to this many seconds: requests that change nothing else within
# it leave the cookie alone.
SEEN_STEP_S = 30


@dataclass(frozen=True)
class SessionCheck:
    """The verdict on a staff session: its user, or None (ended), and what to record."""

    user: StaffUser | None
    timed_out: bool = False  # ended for being idle too long (the login page says so)
    seen: int | None = None  # the new last-activity time to store; None: store nothing


def check_session(session: Session, staff_id: int, generation: int | None, seen: float,
                  now: float, timeout_s: float) -> SessionCheck:
    """Return whether the session of staff_id, at generation, last active at seen, stands."""
    if now - seen > timeout_s:
        return SessionCheck(None, timed_out=True)
    user = session.get(StaffUser, staff_id)
    if user is None or user.session_generation != generation:
        return SessionCheck(None)
    return SessionCheck(user, seen=int(now) if now - seen >= SEEN_STEP_S else None)


def end_sessions(user: StaffUser) -> None:
    """End every session of user at once (they carry the old generation); lift lockouts."""
    user.session_generation += 1
