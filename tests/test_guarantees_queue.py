"""The ILS queue's exactly-once guarantees, against pysip2 answering as Koha does.

Found by mutation testing (scripts/mutation.sh ils/queue.py, docs/testing.md): with the guard
at the top of send_job deleted, a done or refused checkout was sent to the library again and
no test noticed.
"""

from __future__ import annotations

import pytest
from factories import make_order
from helpers_sip2 import FakeLibrary, Patron, ils_config

from kiosk.ils import queue
from kiosk.models import IlsJob

CARD = "N000000001"


@pytest.fixture
def library():
    lib = FakeLibrary()
    lib.patrons[CARD] = Patron()
    return lib


@pytest.fixture
def config_overrides(server, tmp_path):
    return {"ils": ils_config(server.port, tmp_path)}


@pytest.fixture(autouse=True)
def _close_link(app):
    yield
    if app.extensions["station"].ils is not None:
        app.extensions["station"].ils.close()


def test_a_refused_checkout_is_never_sent_again(session, station, library):
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    barcode = order.items[0].barcode
    library.refuse[barcode] = "Låneren har for mange lån"
    job = queue.job_for_item(session, order.items[0], CARD)
    session.commit()
    assert queue.send_job(session, job, station.ils) == queue.REFUSED
    assert library.checkouts[barcode] == 1
    del library.refuse[barcode]  # the library would now lend it: still, nothing is sent
    assert queue.send_job(session, job, station.ils) == queue.REFUSED
    assert queue.replay(session, station.ils).done == []
    assert library.checkouts[barcode] == 1
    assert session.get(IlsJob, job.id).attempts == 1
    assert session.get(IlsJob, job.id).message == "Låneren har for mange lån"


def test_a_done_checkout_is_never_sent_again(session, station, library):
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    barcode = order.items[0].barcode
    job = queue.job_for_item(session, order.items[0], CARD)
    session.commit()
    assert queue.send_job(session, job, station.ils) == queue.DONE
    assert queue.send_job(session, job, station.ils) == queue.DONE
    assert queue.replay(session, station.ils).done == []
    assert library.checkouts[barcode] == 1
    assert session.get(IlsJob, job.id).attempts == 1


def test_a_failed_job_is_not_sent_until_staff_retry_it(session, station, library):
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    barcode = order.items[0].barcode
    job = queue.job_for_item(session, order.items[0], CARD)
    job.attempts = queue.MAX_ATTEMPTS
    session.commit()
    assert queue.send_job(session, job, station.ils) == queue.FAILED
    assert session.get(IlsJob, job.id).message == (
        f"no answer from the ILS after {queue.MAX_ATTEMPTS} attempts")
    assert queue.send_job(session, job, station.ils) == queue.FAILED
    assert library.checkouts[barcode] == 0
    assert queue.counts(session) == {"queued": 0, "done": 0, "refused": 0, "failed": 1}


def test_the_last_allowed_attempt_is_still_sent(session, station, library):
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    barcode = order.items[0].barcode
    job = queue.job_for_item(session, order.items[0], CARD)
    job.attempts = queue.MAX_ATTEMPTS - 1
    session.commit()
    assert queue.send_job(session, job, station.ils) == queue.DONE
    assert library.checkouts[barcode] == 1
    assert session.get(IlsJob, job.id).attempts == queue.MAX_ATTEMPTS
