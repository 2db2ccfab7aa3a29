"""systemd notification: READY=1 once serving, WATCHDOG=1 while healthy, over a real socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid

import pytest

from kiosk import systemd

KIOSK = [sys.executable, "-c", "import sys; from kiosk.cli import main; sys.exit(main())"]


@pytest.fixture
def notify_socket(tmp_path, monkeypatch):
    """A unix datagram socket standing in for systemd; $NOTIFY_SOCKET points at it."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(20)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def receive(sock: socket.socket) -> list[str]:
    """Return the lines of the next datagram."""
    return sock.recv(4096).decode().splitlines()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_notify_without_socket_does_nothing(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify("READY=1") is False


def test_notify_reaches_an_abstract_socket(monkeypatch):
    name = f"kiosk-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.notify("STATUS=hello")
        assert receive(sock) == ["STATUS=hello"]


def test_notify_to_a_missing_socket_is_logged_not_raised(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    assert systemd.notify("READY=1") is False
    assert "could not notify systemd" in caplog.text


@pytest.mark.parametrize(("usec", "pid", "expected"), [
    ("", "", None), ("0", "", None), ("junk", "", None),
    ("3000000", "", 1.0), ("3000000", "self", 1.0), ("3000000", "1", None),
])
def test_watchdog_interval_is_a_third_of_watchdogsec(monkeypatch, usec, pid, expected):
    monkeypatch.setenv("WATCHDOG_USEC", usec)
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()) if pid == "self" else pid)
    assert systemd.watchdog_interval() == expected


def test_watchdog_pings_only_while_every_check_passes(notify_socket):
    state = {"problem": None}
    dog = systemd.Watchdog([lambda: state["problem"]], interval=0.05).start()
    try:
        assert receive(notify_socket) == ["WATCHDOG=1"]
        state["problem"] = "database does not answer: OperationalError"
        while (msg := receive(notify_socket)) == ["WATCHDOG=1"]:
            pass  # pings already in flight
        assert msg == ["STATUS=unhealthy: database does not answer: OperationalError"]
        assert receive(notify_socket)[0].startswith("STATUS=unhealthy")
        state["problem"] = None
        while (msg := receive(notify_socket))[0].startswith("STATUS=unhealthy"):
            pass
        assert msg == ["WATCHDOG=1"]
        assert receive(notify_socket) == ["STATUS=serving"]
    finally:
        dog.stop()


def test_a_broken_check_counts_as_unhealthy():
    def broken() -> str | None:
        raise ValueError("boom")

    assert systemd.problems([broken, lambda: None]) == ["health check failed: ValueError('boom')"]


