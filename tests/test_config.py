"""Configuration: defaults, every problem named with file, key and what is wrong."""

from __future__ import annotations

import os

import pytest

from kiosk import config
from kiosk.appsetup import station_config_folder


def problems(data: dict) -> list[str]:
    with pytest.raises(config.ConfigError) as info:
        config.parse(data, source="test.toml")
    return info.value.problems


def test_defaults_need_no_file(monkeypatch, tmp_path):
    monkeypatch.delenv(config.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    settings = config.load()
    assert settings.source == "built-in defaults"
    assert settings.scanner.kind == "none" and settings.printer.kind == "none"
    assert settings.database_url == f"sqlite:///{tmp_path / 'kiosk' / 'kiosk.db'}"
    assert settings.shelves == [{**s, "branch": "main"} for s in config.DEFAULT_SHELVES]
    assert settings.cards.patterns == [r"^N\d{9}$"]


def test_state_directory_from_systemd(monkeypatch, tmp_path):
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path}:/elsewhere")
    assert config.parse({}).database_url == f"sqlite:///{tmp_path / 'kiosk.db'}"


def test_environment_variable_names_the_file(monkeypatch, tmp_path):
    path = tmp_path / "station.toml"
    path.write_text('[station]\nname = "Bryn"\n')
    monkeypatch.setenv(config.ENV_VAR, str(path))
    settings = config.load()
    assert settings.station.name == "Bryn" and settings.source == str(path)


@pytest.mark.parametrize("name", ["example.toml", "demo.toml"])
def test_shipped_configurations_are_valid(name):
    settings = config.load(station_config_folder() / name)
    assert settings.shelves and settings.station.branch


INTERFACE_KEYS = {
    "station": {"name", "branch", "language"}, "database": {"url"},
    "server": {"host", "port"},
    "scanner": {"kind", "port", "baudrate", "terminator", "debounce_s"},
    "printer": {"kind", "host", "port", "baudrate", "vendor_id", "product_id", "path",
                "profile", "auto_print"},
    "kiosk": {"idle_seconds", "show_titles", "show_names", "rate_limit"},
    "cards": {"patterns"}, "pickup": {"days_on_shelf"}, "api": {"tokens_file"},
    "ils": {"kind", "host", "port", "user", "password_file", "institution", "location",
            "terminal_password_file", "tls", "encoding", "timeout_s", "holds_from_ils",
            "checkin_on_shelve"},
}


def test_example_names_every_key_of_the_interfaces():
    import tomllib

    with (station_config_folder() / "example.toml").open("rb") as fh:
        data = tomllib.load(fh)
    for section, keys in INTERFACE_KEYS.items():
        missing = keys - set(data.get(section, {}))
        assert not missing, f"example.toml [{section}] lacks {sorted(missing)}"
    assert {"kind", "title", "text", "url", "image", "starts", "ends", "language"} <= set(
        data["offers"][0])
    assert set(data["shelves"][0]) == {"name", "slots", "capacity"}


