"""KIOSK_TEST_TODAY: run the whole suite with the process clock moved to another day.

The value is an ISO date (10:00 in the test zone), a wall-clock time in the test zone
(2026-12-25T10:00) or a moment with its offset (2026-12-08T23:30Z). The clock starts there
and ticks on (time-machine, tick=True), in this process and its threads and, through a
`sitecustomize` on PYTHONPATH, in the Python child processes the tests start (a station
served by `kiosk serve`), shifted by the same amount, so parent and child agree on the day.
Programs that are not Python (Chromium, nginx, openssl) keep the real day.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

SHIFT = "KIOSK_TEST_CLOCK_SHIFT"  # seconds from the real clock to the moved one
CHILD_CLOCK = f'''"""Keep a KIOSK_TEST_TODAY run's moved clock in this child process."""
import os
import time

try:
    import time_machine
except ImportError:  # a Python without it keeps the real day
    time_machine = None
if time_machine is not None and os.environ.get("{SHIFT}"):
    time_machine.travel(time.time() + float(os.environ["{SHIFT}"]), tick=True).start()
'''

_moved: time_machine.travel | None = None
_folder: Path | None = None


def moment(text: str, zone: str) -> dt.datetime:
    """Return the moment text names, aware and in zone; a bare date means 10:00 there."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise pytest.UsageError(f"KIOSK_TEST_TODAY={text!r}: not an ISO date or date-time "
                                "(2026-12-25, 2026-12-25T10:00, 2026-12-08T23:30Z)") from None
    if len(text.strip()) == 10:
        when = when.replace(hour=10)
    # in the zone's own terms: time-machine sets TZ=UTC for a destination given in UTC
    tz = ZoneInfo(zone)
    return when.astimezone(tz) if when.tzinfo else when.replace(tzinfo=tz)


def start(text: str, zone: str) -> None:
    """Move this process's clock, and its future Python children's, to text's moment."""
    global _moved, _folder
    when = moment(text, zone)
    _folder = Path(tempfile.mkdtemp(prefix="kiosk-test-clock-"))
    (_folder / "sitecustomize.py").write_text(CHILD_CLOCK)
    os.environ[SHIFT] = repr(when.timestamp() - time.time())
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_folder), os.environ.get("PYTHONPATH")) if p)
    _moved = time_machine.travel(when, tick=True)
    _moved.start()


def stop() -> None:
    """Give the process its real clock back and remove the children's sitecustomize."""
    if _moved is not None:
        _moved.stop()
    if _folder is not None:
        shutil.rmtree(_folder, ignore_errors=True)
