"""`kiosk check-config` checks the database url as `init` and the service will use it."""

from __future__ import annotations

import os
import pwd
import socket

import pytest
from click.testing import CliRunner

from kiosk.cli import cli
from kiosk.dbcheck import database_problems


def check(tmp_path, url: str, *extra: str):
    config = tmp_path / "station.toml"
    config.write_text(f'[station]\nname = "T"\nbranch = "main"\n[database]\nurl = "{url}"\n')
    return CliRunner().invoke(cli, ["--config", str(config), "check-config", *extra])


def test_an_absolute_path_in_an_existing_folder_is_valid(tmp_path):
    result = check(tmp_path, f"sqlite:///{tmp_path}/kiosk.db")
    assert result.exit_code == 0, result.output
    assert "Configuration is valid" in result.output


def test_a_relative_sqlite_path_is_refused_naming_the_four_slashes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = check(tmp_path, "sqlite:///var/lib/kiosk/kiosk.db")
    assert result.exit_code == 2
    assert "database.url" in result.output and "'var/lib/kiosk/kiosk.db'" in result.output
    assert "relative path" in result.output and "sqlite:////var/lib/kiosk/kiosk.db" in \
        result.output
    assert "Configuration is valid" not in result.output
    assert list(tmp_path.iterdir()) == [tmp_path / "station.toml"]  # nothing made here


def test_a_folder_that_does_not_exist_is_refused_and_not_made(tmp_path):
    missing = tmp_path / "no" / "such"
    result = check(tmp_path, f"sqlite:///{missing}/kiosk.db")
    assert result.exit_code == 2
    assert f"the directory {missing} does not exist" in result.output
    assert not missing.parent.exists()


def test_a_folder_the_service_user_cannot_write_is_refused(tmp_path):
    nobody = pwd.getpwnam("nobody")
    if nobody.pw_uid == os.geteuid():
        pytest.skip("the tests run as nobody")
    folder = tmp_path / "state"
    folder.mkdir(mode=0o755)  # owned by this user: nobody may only read
    problems = database_problems(f"sqlite:///{folder}/kiosk.db", service_user="nobody")
    assert problems == [f"database.url: the directory {folder} is not writable by the service "
                        f"user nobody (SQLite writes its journal files beside the database)"]
    folder.chmod(0o777)
    assert database_problems(f"sqlite:///{folder}/kiosk.db", service_user="nobody") == []


def test_an_unreachable_postgresql_is_refused_only_with_connect(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://kiosk:secret@127.0.0.1:{port}/kiosk"
    assert check(tmp_path, url).exit_code == 0
    result = check(tmp_path, url, "--connect")
    assert result.exit_code == 2
    assert f"cannot connect to postgresql+psycopg://kiosk:***@127.0.0.1:{port}/kiosk" in \
        result.output
    assert "secret" not in result.output


@pytest.mark.postgres_only
def test_a_reachable_postgresql_passes_with_connect(tmp_path, database_url):
    result = check(tmp_path, database_url, "--connect")
    assert result.exit_code == 0, result.output
