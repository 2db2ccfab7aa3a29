"""Times as staff read them: the database keeps UTC, pages show the station's own zone.

SQLite gives stored times back naive (they are UTC); PostgreSQL gives them aware in the
server's zone. Either way a page shows the time of the station's zone (the machine's,
`TZ` or /etc/localtime: Europe/Oslo in Bærum), so "packed 14:05" is the clock on the wall.
"""

from __future__ import annotations

import datetime as dt


def local(value: dt.datetime | None) -> dt.datetime | None:
    """Return value (aware, or naive UTC from the database) in the station's zone."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone()


def local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Format value in the station's zone; "" for no time (a Jinja filter: `localtime`)."""
    moment = local(value)
    return moment.strftime(fmt) if moment is not None else ""
