"""Shared fixtures: a per-test database on SQLite or, with KIOSK_TEST_POSTGRES, PostgreSQL.

Set KIOSK_TEST_POSTGRES to an admin URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5433/postgres)
and every test gets a fresh PostgreSQL database cloned from a migrated template.
"""

from __future__ import annotations

import gc
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import clock_switch
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kiosk import create_app
from kiosk.config import parse
from kiosk.extensions import db
from kiosk.schema import upgrade_database

# Fixtures of single integrations (the in-memory schema, offers, the SIP2 peer, a
# webhook receiver) live in tests/shared_fixtures.py.
pytest_plugins = ["shared_fixtures"]

POSTGRES_ADMIN = os.environ.get("KIOSK_TEST_POSTGRES", "")
ENGINE = "postgresql" if POSTGRES_ADMIN else "sqlite"

BASE_CONFIG = {
    "station": {"name": "Test station", "branch": "main"},
    "shelves": [{"name": "A", "slots": 6, "capacity": 2}, {"name": "B", "slots": 4, "capacity": 3}],
    "kiosk": {"rate_limit": "off"},
}


# --- the clock: the station's zone, and a whole run on another day ----------------------
# Stations run in Europe/Oslo (Debian's /etc/localtime in Bærum), and so does the suite,
# whatever zone the machine has (CI's is UTC): the hours where the UTC date and the
# station's date differ (23:00-24:00 UTC in winter) then exist in tests as they do at a
# library, instead of UTC hiding them. KIOSK_TEST_TZ=UTC runs the suite in another zone.
TEST_TZ = os.environ.get("KIOSK_TEST_TZ") or "Europe/Oslo"
os.environ["TZ"] = TEST_TZ
time.tzset()

# KIOSK_TEST_TODAY=2026-12-25 (or 2026-12-25T10:00, 2026-12-08T23:30Z) moves the clock of
# the whole run there, ticking on (tests/clock_switch.py): every test must pass on any day.
# Tests that pin their own day still get it. Browser tests are skipped in such a run:
# Chromium's clock cannot be moved with the station's, so they run on the real day.
TEST_TODAY = os.environ.get("KIOSK_TEST_TODAY", "")


def pytest_configure(config):
    if not Path("/usr/share/zoneinfo", TEST_TZ).exists():
        raise pytest.UsageError(f"the zone {TEST_TZ} is missing: apt-get install tzdata")
    if TEST_TODAY:
        clock_switch.start(TEST_TODAY, TEST_TZ)


def pytest_unconfigure(config):
    clock_switch.stop()


def pytest_report_header(config):
    moved = f", moved to {clock_switch.moment(TEST_TODAY, TEST_TZ)}" if TEST_TODAY else ""
    return f"clock: zone {TEST_TZ}{moved} (KIOSK_TEST_TZ, KIOSK_TEST_TODAY)"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if TEST_TODAY and item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason="KIOSK_TEST_TODAY: browser tests keep "
                                                    "the real day (Chromium's clock)"))
        if ENGINE == "postgresql" and item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason="SQLite only; this run is on PostgreSQL"))
        if ENGINE == "sqlite" and item.get_closest_marker("postgres_only"):
            item.add_marker(pytest.mark.skip(reason="PostgreSQL only; set KIOSK_TEST_POSTGRES"))


def _admin_execute(sql: str) -> None:
    engine = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def _postgres_url(name: str) -> str:
    return make_url(POSTGRES_ADMIN).set(database=name).render_as_string(hide_password=False)


