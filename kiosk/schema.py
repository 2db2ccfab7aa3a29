"""Create or upgrade the database schema (Alembic migrations) and the configured shelves."""

from __future__ import annotations

import logging

from flask import Flask
from flask_migrate import upgrade

from kiosk.domain.shelving import sync_shelves
from kiosk.extensions import db

log = logging.getLogger(__name__)


def upgrade_database(app: Flask) -> list[str]:
    """Run every pending migration, then bring shelves in line; return what changed."""
    with app.app_context():
        logging.getLogger("alembic").setLevel(logging.WARNING)
        upgrade(directory=app.extensions["migrate"].directory)
        changes = sync_shelves(db.session, app.config["KIOSK_SETTINGS"].shelves)
        db.session.commit()
    for change in changes:
        log.info("%s", change)
    return changes
