"""`kiosk user add|list|unlock` through the real CLI (stdin and a real terminal)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from staff_helpers import PASSWORD, make_user

from kiosk.cli import cli
from kiosk.domain import accounts
from kiosk.domain.accounts import LockoutPolicy, LoginThrottle
from kiosk.extensions import db
from kiosk.models import StaffUser


@pytest.fixture
def config(tmp_path, database_url, app):  # `app` migrates the database first
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n')
    return path


def run(config, *args, stdin=""):
    return CliRunner().invoke(cli, ["--config", str(config), "user", *args], input=stdin)


def check_login(app, name, password):
    with app.app_context():
        return accounts.authenticate(db.session, name, password,
                                     LoginThrottle(LockoutPolicy()), "127.0.0.1")


def test_add_staff_and_admin_with_password_from_stdin(config, app):
    result = run(config, "add", "kari", stdin="long password\n")
    assert result.exit_code == 0, result.output
    assert "User kari added (staff)" in result.output
    assert run(config, "add", "anne", "--admin", stdin="another secret\n").exit_code == 0
    assert check_login(app, "kari", "long password").role == "staff"
    assert check_login(app, "anne", "another secret").role == "admin"
    listing = run(config, "list").output.splitlines()
    assert listing == ["anne\tadmin", "kari\tstaff"]


def test_add_with_staff_card_and_pin(config, app):
    result = run(config, "add", "ola", "--card", "S0042", "--pin", stdin="long password\n4711\n")
    assert result.exit_code == 0 and "with staff card" in result.output
    with app.app_context():
        user = accounts.authenticate_card(db.session, "S0042", "4711",
                                          LoginThrottle(LockoutPolicy()), "127.0.0.1")
        assert user.username == "ola"


@pytest.mark.parametrize("args, stdin, code, message", [
    (["add", "kari"], "", 2, "Password expected on standard input"),
    (["add", "kari"], "short\n", 2, "at least 8 characters"),
    (["add", "x"], "long password\n", 2, "username"),
    (["add", "ola", "--card", "S1"], "long password\n", 2, "go together"),
    (["add", "ola", "--pin"], "long password\n1234\n", 2, "go together"),
    (["add", "ola", "--card", "S1", "--pin"], "long password\n12\n", 2, "4 to 8 digits"),
    (["add", "ola", "--card", "S1", "--pin"], "long password\n", 2, "PIN expected"),
    (["add"], "", 2, "Missing argument"),
    (["unlock", "nobody"], "", 1, "No user named nobody"),
])
def test_bad_input_is_a_clear_error(config, args, stdin, code, message):
    result = run(config, *args, stdin=stdin)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_existing_user_is_a_failed_operation(config, app):
    make_user(app, "kari")
    result = run(config, "add", "kari", stdin="long password\n")
    assert result.exit_code == 1 and "exists already" in result.output


def test_unlock_password_role_and_remove_end_every_session(config, app):
    user_id = make_user(app, "kari")

    def generation():
        with app.app_context():
            return db.session.get(StaffUser, user_id).session_generation

    # the lockout's counters are keyed with the generation: unlocking starts them afresh
    throttle = LoginThrottle(LockoutPolicy(attempts=2, account_factor=1))
    with app.app_context():
        for _ in range(2):
            with pytest.raises(accounts.AccountError):
                accounts.authenticate(db.session, "kari", "wrong", throttle, "10.0.0.1")
        with pytest.raises(accounts.AccountLocked):
            accounts.authenticate(db.session, "kari", PASSWORD, throttle, "10.0.0.2")
    assert run(config, "unlock", "kari").exit_code == 0
    assert generation() == 1
    with app.app_context():
        assert accounts.authenticate(db.session, "kari", PASSWORD, throttle, "10.0.0.2")
    result = run(config, "password", "kari", stdin="brand new password\n")
    assert result.exit_code == 0, result.output
    assert generation() == 2 and check_login(app, "kari", "brand new password")
    assert run(config, "password", "kari", stdin="short\n").exit_code == 2
    assert run(config, "role", "kari", "admin").exit_code == 0
    assert generation() == 3 and run(config, "list").output == "kari\tadmin\n"
    assert run(config, "role", "kari", "boss").exit_code == 2
    assert run(config, "remove", "kari").exit_code == 0
    assert run(config, "list").output == ""
    assert run(config, "remove", "kari").exit_code == 1


def test_a_database_never_initialised_is_initialised_as_serve_does(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "empty.db"}"\n')
    result = run(config, "add", "kari", stdin="long password\n")
    assert result.exit_code == 0, result.output
    assert "had never been initialised" in result.output and "User kari added" in result.output
    assert run(config, "list").output == "kari\tstaff\n"


def _talk(fd: int, wanted: str, reply: str | None, out: list[str]) -> None:
    """Read from the terminal until wanted appears, then type reply."""
    text = ""
    while wanted not in text:
        ready, _, _ = select.select([fd], [], [], 30)
        assert ready, f"no {wanted!r} from the terminal; got {text!r}"
        try:
            chunk = os.read(fd, 1024).decode()
        except OSError:  # the child closed the terminal
            break
        text += chunk
    out.append(text)
    if reply is not None:
        os.write(fd, reply.encode() + b"\r")


def test_password_on_a_terminal_is_hidden_and_confirmed(config, app):
    kiosk = Path(sys.executable).parent / "kiosk"
    if not kiosk.exists():
        pytest.skip("console script not installed")
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(kiosk), "--config", str(config), "user", "add", "tove"],
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out: list[str] = []
    try:
        _talk(master, "Password:", "terminal secret", out)
        _talk(master, "Repeat for confirmation:", "terminal secret", out)
        _talk(master, "added", None, out)
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        os.close(master)
    assert "terminal secret" not in "".join(out)  # never echoed
    assert check_login(app, "tove", "terminal secret").username == "tove"
