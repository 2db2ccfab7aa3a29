"""The takeaway pickup station: app factory."""

from __future__ import annotations

from typing import Any

from flask import Flask

from kiosk import config as config_mod
from kiosk import dbwatch, webpolicy
from kiosk.appsetup import (
    MIGRATIONS,
    StationJSONProvider,
    configure_database,
    configure_i18n,
    configure_logging,
    load_secret_key,
    session_scope,
    static_folder,
)
from kiosk.domain.import_files import MAX_REQUEST_BYTES
from kiosk.extensions import csrf, db, limiter, migrate


def create_app(settings: config_mod.Settings | None = None,
               test_config: dict[str, Any] | None = None) -> Flask:
    """Create the station's Flask app from settings (default: $KIOSK_CONFIG or built-ins)."""
    settings = settings or config_mod.load()
    app = Flask(__name__, static_folder=str(static_folder()), static_url_path="/static")
    app.json = StationJSONProvider(app)
    app.config.update(
        KIOSK_SETTINGS=settings,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,  # the upload limit, in one place
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=settings.staff.session_minutes * 60,
        # Write the cookie only when the session changed: a static file or a slow request
        # that carried an older cookie must not put back a flash message already shown.
        SESSION_REFRESH_EACH_REQUEST=False,
        RATELIMIT_ENABLED=settings.kiosk.rate_limit != "off",
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.config.from_prefixed_env("KIOSK")
    if test_config:
        app.config.update(test_config)
    configure_logging(settings)
    configure_database(app)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_secret_key(app.config["SQLALCHEMY_DATABASE_URI"])

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS)
    dbwatch.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    configure_i18n(app, settings)
    webpolicy.init_app(app)

    from kiosk.station import Station
    from kiosk.views import register_blueprints

    app.extensions["station"] = Station(settings, session_scope=session_scope(app))
    register_blueprints(app)
    return app

