"""Closing a business day while a cashier opens a drawer for it, on real threads: the day
never ends closed with a session open in it."""

import threading

import pytest
from django.db import connections, transaction

from cashiering.errors import CashieringError
from cashiering.models import BusinessDay, CashierSession
from cashiering.services.closing import business_day_close
from tests.cashiering.factories import counter_setup, make_drawer, open_session
from tests.factories import TODAY

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 6


def _race(cashier, supervisor, drawer_code):
    start = threading.Barrier(2)
    outcomes = {}

    def opening():
        try:
            start.wait(timeout=30)
            outcomes["open"] = open_session(cashier, drawer_code)
        except BaseException as exc:
            outcomes["open"] = exc
        finally:
            connections.close_all()

    def closing():
        try:
            start.wait(timeout=30)
            outcomes["close"] = business_day_close(business_date=TODAY, user=supervisor)
        except BaseException as exc:
            outcomes["close"] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=opening), threading.Thread(target=closing)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return outcomes


def test_closing_the_day_while_a_drawer_opens_never_leaves_it_open_in_a_closed_day(
    cashier, supervisor
):
    counter_setup()
    for round_no in range(ROUNDS):
        drawer = make_drawer(f"C{round_no}")
        outcomes = _race(cashier, supervisor, drawer.code)
        for outcome in outcomes.values():
            assert isinstance(outcome, CashierSession | BusinessDay | CashieringError), outcome
        day = BusinessDay.objects.get(business_date=TODAY)
        open_now = CashierSession.objects.filter(
            business_date=TODAY, status=CashierSession.Status.OPEN
        )
        # Exactly one wins: the session opened and the close was refused naming it, or
        # the day closed and the opening was refused.
        assert day.is_closed != open_now.exists(), (round_no, outcomes)
        if day.is_closed:
            assert "is closed" in outcomes["open"].messages[0]
            with transaction.atomic():
                BusinessDay.objects.filter(pk=day.pk).update(status=BusinessDay.Status.OPEN)
        else:
            assert "still open: " in outcomes["close"].messages[0]
            CashierSession.objects.filter(pk=open_now.get().pk).update(
                status=CashierSession.Status.CLOSED
            )
            # Closed drawers of the day are not balanced: take them out of the way.
            CashierSession.objects.filter(business_date=TODAY).exclude(
                status=CashierSession.Status.OPEN
            ).update(is_training=True)