def test_database_check_reports_an_unreachable_database(app, tmp_path):
    assert systemd.database_check(app)() is None
    from kiosk import create_app
    from kiosk.config import parse

    broken = create_app(parse({"database": {
        "url": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"}}),
        {"TESTING": True, "SECRET_KEY": "x"})
    assert systemd.database_check(broken)().startswith("database does not answer")


def test_serve_sends_ready_then_watchdog_pings(notify_socket, database_url, tmp_path):
    port = free_port()
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[station]\nname = "Notify test"\n[database]\nurl = "{database_url}"\n'
                      '[kiosk]\nrate_limit = "off"\n')
    env = {**os.environ, "WATCHDOG_USEC": "300000", "KIOSK_CONFIG": str(config)}
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([*KIOSK, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        lines = receive(notify_socket)
        assert lines[0] == "READY=1", lines
        assert lines[1] == f"STATUS=serving http://127.0.0.1:{port}"
        # READY means the web server listens: /healthz answers straight away.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert resp.status == 200
        assert [receive(notify_socket) for _ in range(3)] == [["WATCHDOG=1"]] * 3
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0].decode()
    assert "systemd watchdog: checking every 0.1 s" in output
    assert "[Notify test]" in output


@pytest.mark.parametrize("config_overrides", [{"scanner": {"kind": "serial", "port": "loop://"}}])
def test_scanner_check_follows_the_reader_thread(app, config_overrides):
    runtime = pytest.importorskip("kiosk.devices.runtime")
    check = systemd.scanner_check(app)
    assert check() == "scanner thread is not running"
    stop = runtime.start(app)
    try:
        assert check() is None
    finally:
        stop()
    assert check() == "scanner thread is not running"


def test_no_scanner_check_without_a_serial_scanner(app):
    assert systemd.scanner_check(app) is None


def start_serve(tmp_path, database_url, extra_env=None, name="Notify test", stderr=None):
    """Start `kiosk serve` on a free port; return the process and its port."""
    port = free_port()
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[station]\nname = "{name}"\n[database]\nurl = "{database_url}"\n'
                      '[kiosk]\nrate_limit = "off"\n')
    env = {**os.environ, "KIOSK_CONFIG": str(config), **(extra_env or {})}
    for key in ("WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
        if key not in (extra_env or {}):
            env.pop(key, None)
    proc = subprocess.Popen([*KIOSK, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=stderr or subprocess.STDOUT)
    return proc, port


def test_sigterm_runs_the_shutdown_code(notify_socket, database_url, tmp_path):
    proc, _port = start_serve(tmp_path, database_url)
    try:
        assert receive(notify_socket)[0] == "READY=1"
        proc.send_signal(signal.SIGTERM)  # what systemctl stop and restart send
        assert receive(notify_socket) == ["STOPPING=1"]
        output = proc.communicate(timeout=30)[0].decode()
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    assert ("station Notify test stopped (SIGTERM): services and web server shut down"
            in output), output


def test_sighup_starts_the_station_anew_with_the_new_configuration(notify_socket, database_url,
                                                                  tmp_path):
    proc, port = start_serve(tmp_path, database_url)
    try:
        assert receive(notify_socket)[0] == "READY=1"
        config = tmp_path / "kiosk.toml"
        config.write_text(config.read_text().replace("Notify test", "Reloaded"))
        proc.send_signal(signal.SIGHUP)  # systemctl reload, after check-config passed
        assert receive(notify_socket) == ["RELOADING=1"]
        lines = receive(notify_socket)
        assert lines[0] == "READY=1", lines
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert resp.status == 200
        assert proc.poll() is None  # the same process (systemd's main PID) serves again
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode()
    finally:
        proc.kill()
    assert "station Notify test stopped (SIGHUP)" in output
    assert "station Reloaded serving on" in output
    assert "station Reloaded stopped (SIGTERM)" in output


def journal_file(tmp_path):
    """Return a file and the $JOURNAL_STREAM naming it, as journald sets for a service."""
    path = tmp_path / "journal"
    handle = path.open("w+b")
    st = os.fstat(handle.fileno())
    return handle, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}


def test_a_bad_configuration_reaches_the_journal_as_an_error_naming_the_key(tmp_path):
    handle, env = journal_file(tmp_path)
    config = tmp_path / "kiosk.toml"
    config.write_text('[server]\nport = "eighty"\n')
    with handle:
        proc = subprocess.run([*KIOSK, "--config", str(config), "serve"], stderr=handle,
                              env={**os.environ, **env}, timeout=60)
        handle.seek(0)
        lines = handle.read().decode().splitlines()
    assert proc.returncode == 2
    assert lines and all(line.startswith("<3>Error: ") for line in lines), lines
    assert any("port" in line and "kiosk.toml" in line for line in lines), lines


def test_a_port_in_use_is_one_error_line_not_a_traceback(tmp_path, database_url):
    handle, env = journal_file(tmp_path)
    with socket.socket() as taken, handle:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "kiosk.toml"
        config.write_text(f'[database]\nurl = "{database_url}"\n[server]\nport = {port}\n')
        proc = subprocess.run([*KIOSK, "--config", str(config), "serve"], stderr=handle,
                              env={**os.environ, **env}, timeout=60)
        handle.seek(0)
        lines = handle.read().decode().splitlines()
    assert proc.returncode == 1
    assert [line for line in lines if line.startswith("<3>")] == [
        f"<3>Error: Cannot listen on 127.0.0.1:{port}: Address already in use"], lines
    assert not any("Traceback" in line for line in lines), lines
