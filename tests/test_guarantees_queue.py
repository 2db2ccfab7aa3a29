"""The ILS queue's exactly-once guarantees, against pysip2 answering as Koha does.

Found by mutation testing (scripts/mutation.sh ils/queue.py, docs/testing.md): with the guard
at the top of send_job deleted, a done or refused checkout was sent to the library again and
no test noticed.
"""

from __future__ import annotations

import logging

import pytest
from factories import make_order
from helpers_sip2 import PATRON_CARD, Patron, ils_config
from sqlalchemy import text

from kiosk.ils import queue
from kiosk.models import IlsJob

CARD = PATRON_CARD


@pytest.fixture
def config_overrides(server, tmp_path):
    return {"ils": ils_config(server.port, tmp_path)}


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


# --- found by the mutation run of 2026-12-01/02 (docs/testing.md) ---------------------

def _sent(session, station, item, card=CARD) -> IlsJob:
    job = queue.job_for_item(session, item, card)
    session.commit()
    queue.send_job(session, job, station.ils)
    return session.get(IlsJob, job.id)


def test_a_refused_checkout_collected_again_is_the_same_job_queued_to_the_new_card(
        session, station, library):
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    item = order.items[0]
    library.refuse[item.barcode] = "Låneren har for mange lån"
    job = _sent(session, station, item)
    assert job.state == queue.REFUSED
    library.patrons["N000000002"] = Patron()
    again = queue.job_for_item(session, item, "N000000002")
    session.commit()  # one job per item and kind: a second one would break the constraint
    assert again.id == job.id
    assert (again.state, again.card, again.message) == ("queued", "N000000002", None)
    del library.refuse[item.barcode]
    assert queue.send_job(session, again, station.ils) == queue.DONE
    assert library.loans == {item.barcode: "N000000002"}
    assert session.query(IlsJob).count() == 1


def test_a_done_checkout_is_not_queued_again_when_the_bag_is_collected_again(
        session, station, library):
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    item = order.items[0]
    job = _sent(session, station, item)
    again = queue.job_for_item(session, item, "N000000002")
    session.commit()
    assert (again.id, again.state, again.card) == (job.id, queue.DONE, CARD)
    assert queue.pending(session) == []


def test_a_checkout_records_its_due_date_and_time_on_the_job_and_the_item(
        session, station, library):
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    item = order.items[0]
    job = _sent(session, station, item)
    assert (job.state, job.due_date, job.message) == (queue.DONE, "2031-01-15", None)
    assert job.done_at is not None
    session.refresh(item)
    assert (item.due_date, item.ils_message) == ("2031-01-15", None)
    assert item.lent_at is not None


def test_a_long_refusal_is_kept_as_its_first_500_characters(session, station, library):
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    item = order.items[0]
    lines = tuple(f"{n} " + "Låneren har for mange lån, " * 7 for n in range(1, 5))
    library.refuse[item.barcode] = lines  # four AF fields of ~190 characters each
    words = " ".join(line.strip() for line in lines)
    assert len(words) > 700
    job = _sent(session, station, item)
    assert job.state == queue.REFUSED
    assert job.message == words[:500]
    session.refresh(item)
    assert item.ils_message == job.message


def test_a_job_whose_item_row_is_gone_still_records_the_answer(session, station, library):
    """An item deleted from the database (the foreign key sets item_id NULL): no crash."""
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    barcode = order.items[0].barcode
    job = queue.job_for_item(session, order.items[0], CARD)
    session.commit()
    job.item_id = None
    session.commit()
    assert queue.send_job(session, job, station.ils) == queue.DONE
    assert library.loans == {barcode: CARD}


def test_the_card_of_a_finished_checkout_is_forgotten_with_the_orders_card(
        session, station, library):
    import datetime as dt

    from kiosk.domain.clearance import anonymise_closed
    from kiosk.domain.orders import Actor, collect

    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    job = _sent(session, station, order.items[0])
    assert job.state == queue.DONE
    collect(session, order, Actor("test", "test"))
    session.commit()
    assert anonymise_closed(session, 30, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=31))
    session.commit()
    assert session.get(IlsJob, job.id).card == ""


def _queued_rows(session, n: int, attempts: int = 0) -> list[int]:
    from sqlalchemy import insert, select

    session.execute(insert(IlsJob), [
        {"kind": queue.CHECKOUT, "card": CARD, "item_barcode": f"LOST{i:04d}",
         "state": queue.QUEUED, "attempts": attempts} for i in range(n)])
    session.commit()
    return list(session.scalars(select(IlsJob.id).order_by(IlsJob.id)))


def test_a_replay_takes_at_most_200_jobs_oldest_first_and_the_rest_wait(session, station,
                                                                        library):
    ids = _queued_rows(session, 201, attempts=queue.MAX_ATTEMPTS)  # each one ends failed
    first = queue.replay(session, station.ils)
    assert first.failed == ids[:200]
    assert [j.id for j in queue.pending(session)] == ids[200:]
    assert queue.replay(session, station.ils).failed == ids[200:]
    assert library.checkouts == {}


def test_the_queue_lists_at_most_500_jobs_oldest_first(session, station):
    ids = _queued_rows(session, 501)
    assert [j.id for j in queue.pending(session)] == ids[:500]
    assert [j.id for j in queue.pending(session, 2)] == ids[:2]


