"""A check payment reversed after its drawer closed, the whole way: the check is in no
drawer (neither the reversal's nor, once reversed, the one that took it), the blind
closes balance without listing it, the balancing page and the deposit name it as handed
back, the deposit leaves it out, and every clearing account ends at zero. A check already
at the bank cannot be reversed."""

import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse as url

from cashiering.errors import CashieringError
from cashiering.models import CorrectionRequest, Deposit, Receipt, SessionCount
from cashiering.reports_daily import daily_cash_report
from cashiering.selectors.balancing import day_balancing, session_expected
from cashiering.selectors.deposits import (
    checks_handed_back,
    deposit_checks,
    deposit_detail,
    sessions_ready_by_ids,
)
from cashiering.services.closing import CheckInput, session_balance, session_blind_close
from cashiering.services.corrections import correction_approve, correction_request
from cashiering.services.deposits import deposit_prepare
from cashiering.services.sessions import session_close
from ledger.models import GLAccount
from tests.cashiering.factories import (
    counter_setup,
    fee,
    open_session,
    post,
    reverse,
    rolled_back,
    unbalanced_entries,
)
from tests.factories import TODAY

D = Decimal
NEXT_DAY = date(2026, 3, 17)
CURRENCY = {"20.00": 1, "5.00": 2}  # 30.00: D1's cash less its float


@pytest.fixture(scope="module")
def _counter_once(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), rolled_back():
        yield counter_setup()


@pytest.fixture
def counter(_counter_once, db):
    return _counter_once


