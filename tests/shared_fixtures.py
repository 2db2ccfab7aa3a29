"""Shared fixtures of single integrations: the in-memory schema, offers, the SIP2 peer,
a webhook receiver (registered by conftest.py's pytest_plugins)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from kiosk import create_app
from kiosk.extensions import db
from kiosk.models import AuditEvent, Item, Order


@pytest.fixture(scope="module")
def memory_engine():
    """An in-memory schema: plain domain functions over a session, no app, no migrations."""
    engine = create_engine("sqlite://", poolclass=StaticPool,
                           connect_args={"check_same_thread": False})
    db.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def plain(memory_engine):
    """A session on the in-memory schema; the orders a test wrote are gone after it."""
    with Session(memory_engine) as session:
        yield session
        session.rollback()
        for model in (AuditEvent, Item, Order):
            session.query(model).delete()
        session.commit()


@pytest.fixture
def offers_state_dir(tmp_path, monkeypatch) -> Path:
    """Keep the offers cache (and its pictures) in this test's folder on any backend."""
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path))
    return tmp_path


@pytest.fixture
def make_offers_app(make_settings):
    """Build station apps with these offers over this test's database (a second: a restart)."""
    apps = []

    def build(offers: list[dict]):
        app = create_app(make_settings({"offers": offers}),
                         {"TESTING": True, "WTF_CSRF_ENABLED": False})
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.engine.dispose()


# --- a SIP2 peer for the tests that talk to the library system ----------------------------
# `library` is a helpers_sip2.FakeLibrary with one patron (PATRON_CARD); a test module
# overrides it for other patrons, holds or encodings. These start pysip2 on it.

@pytest.fixture
def library():
    """The library system's data: one patron, PATRON_CARD, nothing on hold."""
    from helpers_sip2 import PATRON_CARD, FakeLibrary, Patron

    lib = FakeLibrary()
    lib.patrons[PATRON_CARD] = Patron()
    return lib


@pytest.fixture
def server(library):
    """A pysip2 server answering for the module's `library`, on a loopback port."""
    from helpers_sip2 import SipServer

    s = SipServer(library).start()
    yield s
    s.stop()


@pytest.fixture
def ils(library, server):
    """The library system's data and its running pysip2 server, as a pair."""
    return library, server


@pytest.fixture
def proxy(server):
    """The station talks to the proxy, whose port stays put while the ILS comes and goes."""
    from helpers_sip2 import FaultProxy

    p = FaultProxy(server.port)
    yield p
    p.close()


@pytest.fixture
def receiver():
    """A real webhook receiver on loopback (tests/webhook_receiver.py), stopped afterwards."""
    from webhook_receiver import Receiver

    with Receiver() as r:
        yield r
