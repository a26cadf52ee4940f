"""The demo's balancing history, seeded small: every past drawer counted, balanced and
deposited, closed days closed with their clearing accounts at zero, the bank statements
imported and matched, one returned check and one refund request."""

import io
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from cashiering import demo
from cashiering.demo_balancing import LEFT_FOR_TODAY, seed_balancing
from cashiering.models import (
    BusinessDay,
    CashierSession,
    Deposit,
    Drawer,
    RefundRequest,
    ReturnedCheck,
    SessionCount,
    TenderType,
)
from cashiering.selectors.balancing import count_deposit_amounts
from kent_cs.demo import seed_users
from kent_cs.money import ZERO
from ledger.models import BankMatchItem, BankStatementImport, BankTransaction, JournalLine
from tests.cashiering.factories import make_account, make_invoice
from tests.factories import TODAY, seed_chart

pytestmark = pytest.mark.django_db

DAYS = 25


@pytest.fixture
def seeded(monkeypatch):
    monkeypatch.setattr("cashiering.selectors.returns.today", lambda: TODAY)
    monkeypatch.setattr("cashiering.services.returns.today", lambda: TODAY)
    sink = io.StringIO()
    seed_chart()
    seed_users(sink)
    numbers = [
        make_account(f"{100000 + i:06d}-01", balance=f"{40 + i * 7}.00").number for i in range(40)
    ]
    make_account("199999-01", balance="-35.00", name="Ana Moreno")  # a credit to refund
    invoices = [make_invoice(f"INV-{24000 + i}", amount=f"{90 + i}.00").number for i in range(10)]
    cashiers = list(
        CashierSession._meta.get_field("cashier")
        .related_model.objects.filter(username__in=["cashier", "cashier_b"])
        .order_by("username")
    )
    drawers = list(Drawer.objects.order_by("code"))
    tenders = {t.code: t for t in TenderType.objects.all()}
    rng = random.Random(7)
    day, weekdays = TODAY, []
    while len(weekdays) < DAYS:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            weekdays.append(day)
    for day in sorted(weekdays):
        for cashier, drawer in zip(cashiers, drawers, strict=False):
            demo._seed_day(rng, day, cashier, drawer, tenders, numbers, invoices)
    seed_balancing(sink, days=DAYS, today=TODAY)
    return sorted(weekdays), sink.getvalue()


def _balance(account_code: str, through: date) -> Decimal:
    totals = JournalLine.objects.filter(
        account__fund__code="001", account__code=account_code, entry__entry_date__lte=through
    ).aggregate(d=Sum("debit"), c=Sum("credit"))
    return (totals["d"] or ZERO) - (totals["c"] or ZERO)


def _days_balanced_deposited_and_closed(seeded):
    weekdays, output = seeded
    closed, left = weekdays[:-LEFT_FOR_TODAY], weekdays[-LEFT_FOR_TODAY:]
    assert "business days balanced, deposited and closed" in output
    assert (
        list(
            BusinessDay.objects.filter(status=BusinessDay.Status.CLOSED)
            .order_by("business_date")
            .values_list("business_date", flat=True)
        )
        == closed
    )
    assert not BusinessDay.objects.filter(business_date__in=left, status="closed").exists()
    assert (
        not CashierSession.objects.filter(business_date__in=closed)
        .exclude(status=CashierSession.Status.DEPOSITED)
        .exists()
    )
    # the day before yesterday balanced, yesterday counted with one over/short pending
    assert set(
        CashierSession.objects.filter(business_date=left[0]).values_list("status", flat=True)
    ) == {"balanced"}
    assert SessionCount.objects.filter(status=SessionCount.Status.PENDING).count() == 1
    assert SessionCount.objects.get(status="pending").session.business_date == left[1]
    # a few over/shorts within the threshold posted, the larger ones approved
    assert SessionCount.objects.filter(status=SessionCount.Status.POSTED).count() >= 3
    approved = SessionCount.objects.filter(status=SessionCount.Status.APPROVED)
    assert approved.count() >= 1
    assert all(c.explanation and c.decided_by.username == "supervisor" for c in approved)


def _deposits_equal_counted_cash_less_float_plus_checks(seeded):
    weekdays, _ = seeded
    closed = weekdays[:-LEFT_FOR_TODAY]
    cash_check = Deposit.objects.filter(kind=Deposit.Kind.CASH_CHECK)
    assert sorted(cash_check.values_list("deposit_date", flat=True)) == closed
    for deposit in cash_check.prefetch_related("session_links__session__count"):
        expected = sum(
            (
                count_deposit_amounts(link.session.count).total
                for link in deposit.session_links.all()
            ),
            ZERO,
        )
        assert deposit.total == expected
        assert deposit.currency_total + deposit.coin_total + deposit.check_total == deposit.total
        pieces = sum((Decimal(k) * n for k, n in deposit.currency_count.items()), ZERO)
        assert pieces == deposit.currency_total + deposit.coin_total
        assert deposit.prepared_by.username == "technician"
    assert Deposit.objects.filter(kind=Deposit.Kind.CARD).count() > 0


def _clearing_accounts_zero_at_the_end_of_each_closed_day(seeded):
    weekdays, _ = seeded
    for day in weekdays[:-LEFT_FOR_TODAY]:
        assert _balance("101.30", day) == ZERO, day
        assert _balance("101.40", day) == ZERO, day
    assert _balance("101.30", weekdays[-1]) > ZERO  # the last days wait for their deposit


def _statement_imported_matched_returned_check_and_refund(seeded):
    _weekdays, output = seeded
    assert BankStatementImport.objects.exists()
    assert "bank statements imported" in output
    lines = BankTransaction.objects.all()
    active = BankMatchItem.objects.filter(is_active=True, bank_transaction__isnull=False)
    matched = lines.filter(pk__in=active.values("bank_transaction"))
    unmatched = lines.exclude(pk__in=active.values("bank_transaction"))
    # everything the bank credited is matched; the bank's fees are not in the books
    assert matched.count() == lines.count() - 2
    assert set(unmatched.values_list("type_code", flat=True)) == {"698"}
    returned = ReturnedCheck.objects.get()
    assert returned.status == ReturnedCheck.Status.PROCESSED
    assert returned.bank_transaction.is_returned_item
    assert BankMatchItem.objects.filter(bank_transaction=returned.bank_transaction).exists()
    refund = RefundRequest.objects.get()
    assert refund.amount > 0 and refund.documents.count() == 1
    assert refund.status == RefundRequest.Status.REQUESTED


def _second_seed_adds_nothing(seeded):
    before = (
        Deposit.objects.count(),
        SessionCount.objects.count(),
        BankTransaction.objects.count(),
    )
    seed_balancing(io.StringIO(), days=DAYS, today=TODAY)
    after = (Deposit.objects.count(), SessionCount.objects.count(), BankTransaction.objects.count())
    assert before == after


def test_demo_balancing_history(seeded):
    """One seed (it takes a while), every check of it."""
    _days_balanced_deposited_and_closed(seeded)
    _deposits_equal_counted_cash_less_float_plus_checks(seeded)
    _clearing_accounts_zero_at_the_end_of_each_closed_day(seeded)
    _statement_imported_matched_returned_check_and_refund(seeded)
    _second_seed_adds_nothing(seeded)
