"""GET /healthz: 200 when patrons can be served, 503 when the database is gone."""

from __future__ import annotations

import pytest

from kiosk import create_app
from kiosk.config import parse


def test_health_reports_every_part(client):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["database"]["state"] == "ok"
    assert {"scanner", "printer", "ils"} <= body.keys()
    assert body["scanner"]["state"] == "absent"


@pytest.mark.sqlite_only
def test_unreachable_database_is_503(tmp_path):
    settings = parse({"database": {"url": "sqlite:////proc/no/such/kiosk.db"}})
    app = create_app(settings, {"TESTING": True, "SECRET_KEY": "test"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"]["state"] == "error"
