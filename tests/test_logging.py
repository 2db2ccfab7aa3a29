"""Logs on stderr as journald keeps them: one line per event, level, station; no card numbers."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys

import pytest

from kiosk.systemd import OneLineFormatter

CARD = "N123456789"
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
                  r"\[Entrance 2\] [\w.]+: .+$")
SCRIPT = f"""
import logging
from kiosk import create_app
from kiosk.config import load
app = create_app(load())
station = app.extensions["station"]
station.handle_scan("{CARD}\\r\\n", "serial")
station.handle_scan("not a card", "keyboard")
log = logging.getLogger("kiosk.test")
log.info("two lines\\nin one message")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("a failure with a traceback")
"""


def run_station(tmp_path, database_url, level: str, **popen) -> str:
    """Run a scan in a fresh process configured at level; return what it wrote to stderr."""
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[station]\nname = "Entrance 2"\n[database]\nurl = "{database_url}"\n'
                      f'[logging]\nlevel = "{level}"\n')
    env = {**os.environ, "KIOSK_CONFIG": str(config), **popen.pop("env", {})}
    env.setdefault("JOURNAL_STREAM", "")
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, text=True,
                          stdout=subprocess.PIPE, stderr=popen.pop("stderr", subprocess.PIPE),
                          check=True, timeout=60)
    return done.stderr or ""


def test_one_line_per_event_with_level_and_station_no_card(tmp_path, database_url):
    lines = run_station(tmp_path, database_url, "INFO").splitlines()
    assert lines and all(LINE.match(line) for line in lines), lines
    assert sum("scan from serial" in line for line in lines) == 1
    assert any(" INFO [Entrance 2] kiosk.test: two lines | in one message" in line
               for line in lines)
    [failure] = [line for line in lines if "a failure with a traceback" in line]
    assert " ERROR " in failure and "ZeroDivisionError: division by zero" in failure
    # No card number at INFO.
    out = "\n".join(lines)
    assert CARD not in out and CARD[1:] not in out
    assert "*******789" in out  # the masked card says which scan it was


def test_card_number_only_in_debug_lines(tmp_path, database_url):
    lines = run_station(tmp_path, database_url, "DEBUG").splitlines()
    with_card = [line for line in lines if CARD in line]
    assert with_card and all(" DEBUG " in line for line in with_card)


def test_under_journald_lines_carry_the_priority(tmp_path, database_url):
    read, write = os.pipe()
    st = os.fstat(write)
    try:
        with os.fdopen(write, "w") as stderr:
            run_station(tmp_path, database_url, "INFO", stderr=stderr,
                        env={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        with os.fdopen(read) as fh:
            lines = fh.read().splitlines()
    finally:
        for fd in (read, write):
            try:
                os.close(fd)
            except OSError:
                pass
    assert lines and all(re.match(r"^<[2-7]>(INFO|WARNING|ERROR|DEBUG) \[Entrance 2\] ", line)
                         for line in lines), lines
    assert any(line.startswith("<3>ERROR") for line in lines)
    assert any(line.startswith("<6>INFO") for line in lines)


@pytest.mark.parametrize(("level", "prefix"), [(logging.DEBUG, "<7>"), (logging.INFO, "<6>"),
                                               (logging.WARNING, "<4>"), (25, "<6>"),
                                               (logging.CRITICAL, "<2>")])
def test_priorities(level, prefix):
    record = logging.LogRecord("kiosk", level, __file__, 1, "hello", None, None)
    assert OneLineFormatter(journal=True).format(record).startswith(prefix)
