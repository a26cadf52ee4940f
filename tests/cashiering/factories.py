"""Builders for counter tests: the chart, drawers, sessions, payable items and receipts.

Fixed dates and fixed numbers; a test that wants variety draws it with hypothesis.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum

from cashiering.models import (
    ARInvoice,
    CashierSession,
    CorrectionRequest,
    Drawer,
    Receipt,
    TenderType,
    UtilityAccount,
)
from cashiering.services.corrections import correction_approve, correction_request
from cashiering.services.receipt_inputs import LineInput, TenderInput
from cashiering.services.receipts import receipt_post
from cashiering.services.sessions import session_open
from ledger.models import GLAccount, JournalEntry, JournalLine
from tests.factories import TODAY, business_day, seed_chart

D = Decimal
UNDEPOSITED = "001.101.30"  # cash, checks and money orders, net of change
CARD_CLEARING = "001.101.40"  # cards and ACH
UTILITY_RECEIVABLE = "401.122.10"
AR_RECEIVABLE = "001.121.10"
MERCH_SALES = "001.341.70.00"
SALES_TAX = "001.239.10"
COPIES = "001.341.62.00"
PETS = "001.322.30.00"
MISC = "001.369.90.00"
FLOAT = {"20.00": 5, "5.00": 8, "1.00": 10, "0.25": 40}  # $160.00


@dataclass
class Counter:
    """The reference data a counter test needs, keyed for short test code."""

    accounts: dict[str, GLAccount]
    tenders: dict[str, TenderType]

    def cash(self, amount) -> TenderInput:
        return TenderInput(tender_type=self.tenders["CASH"], amount=D(amount))

    def check(self, amount, *, number="1042", payer="Dana Whitfield", **extra) -> TenderInput:
        return TenderInput(
            tender_type=self.tenders["CHECK"],
            amount=D(amount),
            check_number=number,
            check_payer=payer,
            **extra,
        )

    def money_order(self, amount, *, reference="MO-55501234") -> TenderInput:
        return TenderInput(tender_type=self.tenders["MO"], amount=D(amount), reference=reference)

    def card(
        self, amount, *, brand="Visa", last4="4242", auth="A1B2C3", debit=False
    ) -> TenderInput:
        return TenderInput(
            tender_type=self.tenders["DEBIT" if debit else "CREDIT"],
            amount=D(amount),
            card_brand=brand,
            card_last4=last4,
            auth_code=auth,
        )

    def ach(self, amount, *, reference="TRACE 0210000890") -> TenderInput:
        return TenderInput(tender_type=self.tenders["ACH"], amount=D(amount), reference=reference)


@contextmanager
def rolled_back() -> Iterator[None]:
    """A transaction that is always rolled back: module-wide reference data for tests that
    each run in a savepoint inside it (as Django's TestCase.setUpTestData does)."""
    atomic = transaction.atomic()
    atomic.__enter__()
    try:
        yield
    finally:
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


def counter_setup() -> Counter:
    """Chart of accounts, fee codes, periods, tender types, drawers D1-D4, counter fees."""
    accounts = seed_chart()
    tenders = {t.code: t for t in TenderType.objects.select_related("clearing_account__fund")}
    return Counter(accounts=accounts, tenders=tenders)


def make_drawer(code: str) -> Drawer:
    drawer, _ = Drawer.objects.get_or_create(code=code, defaults={"name": f"Window {code}"})
    return drawer


def open_session(
    cashier,
    drawer: str = "D1",
    *,
    business_date: date = TODAY,
    training: bool = False,
    count: dict | None = None,
) -> CashierSession:
    with business_day(business_date):  # the cashier opens the drawer on its day
        return session_open(
            cashier=cashier,
            drawer=make_drawer(drawer),
            business_date=business_date,
            opening_count=dict(FLOAT if count is None else count),
            is_training=training,
        )


def make_account(number: str = "104455-01", balance="120.00", name="Maria Lopez") -> UtilityAccount:
    return UtilityAccount.objects.create(
        number=number,
        name=name,
        service_address="1220 W Meeker St, Kent WA 98032",
        balance=D(balance),
    )


def make_invoice(number: str = "INV-24001", amount="250.00", due=None) -> ARInvoice:
    return ARInvoice.objects.create(
        number=number,
        customer_name="Valley Auto Body",
        description="False alarm response",
        amount=D(amount),
        amount_due=D(amount if due is None else due),
    )


def utility(ref: str, amount) -> LineInput:
    return LineInput(kind="utility", ref=ref, amount=D(amount))


def invoice(ref: str, amount) -> LineInput:
    return LineInput(kind="invoice", ref=ref, amount=D(amount))


def fee(code: str, quantity=1, unit_price=None) -> LineInput:
    return LineInput(
        kind="fee",
        ref=code,
        quantity=D(quantity),
        unit_price=None if unit_price is None else D(unit_price),
    )


def post(
    session: CashierSession,
    lines,
    tenders,
    *,
    key=None,
    user=None,
    payer: str = "Maria Lopez",
    memo: str = "",
) -> Receipt:
    return receipt_post(
        session=session,
        payer_name=payer,
        lines=list(lines),
        tenders=list(tenders),
        idempotency_key=key or uuid.uuid4(),
        user=user or session.cashier,
        memo=memo,
    )


def void(receipt: Receipt, *, requester, approver, reason="Keyed the wrong account") -> Receipt:
    request = correction_request(
        receipt=receipt, kind=CorrectionRequest.Kind.VOID, reason=reason, user=requester
    )
    correction_approve(correction=request, user=approver)
    return Receipt.objects.get(pk=receipt.pk)


def reverse(
    receipt: Receipt, *, requester, approver, session, reason="Paid the wrong invoice"
) -> Receipt:
    request = correction_request(
        receipt=receipt,
        kind=CorrectionRequest.Kind.REVERSAL,
        reason=reason,
        user=requester,
        target_session=session,
    )
    decided = correction_approve(correction=request, user=approver)
    return decided.reversal_receipt


# --- reading the books back -----------------------------------------------------------


def gl_balance(account: GLAccount | str, accounts: dict | None = None) -> Decimal:
    """Debits minus credits posted to the account (a full code needs `accounts`)."""
    if isinstance(account, str):
        account = accounts[account]
    totals = JournalLine.objects.filter(account=account).aggregate(d=Sum("debit"), c=Sum("credit"))
    return (totals["d"] or D(0)) - (totals["c"] or D(0))


def entry_lines(entry: JournalEntry) -> dict[str, Decimal]:
    """{full account code: signed amount (debit positive)} of one entry."""
    return {
        line.account.full_code: line.debit - line.credit
        for line in entry.lines.select_related("account__fund")
    }


def unbalanced_entries() -> list[int]:
    """Numbers of journal entries whose debits differ from their credits (or < 2 lines)."""
    rows = JournalEntry.objects.annotate(
        d=Sum("lines__debit"), c=Sum("lines__credit"), n=Count("lines")
    ).filter(Q(n__lt=2) | ~Q(d=F("c")))
    return list(rows.values_list("number", flat=True))


def fire_deferred_checks() -> None:
    """Run the deferred constraint triggers now (they would otherwise wait for a commit
    that a test transaction never makes): an unbalanced entry raises here."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def row_counts() -> dict[str, int]:
    """Rows of every table a posting writes, for 'nothing was written' assertions."""
    tables = [
        "cashiering_receipt",
        "cashiering_receiptline",
        "cashiering_tender",
        "ledger_journalentry",
        "ledger_journalline",
        "cashiering_correctionrequest",
    ]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in tables))
        return dict(cursor.fetchall())
