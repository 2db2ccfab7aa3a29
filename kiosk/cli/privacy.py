"""`kiosk anonymise`: drop the patron card and name of orders closed long enough ago."""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from kiosk.cli.context import StationContext, fail, pass_station
from kiosk.domain.messages import plural


@click.command()
@click.option("--days", type=click.IntRange(min=0),
              help="Closed more than this many days ago (default: [pickup] anonymise_after_days).")
@pass_station
def anonymise(station: StationContext, days: int | None) -> None:
    """Forget the card and name of collected, expired and cancelled orders after a while."""
    from kiosk.domain.clearance import anonymise_closed
    from kiosk.extensions import db

    after = station.settings.pickup.anonymise_after_days if days is None else days
    app = station.app()
    with app.app_context():
        try:
            count = anonymise_closed(db.session, after)
            for forget in app.extensions.get("anonymise_hooks", []):  # integrations' copies
                forget(db.session)
            db.session.commit()
        except SQLAlchemyError as exc:
            db.session.rollback()
            fail(f"could not anonymise ({type(exc).__name__}); has `kiosk init` run?")
        finally:
            db.session.remove()
            db.engine.dispose()  # a one-shot command leaves no connection behind
    click.echo(f"{plural(count, '%(num)d order', '%(num)d orders')} closed more than "
               f"{plural(after, '%(num)d day', '%(num)d days')} ago anonymised")


COMMANDS = [anonymise]
