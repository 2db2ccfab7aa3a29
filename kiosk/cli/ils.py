"""ILS commands: `kiosk ils-test` (log in, status, a card) and `kiosk ils-replay`."""

from __future__ import annotations

import click

from kiosk.cli.context import StationContext, fail, pass_station
from kiosk.domain.messages import plural


def _link(station: StationContext):
    from kiosk.ils import attach

    app = station.app()
    link = attach(app.extensions["station"])
    if link is None:
        fail("No library system configured ([ils] kind is none)", code=2)
    return app, link


@click.command("ils-test")
@click.option("--card", help="Also look this card up (63 Patron Information).")
@pass_station
def ils_test(station: StationContext, card: str | None) -> None:
    """Connect to the ILS, log in, ask its status and optionally look up a card."""
    from kiosk.ils.client import LinkDown, LoginRefused

    _, link = _link(station)
    ep = link.endpoint
    click.echo(f"connecting to {ep.host}:{ep.port}{' with TLS' if ep.tls else ''} "
               f"as {ep.user or '(no login)'}")
    try:
        link.connect()
        status = link.status()
        click.echo(f"logged in; ILS online={status.fixed['online']} "
                   f"checkout={status.fixed['checkout_ok']} "
                   f"protocol={status.fixed['protocol_version']}")
        if card:
            info = link.patron(card, summary="hold")
            click.echo(f"card: valid={info.valid} blocked={info.blocked} "
                       f"holds waiting={len(info.hold_items)}"
                       + (f" message={info.screen_message!r}" if info.screen_message else ""))
    except (LinkDown, LoginRefused) as exc:
        fail(str(exc))
    finally:
        link.close()


@click.command("ils-replay")
@pass_station
def ils_replay(station: StationContext) -> None:
    """Send the queued checkouts and check-ins to the ILS now; exit 1 if it did not answer."""
    from kiosk.extensions import db
    from kiosk.ils import queue

    app, link = _link(station)
    with app.app_context():
        report = queue.replay(db.session, link)
        counts = queue.counts(db.session)
        checkins = queue.counts(db.session, queue.CHECKIN)
    link.close()
    click.echo(f"Sent {len(report.done)}, refused {len(report.refused)}, "
               f"failed {len(report.failed)}; "
               f"{plural(counts['queued'], '%(num)d checkout', '%(num)d checkouts')} and "
               f"{plural(checkins['queued'], '%(num)d check-in', '%(num)d check-ins')} "
               "still queued")
    if report.link_down:
        fail("the library system did not answer")


COMMANDS = [ils_test, ils_replay]
