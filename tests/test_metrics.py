"""GET /metrics: Prometheus text that the official client's own parser reads."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from days import ORDINARY_TUESDAY
from factories import ACTOR, make_order
from prometheus_client.parser import text_string_to_metric_families

from kiosk.domain import importer
from kiosk.models import IlsJob, Order


def scrape(client, **kwargs) -> dict[str, list]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain; version=")
    families = {f.name: f.samples for f in text_string_to_metric_families(response.text)}
    return families


def value(families: dict, name: str, **labels) -> float:
    family = name.removesuffix("_total").removesuffix("_count").removesuffix("_bucket")
    for sample in families.get(family, []) + families.get(name, []):
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    raise AssertionError(f"no sample {name} {labels}")


@pytest.mark.time_machine(ORDINARY_TUESDAY)
def test_scans_orders_shelves_and_devices_are_counted(app, client, session, station):
    make_order(session, card="N300000001", slot="A-01", station=station)
    make_order(session, card="N300000002")
    late = make_order(session, card="N300000003", slot="B-01", station=station)
    late.deadline = dt.date(2026, 12, 5)  # last Saturday: past
    session.commit()
    for code in ("N300000001", "N300000001", "N399999999", "hello"):
        client.post("/kiosk/scan", json={"code": code})
    station.devices["printer"].set("error", "network printer 127.0.0.1:9100: out of paper")

    families = scrape(client)
    assert value(families, "kiosk_scans_total", outcome="ready", source="screen") == 2
    assert value(families, "kiosk_scans_total", outcome="not_recognised") == 1
    assert value(families, "kiosk_scan_duration_seconds_count") == 4
    assert value(families, "kiosk_orders", status="ready") == 2
    assert value(families, "kiosk_orders", status="received") == 1
    assert value(families, "kiosk_orders", status="collected") == 0
    assert value(families, "kiosk_shelf_places") == 6 * 2 + 4 * 3
    assert value(families, "kiosk_shelf_places_free") == 6 * 2 + 4 * 3 - 2
    assert value(families, "kiosk_bags_past_last_day") == 1
    assert value(families, "kiosk_device_state", device="printer", state="error") == 1
    assert value(families, "kiosk_device_state", device="printer", state="ok") == 0
    assert value(families, "kiosk_device_state", device="scanner", state="absent") == 1
    assert value(families, "kiosk_printer_paper_out") == 1
    assert value(families, "kiosk_database_up") == 1
    text = client.get("/metrics").text
    for secret in ("N300000001", "N399999999", "hello", late.pickup_code):
        assert secret not in text


def test_sip2_queue_depth_and_oldest_age(client, session):
    order = make_order(session)
    hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    for n, item in enumerate(order.items):
        session.add(IlsJob(order_id=order.id, item_id=item.id, card=order.card,
                                item_barcode=item.barcode, created_at=hour_ago
                                + dt.timedelta(minutes=n)))
    session.add(IlsJob(card="N1", item_barcode="x", state="done"))
    session.commit()
    families = scrape(client)
    assert value(families, "kiosk_sip2_queue_depth") == 2
    assert 3590 < value(families, "kiosk_sip2_queue_oldest_age_seconds") < 3700


def test_import_durations_are_observed(app, client, session, station):
    data = io.BytesIO(b"card,item_barcode\nN300000011,0301\nN300000012,0302\n")
    importer.import_orders(session, data, ACTOR, station.cards, "main", fmt="csv")
    session.commit()
    families = scrape(client)
    assert value(families, "kiosk_import_duration_seconds_count") == 1
    assert value(families, "kiosk_imported_orders_total") == 2
    assert session.query(Order).count() == 2


def test_only_loopback_may_scrape_without_a_token(client):
    far = {"REMOTE_ADDR": "192.0.2.7"}
    assert client.get("/metrics", environ_base=far).status_code == 403
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "192.0.2.7"})
    assert proxied.status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


@pytest.mark.parametrize("header", ["Via", "Forwarded", "X-Real-IP"])
def test_a_request_a_proxy_passed_on_is_not_loopback_even_without_x_forwarded_for(client,
                                                                                  header):
    """waitress drops X-Forwarded-For when the proxy is not trusted; Via stays (issue 26)."""
    assert client.get("/metrics", headers={header: "1.1 kiosk-nginx"}).status_code == 403


def test_no_label_holds_a_url_whatever_an_integration_names(app, client):
    secret_url = "https://hooks.example.org/t/s3cr3t-token"

    def source(session):
        from prometheus_client.core import GaugeMetricFamily
        gauge = GaugeMetricFamily("kiosk_test_neighbour", "A test source.", labels=["peer"])
        gauge.add_metric([secret_url], 1.0)
        yield gauge

    app.extensions.setdefault("metrics_sources", []).append(source)
    response = client.get("/metrics")
    assert "s3cr3t" not in response.text and "://" not in response.text
    [sample] = scrape(client)["kiosk_test_neighbour"]
    assert sample.labels["peer"].startswith("url-") and len(sample.labels["peer"]) == 16


@pytest.fixture
def config_overrides(tmp_path, request):
    if "token_file" not in request.node.name:
        return {}
    path = tmp_path / "metrics-token"
    path.write_text("prometheus-scrape-token-0123\n")
    return {"metrics": {"token_file": str(path)}}


def test_with_a_token_file_the_token_is_needed_from_anywhere(client):
    assert client.get("/metrics").status_code == 401
    wrong = {"Authorization": "Bearer nope-nope-nope-nope"}
    assert client.get("/metrics", headers=wrong).status_code == 401
    good = {"Authorization": "Bearer prometheus-scrape-token-0123"}
    families = scrape(client, headers=good, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert value(families, "kiosk_database_up") == 1
