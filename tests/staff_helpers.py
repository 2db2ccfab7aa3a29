"""Helpers for the staff tests: make an account and log a test client in."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from flask_babel import refresh

from kiosk.domain import accounts
from kiosk.extensions import db

PASSWORD = "correct horse"

# Real argon2id, with parameters cheap enough for a test suite on two cores.
accounts.use_hasher(PasswordHasher.from_parameters(CHEAPEST))


def make_user(app: Flask, username: str = "kari", role: str = "staff", card: str | None = None,
              pin: str | None = None) -> int:
    """Create a staff account; return its id."""
    with app.app_context():
        user = accounts.create_user(db.session, username, PASSWORD, role, card=card, pin=pin)
        db.session.commit()
        return user.id


def login(client: FlaskClient, app: Flask, username: str = "kari", role: str = "staff"):
    """Create an account and log client in with it, in English (the staff tests read English)."""
    if has_app_context():
        refresh()  # a test's open app context would keep the language of its first request
    client.get("/staff/login?lang=en")
    make_user(app, username, role)
    response = client.post("/staff/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.data
    return response
