"""Deposits racing each other on real PostgreSQL connections: one session, one deposit."""

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connections

from cashiering.errors import DepositError
from cashiering.models import CashierSession, Deposit, DepositSession
from cashiering.services.deposits import deposit_prepare
from kent_cs.numbering import peek_number
from kent_cs.roles import Role
from ledger.models import JournalEntry
from tests.cashiering.deposit_factories import balance
from tests.cashiering.factories import counter_setup, fee, open_session, post, unbalanced_entries
from tests.factories import TODAY, make_user

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal


def run_together(tasks: list[Callable[[], object]]) -> list[tuple[str, object]]:
    start = threading.Barrier(len(tasks))
    outcomes: list[tuple[str, object]] = [("missing", None)] * len(tasks)

    def run(index: int, task: Callable[[], object]) -> None:
        try:
            start.wait(timeout=30)
            outcomes[index] = ("ok", task())
        except BaseException as exc:
            outcomes[index] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(tasks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return outcomes


def _balanced_session():
    counter = counter_setup()
    cashier = make_user("cashier", Role.CASHIER)
    session = open_session(cashier, "D1")
    post(session, [fee("PET")], [counter.cash("30.00")])
    post(session, [fee("PET")], [counter.card("30.00")])
    return balance(session)


def test_two_technicians_depositing_the_same_session_one_wins():
    session = _balanced_session()
    technicians = [make_user(f"tech_{i}", Role.TECHNICIAN) for i in range(2)]

    def deposit(user):
        return lambda: deposit_prepare(
            sessions=[session],
            currency_count={"20.00": 1, "10.00": 1},
            idempotency_key=uuid.uuid4(),
            user=user,
            deposit_date=TODAY,
        )

    outcomes = run_together([deposit(user) for user in technicians])

    winners = [value for kind, value in outcomes if kind == "ok"]
    losers = [value for kind, value in outcomes if kind == "error"]
    assert len(winners) == 1 and len(losers) == 1
    assert isinstance(losers[0], DepositError)
    assert losers[0].message_dict["sessions"] == [
        f"Session D1 cashier {TODAY} has already been deposited."
    ]
    assert Deposit.objects.count() == 2  # the cash deposit and the card settlement
    assert DepositSession.objects.filter(session=session).count() == 2
    assert sorted(Deposit.objects.values_list("number", flat=True)) == [1, 2]
    assert peek_number("deposit") == 3  # the loser took no number: no gap
    assert JournalEntry.objects.filter(source="deposit").count() == 2
    assert CashierSession.objects.get(pk=session.pk).status == "deposited"
    assert unbalanced_entries() == []


def test_a_double_submit_racing_itself_returns_one_deposit():
    session = _balanced_session()
    technician = make_user("technician", Role.TECHNICIAN)
    key = uuid.uuid4()

    def submit():
        return deposit_prepare(
            sessions=[session],
            currency_count={"20.00": 1, "10.00": 1},
            idempotency_key=key,
            user=technician,
            deposit_date=TODAY,
        )

    outcomes = run_together([submit, submit, submit])

    assert [kind for kind, _ in outcomes] == ["ok", "ok", "ok"]
    assert len({value.pk for _, value in outcomes}) == 1
    assert Deposit.objects.count() == 2
