"""The systemd units, sysusers/tmpfiles, udev rule, Chromium policy and installer in systemd/."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).parent.parent / "systemd"
ANALYZE = shutil.which("systemd-analyze")
CHROMIUM_BINARY = Path("/usr/lib/chromium/chromium")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze not installed")


def unit(name: str) -> dict[str, list[str]]:
    """Return a unit file's settings as {"Section.Key": [values...]} (keys may repeat)."""
    settings: dict[str, list[str]] = {}
    section = ""
    text = (SYSTEMD / name).read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key}", []).append(value)
    return settings


def exposure(path: Path) -> float:
    """Return systemd-analyze's overall exposure level of a unit file."""
    out = subprocess.run([ANALYZE, "security", "--offline=true", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Overall exposure level for \S+: (\d+\.\d)", out).group(1))


@needs_analyze
def test_station_unit_scores_at_most_1_9():
    assert exposure(SYSTEMD / "kiosk.service") <= 1.9
    done = subprocess.run([ANALYZE, "security", "--offline=true", "--threshold=19",
                           str(SYSTEMD / "kiosk.service")], capture_output=True)
    assert done.returncode == 0


@needs_analyze
def test_postgres_drop_in_keeps_the_score(tmp_path):
    merged = tmp_path / "kiosk.service"
    merged.write_text((SYSTEMD / "kiosk.service").read_text() + "\n"
                      + (SYSTEMD / "kiosk.service.d/postgres.conf.example").read_text())
    drop_in = unit("kiosk.service.d/postgres.conf.example")
    assert drop_in["Service.IPAddressAllow"] == ["192.0.2.10/32"]
    assert exposure(merged) <= 1.9


@needs_analyze
@pytest.mark.parametrize(("name", "binary"), [
    ("kiosk.service", "/opt/kiosk/venv/bin/kiosk"),
    ("kiosk-browser.service", "/usr/bin/cage"),
])
def test_units_verify(tmp_path, name, binary):
    # verify wants ExecStart= to exist: point it at a program that does.
    for unit_name in ("kiosk.service", "kiosk-browser.service"):
        text = (SYSTEMD / unit_name).read_text().replace(binary, "/bin/true")
        (tmp_path / unit_name).write_text(text)
    done = subprocess.run([ANALYZE, "verify", "--man=no", str(tmp_path / name)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Unknown" not in done.stderr and "Invalid" not in done.stderr


def test_station_unit_is_notify_with_watchdog_and_restart():
    s = unit("kiosk.service")
    assert s["Service.Type"] == ["notify"]
    assert s["Service.Restart"] == ["on-failure"]
    assert int(s["Service.WatchdogSec"][0]) >= 3  # pinged every third of it
    # No start limit: manual starts must not use up the watchdog's restarts.
    assert s["Unit.StartLimitIntervalSec"] == ["0"] and "Unit.StartLimitBurst" not in s
    assert int(s["Service.RestartSec"][0]) >= 1  # so a failing station does not spin
    # reload: a bad configuration fails it (the station keeps running), then SIGHUP
    assert s["Service.ExecReload"] == ["/opt/kiosk/venv/bin/kiosk check-config",
                                       "/bin/kill -HUP $MAINPID"]
    assert s["Service.ExecStart"][0].endswith("kiosk serve")
    assert "KIOSK_CONFIG=/etc/kiosk/kiosk.toml" in s["Service.Environment"][0]


def test_station_unit_user_directories_devices_network():
    s = unit("kiosk.service")
    assert s["Service.User"] == ["kiosk"] and s["Service.SupplementaryGroups"] == ["dialout"]
    assert s["Service.StateDirectory"] == ["kiosk"]
    assert s["Service.ConfigurationDirectory"] == ["kiosk"]
    assert s["Service.DevicePolicy"] == ["closed"]
    assert s["Service.DeviceAllow"] == ["char-ttyUSB rw", "char-ttyACM rw"]
    for mod in ("modprobe@usbserial.service", "modprobe@cdc_acm.service"):
        assert mod in " ".join(s["Unit.After"]) and mod in " ".join(s["Unit.Wants"])
    assert s["Service.IPAddressDeny"] == ["any"]
    assert s["Service.IPAddressAllow"] == ["localhost"]
    assert "PrivateUsers" not in " ".join(s)  # would unmap dialout: the scanner must open
    # PrivateDevices=no (the scanner) would share the host's /dev/shm
    assert s["Service.PrivateDevices"] == ["no"]
    assert s["Service.TemporaryFileSystem"] == ["/dev/shm:mode=1777"]


def test_installer_installs_xwayland_with_cage():
    # Debian's cage exits "Cannot find Xwayland binary" without it (only a Recommends).
    text = (SYSTEMD / "install.sh").read_text()
    screen = next(line for line in text.splitlines() if "packages+=(" in line and "cage" in line)
    assert "xwayland" in screen.split()


def test_browser_unit_shows_the_station_in_kiosk_mode():
    s = unit("kiosk-browser.service")
    command = s["Service.ExecStart"][0].split()
    assert "/usr/bin/chromium" in command
    for flag in ("--kiosk", "--incognito", "--kiosk-printing",
                 "--autoplay-policy=no-user-gesture-required"):  # speech without a click
        assert flag in command
    assert command[-1] == "http://127.0.0.1:8080/"
    assert s["Service.Restart"] == ["always"]
    assert s["Service.User"] == ["kiosk-display"]
    assert "kiosk.service" in " ".join(s["Unit.After"])
    # ProtectHome=yes hides /run/user: cage could not create its Wayland socket there
    assert "Service.ProtectHome" not in s
    assert s["Service.InaccessiblePaths"] == ["-/home -/root"]


def test_chromium_policy_locks_the_browser_to_the_station():
    policy = json.loads((SYSTEMD / "chromium-policy.json").read_text())
    assert policy["URLBlocklist"] == ["*"]
    assert set(policy["URLAllowlist"]) == {"http://127.0.0.1:8080", "http://localhost:8080"}
    assert policy["DeveloperToolsAvailability"] == 2  # not allowed
    assert policy["DownloadRestrictions"] == 3  # block all downloads
    assert policy["IncognitoModeAvailability"] == 2  # forced
    assert policy["AllowFileSelectionDialogs"] is False
    assert policy["PrintingEnabled"] is True
    assert policy["AutoplayAllowed"] is True  # [kiosk] speech plays after a scan


def test_chromium_knows_every_policy_name():
    if not CHROMIUM_BINARY.exists():
        if os.environ.get("KIOSK_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM_BINARY} not found and KIOSK_REQUIRE_BROWSER is set")
        pytest.skip("Debian's chromium not installed")
    policy = json.loads((SYSTEMD / "chromium-policy.json").read_text())
    names = list(policy)
    found = subprocess.run(["grep", "-a", "-o", "-F", *[f"-e{n}" for n in names],
                            str(CHROMIUM_BINARY)], capture_output=True, text=True).stdout
    assert set(names) - set(found.split()) == set()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("systemd-sysusers"),
                    reason="needs root and systemd-sysusers")
def test_sysusers_and_tmpfiles_create_users_and_directories(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    shutil.copy("/etc/group", root / "etc/group")
    for name in ("passwd", "shadow", "gshadow"):
        (root / "etc" / name).touch()
    for kind, file in (("sysusers.d", "kiosk.sysusers"), ("tmpfiles.d", "kiosk.tmpfiles")):
        (root / "usr/lib" / kind).mkdir(parents=True)
        shutil.copy(SYSTEMD / file, root / "usr/lib" / kind / "kiosk.conf")
    subprocess.run(["systemd-sysusers", f"--root={root}"], check=True, capture_output=True)
    subprocess.run(["systemd-tmpfiles", f"--root={root}", "--create"], check=True,
                   capture_output=True)
    users = {line.split(":")[0]: line.split(":") for line in
             (root / "etc/passwd").read_text().splitlines()}
    groups = {line.split(":")[0]: line.split(":")[3].split(",") for line in
              (root / "etc/group").read_text().splitlines()}
    assert users["kiosk"][5] == "/var/lib/kiosk"
    assert "kiosk" in groups["dialout"] and "kiosk-display" in groups["video"]
    state = (root / "var/lib/kiosk").stat()
    assert state.st_uid == int(users["kiosk"][2]) and state.st_mode & 0o777 == 0o750
    config = (root / "etc/kiosk").stat()
    assert config.st_uid == 0 and config.st_gid == int(users["kiosk"][3])
    assert config.st_mode & 0o777 == 0o750


def test_udev_rule_names_the_scanner():
    rules = [line for line in (SYSTEMD / "99-kiosk-scanner.rules").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(rules) == 1
    pairs = [p.strip() for p in rules[0].split(",")]
    pattern = re.compile(r'^[A-Z_]+(\{[A-Za-z_]+\})?(==|!=|\+=|=|:=)"[^"]*"$')
    assert all(pattern.match(p) for p in pairs), pairs
    assert 'SYMLINK+="kiosk-scanner"' in pairs and 'SUBSYSTEM=="tty"' in pairs


def test_installer_is_valid_bash_and_refuses_bad_options():
    script = SYSTEMD / "install.sh"
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert subprocess.run([str(script), "--help"], capture_output=True).returncode == 0
    bad = subprocess.run([str(script), "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown option" in bad.stderr
