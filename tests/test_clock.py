"""The station's one clock, and the switch that runs the suite on another day."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time

import clock_switch
import pytest
import time_machine
from days import OSLO, oslo

from kiosk import clock
from kiosk.models import utcnow


@pytest.mark.time_machine(dt.datetime(2026, 12, 8, 23, 30, tzinfo=OSLO), tick=False)
def test_every_reading_of_the_clock_is_the_same_moment(in_oslo):
    assert clock.now() == utcnow() == dt.datetime(2026, 12, 8, 22, 30, tzinfo=dt.UTC)
    assert clock.now().tzinfo is dt.UTC
    assert clock.local_now().utcoffset() == dt.timedelta(hours=1)
    assert clock.timestamp() == dt.datetime(2026, 12, 8, 22, 30, tzinfo=dt.UTC).timestamp()


def test_today_is_the_date_on_the_stations_wall_not_the_utc_date(in_oslo, time_machine):
    # 23:30 UTC on Tuesday 8 December 2026 is 00:30 on Wednesday 9 in Oslo
    time_machine.move_to(dt.datetime(2026, 12, 8, 23, 30, tzinfo=dt.UTC).astimezone(OSLO),
                         tick=False)
    assert clock.today() == dt.date(2026, 12, 9)
    assert clock.now().date() == dt.date(2026, 12, 8)


@pytest.mark.parametrize("text, meant", [
    ("2026-12-25", oslo(2026, 12, 25, 10, 0)),
    ("2026-12-25T07:15", oslo(2026, 12, 25, 7, 15)),
    ("2026-12-08T23:30Z", oslo(2026, 12, 9, 0, 30)),
    ("2027-03-28T00:55+00:00", oslo(2027, 3, 28, 1, 55)),
])
def test_the_switch_reads_a_day_a_wall_clock_time_or_a_moment(text, meant):
    found = clock_switch.moment(text, "Europe/Oslo")
    assert found == meant and found.tzinfo == OSLO  # never UTC: time-machine would set TZ=UTC


def test_the_switch_refuses_what_is_no_date():
    with pytest.raises(pytest.UsageError, match="KIOSK_TEST_TODAY='25.12.2026'"):
        clock_switch.moment("25.12.2026", "Europe/Oslo")


def test_a_python_child_process_follows_a_moved_clock(tmp_path, monkeypatch):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(clock_switch.CHILD_CLOCK)
    monkeypatch.setenv("PYTHONPATH", str(folder))
    # from the real clock, as the switch does, also in a run the switch has moved
    hatch = time_machine.escape_hatch
    real = hatch.time.time() if hatch.is_travelling() else time.time()
    shift = oslo(2027, 3, 29, 10, 0).timestamp() - real
    monkeypatch.setenv(clock_switch.SHIFT, repr(shift))
    out = subprocess.run([sys.executable, "-c", "import datetime; print(datetime.date.today())"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2027-03-29" and out.stderr == ""
