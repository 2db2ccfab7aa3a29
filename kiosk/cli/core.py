"""Core commands: init, serve, demo, check-config."""

from __future__ import annotations

import click

from kiosk.cli.context import StationContext, fail, pass_station
from kiosk.domain.messages import plural
from kiosk.systemd import err_prefix


@click.command()
@pass_station
def init(station: StationContext) -> None:
    """Create or upgrade the database schema and shelves (idempotent)."""
    import os

    from kiosk.schema import upgrade_database

    # New database files (SQLite and its -wal/-shm) for the owner only, whatever the
    # shell's umask: install.sh runs this as the kiosk user from a root shell (022).
    umask = os.umask(0o077)
    try:
        changes = upgrade_database(station.app())
    except Exception as exc:  # a database that cannot be reached or upgraded
        fail(f"could not initialise the database: {exc}")
    finally:
        os.umask(umask)
    for change in changes:
        click.echo(change)
    if not changes:
        click.echo("Database is up to date")


@click.command()
@click.option("--host", help="Address to listen on (default: server.host).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: server.port).")
@pass_station
def serve(station: StationContext, host: str | None, port: int | None) -> None:
    """Run the station: web server plus scanner, printer and ILS link as configured."""
    import logging

    from kiosk.schema import upgrade_database
    from kiosk.serving import ListenError, Reload
    from kiosk.serving import serve as run
    from kiosk.systemd import ready_hook, reexec

    log = logging.getLogger("kiosk.serve")
    settings = station.settings
    app = station.app()
    try:
        upgrade_database(app)
    except Exception as exc:
        fail(f"database not ready: {exc}")
    host, port = host or settings.server.host, port or settings.server.port
    try:
        run(app, host, port, on_ready=ready_hook(app, f"http://{host}:{port}"), reloadable=True)
    except ListenError as exc:
        fail(str(exc))
    except Reload:
        station.close()
        reexec()  # the same process (and PID) starts again and reads the configuration anew
    except Exception:
        log.exception("the station stopped on an unexpected error")
        raise SystemExit(1) from None


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--no-serve", is_flag=True, help="Set up the demo database and exit.")
@pass_station
def demo(station: StationContext, port: int, host: str, no_serve: bool) -> None:
    """Serve a throw-away demo station with shelves and orders in every state."""
    from kiosk.demo import run_demo

    run_demo(station, host=host, port=port, serve=not no_serve)


@click.command("check-config")
@click.option("--connect", is_flag=True,
              help="Also connect to the database (PostgreSQL) as init would.")
@pass_station
def check_config(station: StationContext, connect: bool) -> None:
    """Validate the configuration and report every problem."""
    from kiosk.dbcheck import database_problems

    settings = station.settings  # exits 2 with every problem listed
    problems = database_problems(settings.database_url, connect=connect)
    for problem in problems:
        click.echo(f"{err_prefix()}{settings.source}: {problem}", err=True)
    if problems:
        raise SystemExit(2)
    click.echo(f"{settings.source}: Configuration is valid")
    click.echo(f"  station {settings.station.name}, branch {settings.station.branch}, "
               f"role {settings.station.role}")
    server = settings.server
    if server.trusted_proxy or server.secure_cookies:
        click.echo(f"  behind a proxy: trusted_proxy {str(server.trusted_proxy).lower()}, "
                   f"secure_cookies {str(server.secure_cookies).lower()}")
    from sqlalchemy.engine import make_url

    click.echo(f"  database {make_url(settings.database_url).render_as_string(True)}")
    click.echo(f"  scanner {settings.scanner.kind}, printer {settings.printer.kind}, "
               f"ILS {settings.ils.kind}")
    click.echo(f"  {plural(len(settings.shelves), '%(num)d shelf', '%(num)d shelves')}, "
               + plural(sum(s["slots"] for s in settings.shelves), "%(num)d slot", "%(num)d slots"))
    import importlib

    from kiosk.cli import COMMAND_MODULES

    for name in COMMAND_MODULES:  # integrations add their own lines (speech: voices)
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        for line in getattr(module, "check_lines", lambda _s: [])(settings):
            click.echo(line)