def test_the_queue_is_sent_oldest_first_also_after_an_older_job_was_updated(
        session, station, library):
    """On PostgreSQL an updated row moves in the table: only ORDER BY keeps the order."""
    orders = [make_order(session, card=CARD, items=1, slot=f"A-0{n}", station=station)
              for n in (1, 2, 3)]
    jobs = [queue.job_for_item(session, o.items[0], CARD) for o in orders]
    session.commit()
    jobs[0].attempts = 1  # an older job touched after the younger ones were written
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        # Read the table as it lies (the updated row last), as PostgreSQL does once the
        # queue is large: an index must not hand us the order by chance.
        for scan in ("indexscan", "indexonlyscan", "bitmapscan"):
            session.execute(text(f"SET LOCAL enable_{scan} = off"))
    assert [j.id for j in queue.pending(session)] == [j.id for j in jobs]
    assert queue.replay(session, station.ils).done == [j.id for j in jobs]


def test_staff_cannot_put_a_done_checkout_back_in_the_queue(session, station, library):
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    job = _sent(session, station, order.items[0])
    assert queue.retry(session, job.id) is None
    assert queue.retry(session, 10**9) is None  # no such job
    assert session.get(IlsJob, job.id).state == queue.DONE
    assert queue.replay(session, station.ils).done == []
    assert library.checkouts[order.items[0].barcode] == 1


def test_a_failed_job_retried_by_staff_counts_as_maybe_sent_with_new_tries(
        session, station, library):
    """Retried, a failed job may have reached the ILS (1), with MAX_ATTEMPTS - 1 tries left."""
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    job = queue.job_for_item(session, order.items[0], CARD)
    job.attempts = queue.MAX_ATTEMPTS
    session.commit()
    assert queue.send_job(session, job, station.ils) == queue.FAILED
    assert queue.retry(session, job.id).attempts == 1
    library.renew_repeats = False  # this ILS refuses the repeat of a loan it already made
    library.loans[order.items[0].barcode] = CARD
    assert queue.send_job(session, job, station.ils) == queue.DONE
    assert session.get(IlsJob, job.id).message == "already lent to this patron"


def test_a_first_refusal_is_believed_without_asking_for_the_patrons_loans(
        session, station, library):
    """Only a job that may have reached the ILS before (attempts > 0) asks 63 for its loans."""
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    item = order.items[0]
    library.renew_repeats = False
    library.loans[item.barcode] = CARD  # lent at the desk, not by this job
    job = _sent(session, station, item)
    assert (job.state, job.message) == (queue.REFUSED, "Item already checked out to you")
    assert library.patron_requests == []


def test_a_first_checkout_answered_as_a_renewal_keeps_the_ils_words(session, station, library):
    """"already lent to this patron" is only said of a job that may have been sent before."""
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    item = order.items[0]
    library.loans[item.barcode] = CARD  # lent at the desk; the ILS renews on a repeat
    job = _sent(session, station, item)
    assert (job.state, job.message) == (queue.DONE, "Renewed")


def test_a_refusal_without_words_is_recorded_as_refused_by_the_ils(session, station, library):
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    item = order.items[0]
    library.refuse[item.barcode] = ""  # ok=0 and no screen message
    job = _sent(session, station, item)
    assert (job.state, job.message) == (queue.REFUSED, "refused by the ILS")


def _queue_log(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "kiosk.ils.queue"]


def test_a_refusal_is_logged_with_the_item_the_masked_card_and_the_reason(
        session, station, library, caplog):
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    item = order.items[0]
    library.refuse[item.barcode] = "Låneren har for mange lån"
    with caplog.at_level(logging.INFO, logger="kiosk.ils.queue"):
        _sent(session, station, item)
    assert _queue_log(caplog) == [f"checkout of item {item.barcode} to card *******001 "
                                  "refused: Låneren har for mange lån"]
    assert CARD not in caplog.text


@pytest.mark.parametrize("refuse, failed, summary", [
    (False, False, "replayed ILS jobs: 1 done, 0 refused, 0 failed"),
    (True, False, "replayed ILS jobs: 0 done, 1 refused, 0 failed"),
    (False, True, "replayed ILS jobs: 0 done, 0 refused, 1 failed"),
])
def test_a_replay_that_moved_jobs_logs_how_many_ended_how(session, station, library, caplog,
                                                          refuse, failed, summary):
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    job = queue.job_for_item(session, order.items[0], CARD)
    job.attempts = queue.MAX_ATTEMPTS if failed else 0
    session.commit()
    if refuse:
        library.refuse[order.items[0].barcode] = "Nei"
    with caplog.at_level(logging.INFO, logger="kiosk.ils.queue"):
        queue.replay(session, station.ils)
        queue.replay(session, station.ils)  # nothing left: nothing to say
    assert _queue_log(caplog)[-1] == summary
    assert sum("replayed ILS jobs" in line for line in _queue_log(caplog)) == 1


def test_a_replay_paused_by_the_link_logs_why(session, station, library, server, caplog):
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    queue.job_for_item(session, order.items[0], CARD)
    session.commit()
    server.stop()
    with caplog.at_level(logging.INFO, logger="kiosk.ils.queue"):
        report = queue.replay(session, station.ils)
    assert report.link_down and report.done == []
    [line] = _queue_log(caplog)
    reason = line.removeprefix("replay of ILS jobs paused: ")
    assert reason != line and reason not in ("", "None", "%s")  # the link's own words
