"""Offers for screens: GET /kiosk/offers (the idle rotation), GET /staff/offers (a preview).

Also hooks the after-pickup offer into the scan result. Requests only read the
board in memory; feeds are fetched by `kiosk.offers.runtime`.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    has_request_context,
    jsonify,
    render_template,
    request,
)

from kiosk import barcodes, clock
from kiosk.domain.messages import N_
from kiosk.extensions import limiter
from kiosk.offers.board import OfferBoard
from kiosk.offers.cache import OfferCache, cache_folder
from kiosk.offers.images import MIMETYPES, ROUTE, ImageStore
from kiosk.offers.sources import Offer
from kiosk.staff import register_nav
from kiosk.staff.auth import login_required
from kiosk.staff.words import namer
from kiosk.views.errors import json_error

log = logging.getLogger(__name__)

bp = Blueprint("offers", __name__)
PUBLIC_FIELDS = ("kind", "title", "text", "url", "image", "language")
IMAGES = "images"  # the pictures' folder inside the offers cache
LOCALES = {"en": "en_GB"}  # English on a European station: 24-hour clock, day before month


@functools.lru_cache(maxsize=512)
def qr_for(url: str) -> str:
    """Return the QR code (inline SVG) of url, made once per url."""
    return barcodes.qr_svg(url)


def when_text(offer: Offer, language: str) -> str:
    """Return an event's date (and time, unless all-day) in the station's local time, as
    the language writes it: "tirsdag 30. mars 2027, 18:00"; "" for an offer without one."""
    if offer.when is None:
        return ""
    local = offer.when.astimezone()  # the station's zone, with the offset of that very day
    try:
        locale = Locale.parse(LOCALES.get(language, language))
    except (UnknownLocaleError, ValueError, TypeError):
        locale = Locale.parse("en_GB")
    day = format_date(local.date(), "full", locale=locale)
    if offer.all_day:
        return day
    clock = format_time(local, "short", tzinfo=local.tzinfo, locale=locale)
    pattern = get_datetime_format("full", locale=locale).replace("'", "")
    return pattern.replace("{0}", clock).replace("{1}", day)


def public(offer: Offer, language: str = "") -> dict[str, Any]:
    """Return what a patron screen gets of an offer, with the QR code of its url."""
    out = {key: getattr(offer, key) for key in PUBLIC_FIELDS}
    out["qr_svg"] = qr_for(offer.url)
    local = offer.when.astimezone() if offer.when else None
    out["when"] = local.date().isoformat() if local and offer.all_day else (
        local.isoformat() if local else None)
    out["all_day"] = offer.all_day
    out["when_text"] = when_text(offer, language or offer.language.split(",")[0] or "nb")
    return out


def board(app: Flask | None = None) -> OfferBoard:
    """Return the app's offers board."""
    return (app or current_app).extensions["offers"]


def current_language(default: str) -> str:
    """Return the language of this request: ?lang=, else the page's locale, else default."""
    if not has_request_context():
        return default
    wanted = request.args.get("lang", "")
    if re.fullmatch(r"[a-z]{2,3}", wanted):
        return wanted
    try:
        from flask_babel import get_locale

        locale = get_locale()
    except Exception:  # no Babel set up for this request: the station's language serves
        return default
    return locale.language if locale else default


@bp.get(f"{ROUTE}<name>")
@limiter.exempt
def image(name: str):
    """Serve an offer's picture, fetched and checked by the refresher."""
    store = board().images
    path = store.path(name) if store else None
    if path is None:
        return json_error(404, "no such picture", "The offer's picture is not on this station")
    try:
        data = path.read_bytes()  # at most images.MAX_IMAGE_BYTES
    except OSError:
        return json_error(404, "no such picture", "The offer's picture is not on this station")
    return Response(data, mimetype=MIMETYPES[path.suffix[1:]],
                    headers={"Cache-Control": "public, max-age=86400"})


@bp.get("/kiosk/offers")
@limiter.exempt
def offers():
    settings = current_app.config["KIOSK_SETTINGS"]
    language = current_language(settings.station.language)
    response = jsonify({"offers": [public(o, language) for o in board().showing(language)],
                        "interval_s": settings.kiosk.offer_seconds, "language": language})
    response.headers["Cache-Control"] = "no-cache"
    return response


# What staff read for an offer's state and kind.
STATES = {"showing": N_("showing now"), "not yet": N_("not yet"), "ended": N_("ended")}
KINDS = {"ebooks": N_("E-books and audiobooks"), "podcast": N_("Podcast"), "event": N_("Event"),
         "language-cafe": N_("Language café"), "other": N_("From the library")}


@bp.get("/staff/offers")
@login_required
def staff_preview():
    settings = current_app.config["KIOSK_SETTINGS"]
    now = clock.now()
    rows = []
    for offer in board().all_offers():
        state = ("showing" if offer.visible(now) else
                 "not yet" if offer.starts and now < offer.starts else "ended")
        rows.append({**public(offer, settings.station.language), "state": state,
                     "source": offer.source,
                     "starts": offer.starts, "ends": offer.ends,
                     "after_pickup": offer.after_pickup})
    feeds = [{**f.status(), "fetched": _local_time(f.fetched_at)} for f in board().feeds]
    return render_template("offers/preview.html", rows=rows, feeds=feeds,
                           state_name=namer(STATES), kind_name=namer(KINDS),
                           interval_s=settings.kiosk.offer_seconds,
                           showing=[r for r in rows if r["state"] == "showing"])


def _local_time(stamp: float | None) -> str:
    return dt.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M") if stamp else ""


def _add_to_pickup(app: Flask, ob: OfferBoard):
    default = app.config["KIOSK_SETTINGS"].station.language

    def hook(_session: Any, _card: str, result: Any) -> None:
        if result.outcome != "ready" or not ob.has_after_pickup():
            return
        language = current_language(default)
        offer = ob.after_pickup(language)
        result.offer = public(offer, language) if offer else None

    return hook


def init_app(app: Flask) -> None:
    """Build the offers board (from the cache), register the pages and the after-pickup hook."""
    settings = app.config["KIOSK_SETTINGS"]
    folder = cache_folder(settings)
    ob = OfferBoard(settings.offers, OfferCache(folder), ImageStore(folder / IMAGES))
    app.extensions["offers"] = ob
    app.register_blueprint(bp)
    station = app.extensions.get("station")
    if station is not None:
        station.lookup_hooks.append(_add_to_pickup(app, ob))
    register_nav(app, "offers.staff_preview", N_("Offers"))
