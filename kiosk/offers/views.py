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

from flask import (
    Blueprint,
    Flask,
    current_app,
    has_request_context,
    jsonify,
    render_template,
    request,
)

from kiosk import barcodes
from kiosk.extensions import limiter
from kiosk.offers.board import OfferBoard
from kiosk.offers.cache import OfferCache, cache_folder
from kiosk.offers.sources import Offer
from kiosk.staff import register_nav
from kiosk.staff.auth import login_required

log = logging.getLogger(__name__)

bp = Blueprint("offers", __name__)
PUBLIC_FIELDS = ("kind", "title", "text", "url", "image", "language")


@functools.lru_cache(maxsize=512)
def qr_for(url: str) -> str:
    """Return the QR code (inline SVG) of url, made once per url."""
    return barcodes.qr_svg(url)


def public(offer: Offer) -> dict[str, Any]:
    """Return what a patron screen gets of an offer, with the QR code of its url."""
    out = {key: getattr(offer, key) for key in PUBLIC_FIELDS}
    out["qr_svg"] = qr_for(offer.url)
    out["when"] = offer.when.isoformat() if offer.when else None
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


@bp.get("/kiosk/offers")
@limiter.exempt
def offers():
    settings = current_app.config["KIOSK_SETTINGS"]
    language = current_language(settings.station.language)
    response = jsonify({"offers": [public(o) for o in board().showing(language)],
                        "interval_s": settings.kiosk.offer_seconds, "language": language})
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/staff/offers")
@login_required
def staff_preview():
    settings = current_app.config["KIOSK_SETTINGS"]
    now = dt.datetime.now(dt.UTC)
    rows = []
    for offer in board().all_offers():
        state = ("showing" if offer.visible(now) else
                 "not yet" if offer.starts and now < offer.starts else "ended")
        rows.append({**public(offer), "state": state, "source": offer.source,
                     "starts": offer.starts, "ends": offer.ends,
                     "after_pickup": offer.after_pickup})
    feeds = [{**f.status(), "fetched": _local_time(f.fetched_at)} for f in board().feeds]
    return render_template("offers/preview.html", rows=rows, feeds=feeds,
                           interval_s=settings.kiosk.offer_seconds,
                           showing=[r for r in rows if r["state"] == "showing"])


def _local_time(stamp: float | None) -> str:
    return dt.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M") if stamp else ""


def _add_to_pickup(app: Flask, ob: OfferBoard):
    default = app.config["KIOSK_SETTINGS"].station.language

    def hook(_session: Any, _card: str, result: Any) -> None:
        if result.outcome != "ready" or not ob.has_after_pickup():
            return
        offer = ob.after_pickup(current_language(default))
        result.offer = public(offer) if offer else None

    return hook


def init_app(app: Flask) -> None:
    """Build the offers board (from the cache), register the pages and the after-pickup hook."""
    settings = app.config["KIOSK_SETTINGS"]
    ob = OfferBoard(settings.offers, OfferCache(cache_folder(settings)))
    app.extensions["offers"] = ob
    app.register_blueprint(bp)
    station = app.extensions.get("station")
    if station is not None:
        station.lookup_hooks.append(_add_to_pickup(app, ob))
    register_nav(app, "offers.staff_preview", "Offers")