def _pieces_of(session) -> dict[str, int]:
    """The cash in the drawer by denomination, for a float of 160.00 plus `extra`."""
    extra = session_expected(session).cash - D("160.00")
    pieces = {"100.00": 1, "20.00": 3}
    if extra:
        pieces["5.00"] = int(extra // 5)
    return pieces


def _count(session, checks, user):
    return session_blind_close(
        session=session,
        cash_count=_pieces_of(session),
        checks=checks,
        card_settlement="",
        user=user,
    )


def _clearing_nonzero() -> list[tuple[str, Decimal]]:
    rows = GLAccount.objects.filter(is_clearing=True).annotate(
        debits=Sum("lines__debit"), credits=Sum("lines__credit")
    )
    return [
        (a.code, (a.debits or D(0)) - (a.credits or D(0)))
        for a in rows
        if (a.debits or D(0)) != (a.credits or D(0))
    ]


def test_a_check_reversed_before_its_drawer_is_counted_goes_back_the_whole_way(
    counter, cashier, supervisor, technician, client_for
):
    first = open_session(cashier, "D1")
    post(first, [fee("PET")], [counter.cash("30.00")], payer="Ana Ruiz")
    kept = post(first, [fee("PET")], [counter.check("30.00", number="1042")])
    paid = post(
        first, [fee("PET", quantity=2)], [counter.check("60.00", number="3003", payer="Pat Moore")]
    )
    session_close(session=first, user=cashier)

    # Later that day, at another drawer, the payment by check #3003 is reversed.
    second = open_session(cashier, "D2")
    post(second, [fee("PET")], [counter.check("30.00", number="7007", payer="Lee Chu")])
    reversal = reverse(paid, requester=cashier, approver=supervisor, session=second)
    assert [(t.tender_type.kind, t.amount) for t in reversal.tenders.all()] == [
        ("check", D("-60.00"))
    ]

    # Neither drawer holds #3003: D1's count page says not to list it, and both counts
    # balance without it.
    page = client_for(cashier).get(url("cashiering:blind-close", args=[first.pk]))
    assert page.status_code == 200
    assert "Do not list these" in page.text and "3003" in page.text
    assert session_expected(first).checks == D("30.00")
    assert session_expected(second).checks == D("30.00")
    counts = [
        _count(first, [CheckInput("1042", "30.00")], cashier),
        _count(second, [CheckInput("7007", "30.00")], cashier),
    ]
    assert [(c.status, c.over_short) for c in counts] == [
        (SessionCount.Status.BALANCED, D("0.00")),
        (SessionCount.Status.BALANCED, D("0.00")),
    ]
    first = session_balance(session=first, user=technician)
    second = session_balance(session=second, user=technician)

    # The balancing page: expected and counted checks agree, and #3003 is listed as
    # handed back from D1's funds.
    report = day_balancing(TODAY)
    checks = {row.session.drawer.code: row.expected["checks"] for row in report.sessions}
    assert checks == {"D1": D("30.00"), "D2": D("30.00")}
    assert [(t.check_number, t.amount, t.receipt.session_id) for t in report.handed_back] == [
        ("3003", D("60.00"), first.pk)
    ]
    page = client_for(technician).get(url("cashiering:day-balancing", args=[f"{TODAY:%Y-%m-%d}"]))
    assert "Checks handed back" in page.text and "Pat Moore" in page.text

    # The deposit: the two checks in the drawers, #3003 to hand back, never on the slip.
    funds = sessions_ready_by_ids([first.pk, second.pk])
    assert [(f.session.drawer.code, f.checks) for f in funds] == [
        ("D1", D("30.00")),
        ("D2", D("30.00")),
    ]
    assert [c.number for c in deposit_checks([first, second])] == ["1042", "7007"]
    assert [c.number for c in checks_handed_back([first, second])] == ["3003"]
    page = client_for(technician).get(
        url("cashiering:deposit-prepare") + f"?session={first.pk}&session={second.pk}"
    )
    assert "Checks to hand back, not deposited" in page.text and "3003" in page.text
    cash_due = sum((f.cash for f in funds), D(0))
    assert cash_due == D("30.00")
    deposit = deposit_prepare(
        sessions=[first, second],
        currency_count=CURRENCY,
        idempotency_key=uuid.uuid4(),
        user=technician,
        deposit_date=NEXT_DAY,
    )
    assert (deposit.check_total, deposit.total) == (D("60.00"), D("90.00"))
    detail = deposit_detail(deposit)
    assert [i.tender.check_number for i in detail.items] == ["1042", "7007"]
    assert [c.number for c in detail.handed_back] == ["3003"]
    assert kept.pk in {i.tender.receipt_id for i in detail.items}

    # The money: every clearing account back at zero, every entry balanced; the daily
    # report's checks (taken less handed back) equal what went to the bank.
    assert _clearing_nonzero() == []
    assert unbalanced_entries() == []
    cash_report = daily_cash_report(TODAY)
    kinds = [kind for kind, _label in cash_report.kinds]
    assert cash_report.kind_totals[kinds.index("check")] == deposit.check_total


def test_a_check_already_at_the_bank_cannot_be_reversed(counter, cashier, supervisor, technician):
    first = open_session(cashier, "D1")
    paid = post(first, [fee("PET")], [counter.check("30.00", number="3003", payer="Pat Moore")])
    post(first, [fee("PET")], [counter.cash("30.00")])
    session_close(session=first, user=cashier)
    _count(first, [CheckInput("3003", "30.00")], cashier)
    first = session_balance(session=first, user=technician)
    second = open_session(cashier, "D2")
    # Asked for while the check is still in the safe, approved after it went to the bank.
    request = correction_request(
        receipt=paid,
        kind=CorrectionRequest.Kind.REVERSAL,
        reason="Paid the wrong license",
        user=cashier,
        target_session=second,
    )
    deposit = deposit_prepare(
        sessions=[first],
        currency_count=CURRENCY,
        idempotency_key=uuid.uuid4(),
        user=technician,
        deposit_date=NEXT_DAY,
    )
    assert deposit.kind == Deposit.Kind.CASH_CHECK and deposit.check_total == D("30.00")
    receipts = Receipt.objects.count()
    with pytest.raises(CashieringError) as excinfo:
        correction_approve(correction=request, user=supervisor)
    message = " ".join(excinfo.value.messages)
    assert f"went to the bank in deposit {deposit.number}" in message
    assert "refund request" in message
    assert Receipt.objects.count() == receipts
    request.refresh_from_db()
    assert request.status == CorrectionRequest.Status.PENDING

    # Asked for now, it is refused at once.
    with pytest.raises(CashieringError) as excinfo:
        correction_request(
            receipt=paid,
            kind=CorrectionRequest.Kind.REVERSAL,
            reason="Paid the wrong license",
            user=cashier,
            target_session=second,
        )
    assert "cannot be handed back" in " ".join(excinfo.value.messages)