def merge(base: dict, extra: dict | None) -> dict:
    """Return base with the sections of extra laid over it (one level deep)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = value
    return out



@pytest.fixture(scope="session", autouse=True)
def leftover_connections_are_reported_not_fatal() -> Iterator[None]:
    """Collect what the tests left for the garbage collector, reporting unclosed connections.

    A database connection that some test's app left in its pool is closed by the garbage
    collector at the end; pytest then turns psycopg's ResourceWarning into an error after
    every test has passed (seen once on PostgreSQL, not traced to one test in time). Collect
    here, say what was left, and let the tests' own results decide.
    """
    yield
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    for w in caught:
        if issubclass(w.category, ResourceWarning):
            print(f"\nleft open by a test and closed at the end: {w.message}")

@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> str:
    """Create a migrated database once per run; tests get copies of it."""
    if ENGINE == "postgresql":
        name = f"kiosk_tpl_{uuid.uuid4().hex[:8]}"
        _admin_execute(f'CREATE DATABASE "{name}"')
        url = _postgres_url(name)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'template.db'}"
    app = create_app(parse(merge(BASE_CONFIG, {"database": {"url": url}})), {"TESTING": True})
    upgrade_database(app)
    with app.app_context():
        db.engine.dispose()
    yield url
    if ENGINE == "postgresql":
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(template_db, tmp_path) -> Iterator[str]:
    """Return the URL of a fresh database for this test, already migrated."""
    if ENGINE == "postgresql":
        name = f"kiosk_t_{uuid.uuid4().hex[:10]}"
        tpl = make_url(template_db).database
        _admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{tpl}"')
        yield _postgres_url(name)
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = tmp_path / "kiosk.db"
        shutil.copy(make_url(template_db).database, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def make_settings(database_url):
    """Return a function building validated settings over the test database."""

    def build(extra: dict | None = None):
        return parse(merge(merge(BASE_CONFIG, {"database": {"url": database_url}}), extra))

    return build


@pytest.fixture
def config_overrides() -> dict:
    """Override in a test module to change the app's configuration."""
    return {}


@pytest.fixture
def app(make_settings, config_overrides):
    app = create_app(make_settings(config_overrides), {"TESTING": True,
                                                       "WTF_CSRF_ENABLED": False})
    upgrade_database(app)  # brings shelves in line with this test's configuration
    yield app
    link = app.extensions["station"].ils  # a library-system link the test opened
    if link is not None:
        link.close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    """A database session inside an app context."""
    with app.app_context():
        yield db.session
        db.session.rollback()


@pytest.fixture
def station(app):
    return app.extensions["station"]


@pytest.fixture
def shared_dir() -> Path:
    return Path(__file__).parent


# --- a live station and real Chromium, for browser tests ---------------------------

CHROMIUM = os.environ.get("KIOSK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage",
                 # as systemd/kiosk-browser.service: the station speaks without a click
                 "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture
def live_server(app):
    """Serve the test app with waitress on a free loopback port; yield its base URL."""
    import threading

    from kiosk.serving import make_server, stop_server

    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    stop_server(app, server)
    thread.join(timeout=5)
    assert not thread.is_alive(), "the test server did not stop"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; skipped (or failed in CI) when absent."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("KIOSK_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} not found and KIOSK_REQUIRE_BROWSER is set")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait for the state they expect; a loaded two-core CI machine may take
    # longer than Playwright's default 5 s to load a page or answer a scan.
    expect.set_options(timeout=15_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser page (1280×800, like an entrance screen) pointed at the live server."""
    context = browser.new_context(viewport={"width": 1280, "height": 800},
                                  base_url=live_server)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def zbarimg() -> str:
    """Return the independent decoder zbarimg; skip (fail in CI) when it is absent."""
    found = shutil.which("zbarimg")
    if not found:
        if os.environ.get("KIOSK_REQUIRE_ZBAR"):
            pytest.fail("zbarimg not found and KIOSK_REQUIRE_ZBAR is set")
        pytest.skip("zbarimg (zbar-tools) not installed")
    return found


@pytest.fixture
def in_oslo() -> Iterator[None]:
    """Run the station (this process, its server threads) in Europe/Oslo local time, as
    Debian's /etc/localtime sets it in Bærum; the zone before is back afterwards."""
    if not Path("/usr/share/zoneinfo/Europe/Oslo").exists():
        pytest.fail("tzdata is missing: apt-get install tzdata")
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Oslo"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()
