"""Operations commands: backup."""

from __future__ import annotations

import click

from kiosk.cli.context import StationContext, fail, pass_station
from kiosk.domain.messages import plural


@click.command()
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="File to write (SQLite: a database file; PostgreSQL: a pg_dump archive).")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@pass_station
def backup(station: StationContext, out: str, force: bool) -> None:
    """Write a consistent, checked copy of the database while the station runs."""
    from kiosk.ops import BackupError
    from kiosk.ops import backup as make_backup

    try:
        result = make_backup(station.settings.database_url, out, overwrite=force)
    except BackupError as exc:
        fail(f"backup failed: {exc}")
    orders = ("" if result.orders is None
              else f", {plural(result.orders, '%(num)d order', '%(num)d orders')}")
    click.echo(f"Backup written to {result.path} ({result.size} bytes, {result.engine}, "
               f"{result.check}{orders})")


COMMANDS = [backup]
