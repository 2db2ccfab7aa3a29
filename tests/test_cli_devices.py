"""`kiosk scanner-test` on a real pseudo-terminal, `kiosk printer-test` on a loopback printer."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from kiosk.cli import cli
from tests.test_printer import CODE128, CP865, PAPER_LOW, PAPER_OUT, PrinterStandIn

RUN_CLI = "import sys; from kiosk.cli import main; sys.exit(main())"


def write_config(tmp_path, body: str):
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/k.db"\n{body}', encoding="utf-8")
    return path


def kiosk(config, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-c", RUN_CLI, "--config", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.fixture
def pty():
    master, slave = os.openpty()
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_scanner_test_shows_each_scan_with_raw_bytes(tmp_path, pty):
    master, port = pty
    config = write_config(tmp_path, f'[scanner]\nkind = "serial"\nport = "{port}"\n')
    proc = kiosk(config, "scanner-test", "--count", "3", "--timeout", "20")
    try:
        for line in proc.stdout:
            if line.startswith("scanner connected"):
                break
        os.write(master, b"N123456789\r\xffoops\rN123456789\r")
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "scan 1: b'N123456789' -> valid card N123456789" in out
    assert "scan 2: b'\\xffoops' -> not UTF-8" in out
    assert "scan 3: b'N123456789' -> valid card" in out  # no debounce while testing
    assert "3 scans" in out


def test_scanner_test_reports_too_few_scans(tmp_path):
    config = write_config(tmp_path, f'[scanner]\nkind = "serial"\nport = "{tmp_path}/none"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "scanner-test", "--count", "1",
                                      "--timeout", "0.3"])
    assert result.exit_code == 1
    assert "scanner disconnected" in result.output and "No such file" in result.output
    assert "Only 0 of 1 scan arrived" in result.output


def test_scanner_test_without_a_serial_scanner_is_bad_configuration(tmp_path):
    config = write_config(tmp_path, "")
    result = CliRunner().invoke(cli, ["--config", str(config), "scanner-test"])
    assert result.exit_code == 2
    assert "scanner.kind" in result.output and str(config) in result.output


def test_printer_test_prints_a_slip_with_norwegian_letters(tmp_path):
    listener = PrinterStandIn()
    config = write_config(tmp_path, '[station]\nname = "Bærum bibliotek"\n'
                          f'[printer]\nkind = "escpos-network"\nhost = "127.0.0.1"\n'
                          f"port = {listener.port}\n")
    try:
        result = CliRunner().invoke(cli, ["--config", str(config), "printer-test"])
        assert result.exit_code == 0, result.output
        assert "Test slip printed on network printer 127.0.0.1" in result.output
        assert listener.wait_jobs(1)
    finally:
        listener.close()
    job = listener.jobs[0]
    assert CP865 in job and "Bærum bibliotek".encode("cp865") in job
    assert b"\x91 \x9b \x86 \x92 \x9d \x8f" in job and CODE128 in job


@pytest.mark.parametrize("status, exit_code, says", [
    (PAPER_LOW, 0, "Paper low: the roll is nearly used up"),
    (PAPER_OUT, 1, "Test slip not printed: network printer 127.0.0.1"),
])
def test_printer_test_reports_the_paper_sensor(tmp_path, status, exit_code, says):
    listener = PrinterStandIn()
    listener.status = status
    config = write_config(tmp_path, f'[printer]\nkind = "escpos-network"\nhost = "127.0.0.1"\n'
                          f"port = {listener.port}\n")
    try:
        result = CliRunner().invoke(cli, ["--config", str(config), "printer-test"])
    finally:
        listener.close()
    assert result.exit_code == exit_code, result.output
    assert says in result.output
    if status == PAPER_OUT:
        assert "out of paper" in result.output


def test_printer_test_with_the_printer_off_fails_clearly(tmp_path):
    listener = PrinterStandIn()
    port = listener.port
    listener.close()
    config = write_config(tmp_path, f'[printer]\nkind = "escpos-network"\nhost = "127.0.0.1"\n'
                          f"port = {port}\ntimeout_s = 1\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "printer-test"])
    assert result.exit_code == 1
    assert "Test slip not printed" in result.output and "refused" in result.output


def test_printer_test_without_a_printer_is_bad_configuration(tmp_path):
    result = CliRunner().invoke(cli, ["--config", str(write_config(tmp_path, "")),
                                      "printer-test"])
    assert result.exit_code == 2 and "printer.kind" in result.output