@pytest.mark.parametrize("data,expected", [
    ({"stationn": {}}, "test.toml: stationn: unknown section"),
    ({"station": {"nmae": "x"}}, "test.toml: station.nmae: unknown key"),
    ({"server": {"port": "8080"}}, "test.toml: server.port: must be an integer, got '8080'"),
    ({"server": {"port": True}}, "test.toml: server.port: must be an integer, got True"),
    ({"server": {"port": 70000}}, "test.toml: server.port: must be a port number"),
    ({"kiosk": {"show_titles": "yes"}}, "test.toml: kiosk.show_titles: must be true or false"),
    ({"kiosk": {"rate_limit": "lots"}}, 'test.toml: kiosk.rate_limit: must look like "30/minute"'),
    ({"kiosk": {"idle_seconds": 0}}, "test.toml: kiosk.idle_seconds: must be greater than 0"),
    ({"cards": {"patterns": ["^N(\\d{9}$"]}}, "test.toml: cards.patterns: '^N(\\\\d{9}$' is not "
                                              "a valid regular expression"),
    ({"cards": {"patterns": []}}, "test.toml: cards.patterns: must name at least one pattern"),
    ({"cards": {"patterns": "^N\\d{9}$"}}, "test.toml: cards.patterns: must be a list"),
    ({"station": {"language": "de"}}, "test.toml: station.language: must be one of"),
    ({"pickup": {"closed_weekdays": ["sunday"]}}, "test.toml: pickup.closed_weekdays: unknown"),
    ({"pickup": {"closed_dates": ["24.12.2026"]}}, "test.toml: pickup.closed_dates: '24.12.2026'"),
    ({"scanner": {"kind": "bluetooth"}}, "test.toml: scanner.kind: must be one of"),
    ({"scanner": {"kind": "serial"}}, "test.toml: scanner.port: required when scanner.kind"),
    ({"printer": {"kind": "escpos-network"}}, "test.toml: printer.host: required when"),
    ({"ils": {"kind": "sip2"}}, "test.toml: ils.host: required when ils.kind is sip2"),
    ({"api": {"tokens_file": "/nonexistent/tokens"}}, "test.toml: api.tokens_file: cannot read"),
    ({"shelves": [{"slots": 4}]}, "test.toml: shelves[0].name: required"),
    ({"shelves": [{"name": "A-1", "slots": 4}]}, "test.toml: shelves[0].name: must be"),
    ({"shelves": [{"name": "A", "slots": 4}, {"name": "A", "slots": 2}]},
     "test.toml: shelves: shelf names must be different"),
    ({"shelves": {"name": "A"}}, "test.toml: shelves: must be an array of tables"),
    ({"shelves": [{"name": "A", "slots": 4, "colour": "red"}]},
     "test.toml: shelves[0].colour: unknown key"),
    ({"offers": [{"kind": "ebooks"}]}, "test.toml: offers[0]: needs a title and a url"),
    ({"logging": {"level": "LOUD"}}, "test.toml: logging.level: must be one of"),
])
def test_each_problem_names_file_key_and_problem(data, expected):
    found = problems(data)
    assert any(p.startswith(expected) for p in found), found


def test_every_problem_is_reported_at_once():
    found = problems({"station": {"nmae": "x"}, "server": {"port": "x"},
                      "cards": {"patterns": ["("]}, "bogus": {}})
    assert len(found) == 4


def test_serial_device_without_access_is_reported(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can open any device file")
    device = tmp_path / "ttyUSB9"
    device.write_text("")
    device.chmod(0)
    found = problems({"scanner": {"kind": "serial", "port": str(device)}})
    assert any("scanner.port" in p and "dialout" in p for p in found)


def test_pyserial_urls_are_accepted():
    settings = config.parse({"scanner": {"kind": "serial", "port": "socket://127.0.0.1:7000"}})
    assert settings.scanner.port.startswith("socket://")


def test_dates_in_toml_are_accepted(tmp_path):
    path = tmp_path / "station.toml"
    path.write_text("[pickup]\nclosed_dates = [2026-12-24, \"2026-12-31\"]\n")
    assert len(config.load(path).pickup.closed_dates) == 2


@pytest.mark.parametrize("content,expected", [
    (b"[station\nname = 1\n", "not valid TOML"),
    (b'[station]\nname = "B\xf8rum"\n', "not"),
    (b"[server]\nport = 1\nport = 2\n", "not valid TOML"),
])
def test_unreadable_files_are_named(tmp_path, content, expected):
    path = tmp_path / "station.toml"
    path.write_bytes(content)
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    [problem] = info.value.problems
    assert problem.startswith(f"{path}: ") and expected in problem


def test_missing_file_and_folder(tmp_path):
    for path, expected in ((tmp_path / "none.toml", "file not found"),
                           (tmp_path, "is a folder")):
        with pytest.raises(config.ConfigError) as info:
            config.load(path)
        [problem] = info.value.problems
        assert problem.startswith(f"{path}: {expected}")


@pytest.mark.parametrize("url", ["mysql://kiosk@db/kiosk", "postgresql://kiosk@db/kiosk",
                                 "sqlite:/relative.db", "kiosk.db"])
def test_a_database_the_station_does_not_run_on_is_a_config_error(url):
    """SQLite and PostgreSQL through psycopg 3 only: a plain postgresql:// url would ask
    SQLAlchemy for psycopg2, which is not installed, and crash at start."""
    [problem] = problems({"database": {"url": url}})
    assert problem.startswith("test.toml: database.url: must be a sqlite:/// or "
                              "postgresql+psycopg:// url"), problem


@pytest.mark.parametrize("url", ["sqlite:////var/lib/kiosk/kiosk.db",
                                 "postgresql+psycopg://kiosk@192.0.2.10/kiosk"])
def test_sqlite_and_postgresql_urls_are_accepted(url):
    assert config.parse({"database": {"url": url}}).database_url == url
