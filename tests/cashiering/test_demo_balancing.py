"""The demo's balancing history, seeded small: every past drawer counted, balanced and
deposited, closed days closed with their clearing accounts at zero, the bank statements
imported and matched, one returned check and one refund request."""

import io
import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from cashiering import demo
from cashiering.demo_balancing import LEFT_FOR_TODAY, seed_balancing
from cashiering.models import (
    BusinessDay,
    CashierSession,
    CounterPolicy,
    Deposit,
    Drawer,
    Receipt,
    RefundRequest,
    ReturnedCheck,
    SessionCount,
    Tender,
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
            demo._seed_day(
                rng, day, cashier, drawer, tenders, numbers, invoices, cash_first=day == weekdays[0]
            )
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


def _local_date(moment) -> date:
    return timezone.localtime(moment).date()


def _times_match_business_dates(weekdays):
    for session in CashierSession.objects.all():
        assert _local_date(session.opened_at) == session.business_date, session
        assert _local_date(session.closed_at) == session.business_date, session
        assert timezone.localtime(session.opened_at).hour == 8
    for receipt in Receipt.objects.select_related("session"):
        assert receipt.session.opened_at < receipt.posted_at < receipt.session.closed_at
    for count in SessionCount.objects.select_related("session"):
        assert _local_date(count.counted_at) == count.session.business_date
    for deposit in Deposit.objects.all():
        assert _local_date(deposit.prepared_at) == deposit.deposit_date
    for day in BusinessDay.objects.filter(status=BusinessDay.Status.CLOSED):
        assert _local_date(day.closed_at) == day.business_date


def _shortage_waits_for_the_supervisor(weekdays):
    pending = SessionCount.objects.get(status=SessionCount.Status.PENDING)
    threshold = CounterPolicy.current().over_short_threshold
    assert pending.over_short < -threshold
    assert pending.session.business_date == weekdays[-1]


def _card_and_ach_settled(weekdays):
    assert Tender.objects.filter(tender_type__kind=TenderType.Kind.ACH).exists()
    for kind in (Deposit.Kind.CARD, Deposit.Kind.ACH):
        settled = Deposit.objects.filter(kind=kind)
        assert settled.exists(), kind
        entries = settled.values("journal_entry")
        matched = BankMatchItem.objects.filter(is_active=True, journal_line__entry__in=entries)
        assert matched.exists(), kind


def _latest_deposit_in_transit(weekdays):
    latest = Deposit.objects.filter(kind=Deposit.Kind.CASH_CHECK).latest("deposit_date")
    assert not BankMatchItem.objects.filter(
        is_active=True, journal_line__entry=latest.journal_entry_id
    ).exists()
    assert ReturnedCheck.objects.count() == 1
    assert Drawer.objects.filter(sessions__isnull=False).distinct().count() == 2


# What the README says of the demo data, each with the check that it is so.
README_PROMISES = {
    "on two drawers, every past day balanced, deposited and closed except the last two": None,
    "one drawer's shortage waits for the supervisor": _shortage_waits_for_the_supervisor,
    "card and ACH payments settled as deposits of their own": _card_and_ach_settled,
    "two bank fees and the latest deposit, still in transit, left unmatched": (
        _latest_deposit_in_transit
    ),
    "one returned check and one refund request waiting for verification": None,
    "Past days carry the times they were worked": _times_match_business_dates,
}


def _readme_promises(seeded):
    weekdays, _ = seeded
    readme = " ".join((Path(settings.BASE_DIR) / "README.md").read_text().split())
    for promise, check in README_PROMISES.items():
        assert promise in readme, f"the README no longer says {promise!r}"
        if check is not None:  # None: checked by the history's own checks above
            check(weekdays)


def test_demo_balancing_history(seeded):
    """One seed (it takes a while), every check of it."""
    _days_balanced_deposited_and_closed(seeded)
    _deposits_equal_counted_cash_less_float_plus_checks(seeded)
    _clearing_accounts_zero_at_the_end_of_each_closed_day(seeded)
    _statement_imported_matched_returned_check_and_refund(seeded)
    _readme_promises(seeded)
    _second_seed_adds_nothing(seeded)
