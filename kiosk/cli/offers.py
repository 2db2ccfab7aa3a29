"""`kiosk offers-check`: fetch every offer feed once and print what the idle screen would show."""

from __future__ import annotations

import datetime as dt

import click

from kiosk import clock
from kiosk.cli.context import StationContext, pass_station
from kiosk.domain.messages import plural
from kiosk.offers.board import OfferBoard
from kiosk.offers.cache import OfferCache, cache_folder
from kiosk.offers.sources import Offer


class _ReadOnlyCache(OfferCache):
    """The station's cache, read but never written (the check changes nothing)."""

    def save(self, *args, **kwargs) -> None:
        return None


def _line(offer: Offer, now: dt.datetime) -> str:
    if offer.visible(now):
        state = "shows"
    elif offer.starts and now < offer.starts:
        state = f"from {offer.starts:%Y-%m-%d}"
    else:
        state = "ended"
    extra = [offer.kind] + ([offer.language] if offer.language else [])
    if offer.when:
        extra.append(f"{offer.when.astimezone():%Y-%m-%d}" if offer.all_day
                     else f"{offer.when.astimezone():%Y-%m-%d %H:%M}")
    if offer.after_pickup:
        extra.append("after pickup")
    return f"  [{state}] {offer.title} ({', '.join(extra)})\n      {offer.url}"


@click.command("offers-check")
@click.option("--language", help="Show only what a screen in this language shows (e.g. nb).")
@pass_station
def offers_check(station: StationContext, language: str | None) -> None:
    """Fetch every offer feed once and print what the idle screen would show."""
    settings = station.settings
    if not settings.offers:
        click.echo(f"{settings.source}: no [[offers]] configured")
        return
    board = OfferBoard(settings.offers, _ReadOnlyCache(cache_folder(settings)))
    board.refresh()
    now = clock.now()
    failed = 0
    for feed in board.feeds:
        if feed.last_error:
            failed += 1
            kept = ("the station keeps its cached set of "
                    f"{plural(len(feed.offers), '%(num)d offer', '%(num)d offers')}"
                    if feed.from_cache else "nothing cached to fall back on")
            click.echo(f"offers[{feed.index}] {feed.feed}: FAILED: {feed.last_error} ({kept})")
        else:
            click.echo(f"offers[{feed.index}] {feed.feed}: ok, "
                       f"{plural(len(feed.offers), '%(num)d offer', '%(num)d offers')}")
    offers = [o for o in board.all_offers() if language is None or o.speaks(language)]
    showing = sum(o.visible(now) for o in offers)
    click.echo(f"{plural(showing, '%(num)d offer', '%(num)d offers')} on the idle screen now"
               + (f" in language {language}" if language else "") + ":")
    for offer in offers:
        click.echo(_line(offer, now))
    if failed:
        raise SystemExit(1)


COMMANDS = [offers_check]
