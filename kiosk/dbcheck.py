"""Check a database url the way `kiosk init` and the service will use it, before they do.

`check-config` used to call any `sqlite:///…` url valid: a relative path (three slashes, no
leading `/`) made `init` fail and leave files in whatever directory it ran from, a missing
directory was created by `init` as root, and an unreachable PostgreSQL passed unnoticed.
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

SERVICE_USER = "kiosk"  # systemd/kiosk.sysusers
CONNECT_TIMEOUT_S = 5


def database_problems(url: str, connect: bool = False,
                      service_user: str | None = SERVICE_USER) -> list[str]:
    """Return what stops `init` and the service from using url (empty when nothing does)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return [f"database.url: {url!r} is not a database url"]
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_problems(parsed.database or "", service_user)
    return _reach(url) if connect else []


def _sqlite_problems(path: str, service_user: str | None) -> list[str]:
    if not path or path == ":memory:":
        return ["database.url: names no file (the station's orders would vanish at every start)"]
    if not path.startswith("/"):
        return [f"database.url: the file {path!r} is a relative path, so it depends on the "
                f"directory a command runs in; write four slashes for an absolute path, for "
                f"example sqlite:////var/lib/kiosk/kiosk.db"]
    folder = Path(path).parent
    if not folder.is_dir():
        return [f"database.url: the directory {folder} does not exist (under systemd the "
                f"service's StateDirectory /var/lib/kiosk is made for it)"]
    user = _user(service_user)
    if user is not None and not _writable_by(folder, user):
        return [f"database.url: the directory {folder} is not writable by the service user "
                f"{user.pw_name} (SQLite writes its journal files beside the database)"]
    if user is None and not os.access(folder, os.W_OK | os.X_OK):
        return [f"database.url: the directory {folder} is not writable by this user"]
    return []


def _user(name: str | None) -> pwd.struct_passwd | None:
    """Return the service user when it exists and this is not already that user."""
    if not name:
        return None
    try:
        user = pwd.getpwnam(name)
    except KeyError:  # not installed as a service (a demo, a developer's machine)
        return None
    return None if user.pw_uid == os.geteuid() else user


def _writable_by(folder: Path, user: pwd.struct_passwd) -> bool:
    """Return True if user may create files in folder (owner, group or other write+search)."""
    info = folder.stat()
    if user.pw_uid == 0:
        return True
    groups = {user.pw_gid} | {g for g in os.getgrouplist(user.pw_name, user.pw_gid)}
    if info.st_uid == user.pw_uid:
        need = stat.S_IWUSR | stat.S_IXUSR
    elif info.st_gid in groups:
        need = stat.S_IWGRP | stat.S_IXGRP
    else:
        need = stat.S_IWOTH | stat.S_IXOTH
    return info.st_mode & need == need


def _reach(url: str) -> list[str]:
    engine = create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        shown = make_url(url).render_as_string(hide_password=True)
        return [f"database.url: cannot connect to {shown}: {reason}"]
    finally:
        engine.dispose()
    return []
