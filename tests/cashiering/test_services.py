"""The counter's services: sessions, posting, tenders and change, the receipt's journal
entry, training, voids, reversals, and the database guards behind them."""

import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from cashiering import targets
from cashiering.errors import CashieringError, IdempotencyConflict
from cashiering.models import (
    ARInvoice,
    CashierSession,
    CorrectionRequest,
    Drawer,
    Receipt,
    ReceiptLine,
    Tender,
    UtilityAccount,
)
from cashiering.services.corrections import (
    correction_approve,
    correction_reject,
    correction_request,
)
from cashiering.services.receipt_inputs import LineInput
from cashiering.services.sessions import session_close
from cashiering.targets import PaymentTargetType, TargetItem
from kent_cs.numbering import peek_number
from ledger.models import AccountingPeriod, JournalEntry
from ledger.services import JOURNAL_SERIES, period_close
from tests.cashiering.factories import (
    AR_RECEIVABLE,
    CARD_CLEARING,
    COPIES,
    FLOAT,
    MERCH_SALES,
    MISC,
    SALES_TAX,
    UNDEPOSITED,
    UTILITY_RECEIVABLE,
    counter_setup,
    entry_lines,
    fee,
    fire_deferred_checks,
    invoice,
    make_account,
    make_drawer,
    make_invoice,
    open_session,
    post,
    reverse,
    rolled_back,
    row_counts,
    unbalanced_entries,
    utility,
    void,
)
from tests.factories import TODAY

D = Decimal
NEXT_DAY = date(2026, 3, 17)


def text_of(excinfo) -> str:
    return " ".join(excinfo.value.messages)


@pytest.fixture(scope="module")
def _counter_once(django_db_setup, django_db_blocker):
    """The chart and counter reference data, written once for the module in a transaction
    that is rolled back at its end; each test runs in a savepoint inside it."""
    with django_db_blocker.unblock(), rolled_back():
        yield counter_setup()


@pytest.fixture
def counter(_counter_once, db):
    return _counter_once


@pytest.fixture
def session(counter, cashier):
    return open_session(cashier)


@pytest.fixture
def account(counter):
    return make_account("104455-01", balance="120.00")


@pytest.fixture
def ar(counter):
    return make_invoice("INV-24001", amount="250.00")


def balance_of(account: UtilityAccount) -> Decimal:
    return UtilityAccount.objects.get(pk=account.pk).balance


def due_of(inv: ARInvoice) -> Decimal:
    return ARInvoice.objects.get(pk=inv.pk).amount_due


# ----------------------------------------------------------------------------- sessions


def test_the_opening_float_is_the_denomination_count(session):
    assert session.opening_float == D("160.00")  # 5x20 + 8x5 + 10x1 + 40x0.25
    assert session.opening_count == FLOAT
    assert session.status == CashierSession.Status.OPEN
    assert session.business_date == TODAY


def test_empty_denominations_are_dropped_and_bad_counts_refused(counter, cashier):
    opened = open_session(cashier, count={"100.00": 1, "0.10": 0, "0.01": "7"})
    assert opened.opening_float == D("100.07")
    assert opened.opening_count == {"100.00": 1, "0.01": 7}
    session_close(session=opened, user=cashier)
    for bad in ({"3.00": 1}, {"1.00": -2}, {"5.00": "five"}, {"0.25": 10**6}):
        with pytest.raises(Exception) as excinfo:
            open_session(cashier, count=bad)
        assert "denomination" in str(excinfo.value) or "Count of" in str(excinfo.value)
    assert CashierSession.objects.filter(status="open").count() == 0


def test_one_open_session_per_cashier(session, cashier):
    with pytest.raises(CashieringError) as excinfo:
        open_session(cashier, "D2")
    assert "You already have an open session" in text_of(excinfo)


def test_one_open_session_per_drawer(session, cashier_b):
    with pytest.raises(CashieringError) as excinfo:
        open_session(cashier_b, "D1")
    assert "Drawer D1 is already open" in text_of(excinfo)


def test_a_closed_session_frees_cashier_and_drawer(session, cashier, cashier_b):
    session_close(session=session, user=cashier)
    again = open_session(cashier_b, "D1", business_date=NEXT_DAY)
    assert again.is_open
    assert open_session(cashier, "D2", business_date=NEXT_DAY).is_open


@pytest.mark.parametrize("clash", ["cashier", "drawer"])
def test_the_database_refuses_a_second_open_session(session, cashier, cashier_b, clash):
    """The partial unique constraints hold even when the service's check is bypassed."""
    who, drawer = (
        (cashier, make_drawer("D2")) if clash == "cashier" else (cashier_b, session.drawer)
    )
    constraint = f"one_open_session_per_{clash}"
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        CashierSession.objects.create(
            cashier=who, drawer=drawer, business_date=TODAY, opening_float=D(0)
        )
    # A closed session for the same cashier and drawer is no clash.
    CashierSession.objects.create(
        cashier=who, drawer=drawer, business_date=TODAY, opening_float=D(0), status="closed"
    )


def test_an_inactive_drawer_cannot_be_opened(counter, cashier):
    Drawer.objects.filter(code="D3").update(is_active=False)
    with pytest.raises(CashieringError, match="out of service"):
        open_session(cashier, "D3")


def test_only_the_cashier_closes_a_session(session, cashier, cashier_b, technician):
    with pytest.raises(CashieringError, match="Only the session's cashier"):
        session_close(session=session, user=cashier_b)
    closed = session_close(session=session, user=technician)  # may close any session
    assert closed.status == "closed" and closed.closed_at is not None
    with pytest.raises(CashieringError, match="not open"):
        session_close(session=session, user=cashier)


# ----------------------------------------------------------------------------- posting


def test_a_cash_utility_payment_with_change(counter, session, account):
    receipt = post(session, [utility(account.number, "120.00")], [counter.cash("140")])

    assert (receipt.series, receipt.number, str(receipt)) == ("R", 1, "R-1")
    assert receipt.total == D("120.00")
    assert receipt.tendered == D("140.00")
    assert receipt.change_given == D("20.00")
    assert receipt.business_date == TODAY
    assert receipt.status == Receipt.Status.POSTED
    line = receipt.lines.get()
    assert (line.target_kind, line.target_ref, line.amount) == ("utility", "104455-01", D(120))
    assert line.balance_before == D("120.00")
    assert line.fee_code.code == "UT-PAY"
    tender = receipt.tenders.get()
    assert (tender.tender_type.code, tender.amount) == ("CASH", D("140.00"))
    assert balance_of(account) == D("0.00")
    # Dr undeposited clearing for the cash kept (net of change), Cr the utility receivable.
    assert entry_lines(receipt.journal_entry) == {
        UNDEPOSITED: D("120.00"),
        UTILITY_RECEIVABLE: D("-120.00"),
    }
    assert receipt.journal_entry.entry_date == TODAY
    assert receipt.journal_entry.source_ref == "R-1"
    fire_deferred_checks()


def test_receipt_numbers_count_up_in_the_live_series(counter, session, account):
    numbers = [
        post(session, [utility(account.number, "10.00")], [counter.cash("10")]).number
        for _ in range(3)
    ]
    assert numbers == [1, 2, 3]
    assert peek_number("receipt-R") == 4


def test_a_partial_payment_leaves_the_rest_owing(counter, session, account, ar):
    post(session, [utility(account.number, "50.00")], [counter.cash("50")])
    post(session, [invoice(ar.number, "100.00")], [counter.check("100.00")])
    assert balance_of(account) == D("70.00")
    assert due_of(ar) == D("150.00")


def test_a_utility_overpayment_leaves_a_credit(counter, session, account):
    receipt = post(session, [utility(account.number, "150.00")], [counter.card("150.00")])
    assert balance_of(account) == D("-30.00")
    assert receipt.change_given == D(0)
    assert entry_lines(receipt.journal_entry) == {
        CARD_CLEARING: D("150.00"),
        UTILITY_RECEIVABLE: D("-150.00"),
    }


def test_an_invoice_cannot_be_overpaid(counter, session, ar):
    post(session, [invoice(ar.number, "200.00")], [counter.cash("200")])
    before = row_counts()
    with pytest.raises(CashieringError) as excinfo:
        post(session, [invoice(ar.number, "50.01")], [counter.cash("60")])
    assert "has 50.00 due; it cannot be overpaid" in text_of(excinfo)
    assert row_counts() == before
    assert due_of(ar) == D("50.00")
    assert peek_number("receipt-R") == 2


def test_two_lines_on_one_invoice_cannot_overpay_it_together(counter, session, ar):
    before = row_counts()
    with pytest.raises(CashieringError) as excinfo:
        post(
            session,
            [invoice(ar.number, "200.00"), invoice(ar.number, "100.00")],
            [counter.cash("300")],
        )
    assert "cannot be overpaid" in text_of(excinfo)
    assert row_counts() == before
    assert due_of(ar) == D("250.00")


def test_two_lines_on_one_account_record_the_balance_each_one_found(counter, session, account):
    receipt = post(
        session,
        [utility(account.number, "100.00"), utility(account.number, "50.00")],
        [counter.cash("150")],
    )
    assert [line.balance_before for line in receipt.lines.order_by("line_no")] == [
        D("120.00"),
        D("20.00"),
    ]
    assert balance_of(account) == D("-30.00")


def test_the_database_refuses_an_overpaid_invoice(ar):
    with pytest.raises(IntegrityError, match="invoice_not_overpaid"), transaction.atomic():
        ARInvoice.objects.filter(pk=ar.pk).update(amount_due=D("-0.01"))


def test_tenders_short_of_the_total_are_refused(counter, session, account):
    with pytest.raises(CashieringError, match=r"less than the total"):
        post(session, [utility(account.number, "120.00")], [counter.cash("119.99")])
    assert Receipt.objects.count() == 0


@pytest.mark.parametrize("tender", ["check", "card", "money_order", "ach"])
def test_change_is_given_only_from_cash(counter, session, account, tender):
    before = row_counts()
    over = getattr(counter, tender)("120.01")
    with pytest.raises(CashieringError) as excinfo:
        post(session, [utility(account.number, "120.00")], [over])
    assert "Change can only be given from cash" in text_of(excinfo)
    assert row_counts() == before
    assert balance_of(account) == D("120.00")


def test_cash_with_a_check_gives_change_from_the_cash(counter, session, account):
    receipt = post(
        session,
        [utility(account.number, "100.00")],
        [counter.check("90.00"), counter.cash("20.00")],
    )
    assert receipt.change_given == D("10.00")
    assert receipt.tendered == D("110.00")
    assert entry_lines(receipt.journal_entry) == {
        UNDEPOSITED: D("100.00"),
        UTILITY_RECEIVABLE: D("-100.00"),
    }
    # The cash cannot cover more change than it is.
    with pytest.raises(CashieringError, match="Change can only be given from cash"):
        post(
            session,
            [utility(account.number, "100.00")],
            [counter.check("101.00"), counter.cash("10.00")],
        )


def test_card_and_cash_debit_their_own_clearing_accounts(counter, session, account, ar):
    receipt = post(
        session,
        [utility(account.number, "120.00"), invoice(ar.number, "80.00")],
        [counter.card("150.00", debit=True, brand="Mastercard"), counter.cash("60.00")],
    )
    assert receipt.total == D("200.00")
    assert receipt.change_given == D("10.00")
    assert entry_lines(receipt.journal_entry) == {
        CARD_CLEARING: D("150.00"),
        UNDEPOSITED: D("50.00"),
        UTILITY_RECEIVABLE: D("-120.00"),
        AR_RECEIVABLE: D("-80.00"),
    }
    tenders = list(receipt.tenders.order_by("line_no"))
    assert tenders[0].reference_display == "Mastercard ••••4242 auth A1B2C3"
    assert (tenders[0].card_last4, tenders[0].check_number) == ("4242", "")


def test_money_order_and_ach_clear_like_cash_and_card(counter, session, account):
    receipt = post(
        session,
        [utility(account.number, "120.00")],
        [counter.money_order("70.00"), counter.ach("50.00")],
    )
    assert entry_lines(receipt.journal_entry) == {
        UNDEPOSITED: D("70.00"),
        CARD_CLEARING: D("50.00"),
        UTILITY_RECEIVABLE: D("-120.00"),
    }


def test_merchandise_splits_between_sales_and_sales_tax(counter, session):
    receipt = post(session, [fee("MERCH", 1, "100.00")], [counter.cash("100")])
    assert entry_lines(receipt.journal_entry) == {
        UNDEPOSITED: D("100.00"),
        MERCH_SALES: D("-91.95"),  # 91.954 %
        SALES_TAX: D("-8.05"),  # 8.046 %
    }
    odd = post(session, [fee("MERCH", 3, "12.99")], [counter.cash("40")])
    lines = entry_lines(odd.journal_entry)
    assert odd.total == D("38.97")
    assert lines[MERCH_SALES] + lines[SALES_TAX] == D("-38.97")
    assert lines[MERCH_SALES] == D("-35.83")  # 35.8345... to the cent
    fire_deferred_checks()


def test_fee_items_are_quantity_times_price(counter, session):
    receipt = post(session, [fee("COPY", 12), fee("PET", 2, "30.00")], [counter.cash("70")])
    assert [(line.quantity, line.unit_price, line.amount) for line in receipt.lines.all()] == [
        (D("12.000"), D("0.15"), D("1.80")),
        (D("2.000"), D("30.00"), D("60.00")),
    ]
    assert receipt.total == D("61.80")
    assert receipt.change_given == D("8.20")
    assert entry_lines(receipt.journal_entry)[COPIES] == D("-1.80")


def test_a_fee_code_changed_between_posts_is_posted_as_it_is_now(counter, session):
    from ledger.models import FeeDistribution

    first = post(session, [fee("COPY", 10)], [counter.cash("5")])
    assert entry_lines(first.journal_entry)[COPIES] == D("-1.50")
    FeeDistribution.objects.filter(fee_code__code="COPY").update(account=counter.accounts[MISC])

    second = post(session, [fee("COPY", 10)], [counter.cash("5")])

    lines = entry_lines(second.journal_entry)
    assert COPIES not in lines and lines[MISC] == D("-1.50")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (fee("MISC"), "Enter the price."),
        (fee("COPY", 0), "Enter a quantity greater than zero."),
        (fee("COPY", "0.0005"), "Enter a quantity greater than zero."),
        (fee("PET", 1, "-30.00"), "Enter a price greater than zero."),
        (utility("104455-01", "0.00"), "Enter an amount greater than zero."),
        (utility("104455-01", "-5.00"), "Enter an amount greater than zero."),
        (utility("999999-99", "5.00"), "999999-99 was not found"),
        (fee("NO-SUCH-FEE", 1, "1.00"), "NO-SUCH-FEE was not found"),
        # Too large for the books: a message, not a database error.
        (utility("104455-01", "1000000000.00"), "Enter an amount of at most 999,999,999.99."),
        (fee("MISC", 1, "1000000000.00"), "Enter an amount of at most 999,999,999.99."),
        (fee("MISC", "0.001", "900000000000"), "Enter an amount of at most 999,999,999.99."),
        (fee("COPY", 10**7), "Enter a quantity of at most 999,999.999."),
        (fee("COPY", "NaN"), "Enter a quantity greater than zero."),
    ],
)
def test_bad_lines_are_refused(counter, session, account, line, message):
    with pytest.raises(CashieringError) as excinfo:
        post(session, [line], [counter.cash("100")])
    assert message in text_of(excinfo)
    assert Receipt.objects.count() == 0


def test_unknown_kind_of_item_is_refused(counter, session):
    from cashiering.services.receipt_inputs import LineInput

    with pytest.raises(CashieringError, match="Unknown kind of payable item"):
        post(session, [LineInput(kind="parking", ref="X1", amount=D(5))], [counter.cash("5")])


@pytest.mark.parametrize(
    ("tender", "message"),
    [
        ("check_no_number", "Enter the check number."),
        ("check_no_payer", "Enter the name printed on the check."),
        ("check_bad_account", "Enter only the last 4 digits of the account number"),
        ("card_no_brand", "Choose the card brand."),
        ("card_no_last4", "Enter the last 4 digits of the card."),
        ("card_5_digits", "Enter the last 4 digits of the card."),
        ("card_letters", "Enter the last 4 digits of the card."),
        ("card_superscripts", "Enter the last 4 digits of the card."),
        ("card_no_auth", "Enter the authorization code."),
        ("money_order_no_reference", "Enter the money order or trace number."),
        ("zero", "Enter an amount greater than zero."),
        ("too_large", "Enter an amount of at most 999,999,999.99."),
    ],
)
def test_tender_references_are_required(counter, session, account, tender, message):
    tenders = {
        "check_no_number": counter.check("120", number="  "),
        "check_no_payer": counter.check("120", payer=""),
        "check_bad_account": counter.check("120", account_last4="12345"),
        "card_no_brand": counter.card("120", brand=" "),
        "card_no_last4": counter.card("120", last4=""),
        "card_5_digits": counter.card("120", last4="42424"),
        "card_letters": counter.card("120", last4="42a4"),
        "card_superscripts": counter.card("120", last4="4²42"),
        "card_no_auth": counter.card("120", auth=""),
        "money_order_no_reference": counter.money_order("120", reference=""),
        "zero": counter.cash("0"),
        "too_large": counter.cash("1000000000"),
    }
    with pytest.raises(CashieringError) as excinfo:
        post(session, [utility(account.number, "120.00")], [tenders[tender]])
    assert message in text_of(excinfo)
    assert Tender.objects.count() == 0


def test_only_the_references_of_the_tender_kind_are_kept(counter, session, account):
    """A cash tender does not carry card or check details typed into hidden fields."""
    from cashiering.services.receipt_inputs import TenderInput

    stray = TenderInput(
        tender_type=counter.tenders["CASH"],
        amount=D("120.00"),
        check_number="1001",
        card_last4="4242",
        card_brand="Visa",
    )
    receipt = post(session, [utility(account.number, "120.00")], [stray])
    tender = receipt.tenders.get()
    assert (tender.check_number, tender.card_last4, tender.card_brand) == ("", "", "")


def test_payer_and_items_are_required(counter, session, account):
    with pytest.raises(CashieringError, match="Enter the payer's name"):
        post(session, [utility(account.number, "1")], [counter.cash("1")], payer="  ")
    with pytest.raises(CashieringError, match="Add at least one item"):
        post(session, [], [counter.cash("1")])
    with pytest.raises(CashieringError, match="Add at least one tender"):
        post(session, [utility(account.number, "1")], [])


def test_only_the_sessions_cashier_posts_into_it(counter, session, account, cashier_b):
    with pytest.raises(CashieringError, match="Only the session's cashier"):
        post(session, [utility(account.number, "1")], [counter.cash("1")], user=cashier_b)
    assert Receipt.objects.count() == 0


def test_a_closed_session_takes_no_payments(counter, session, account, cashier):
    session_close(session=session, user=cashier)
    with pytest.raises(CashieringError, match="This session is closed"):
        post(session, [utility(account.number, "1")], [counter.cash("1")])
    assert Receipt.objects.count() == 0


def test_posting_into_a_closed_accounting_period_writes_nothing(
    counter, session, account, supervisor
):
    period_close(period=AccountingPeriod.objects.get(year=2026, month=3), user=supervisor)
    before = row_counts()
    journal_next = peek_number(JOURNAL_SERIES)
    with pytest.raises(CashieringError) as excinfo:
        post(session, [utility(account.number, "120.00")], [counter.cash("120")])
    assert "accounting period is closed" in text_of(excinfo)
    assert row_counts() == before
    assert balance_of(account) == D("120.00")
    assert peek_number("receipt-R") == 1
    assert peek_number(JOURNAL_SERIES) == journal_next


# ----------------------------------------------------------------------------- components


class LicenseLikeTarget(PaymentTargetType):
    """A target owed in parts credited to different fee codes (as license invoices are)."""

    kind = "parts-test"

    def __init__(self, owed: dict[str, list[tuple[str, Decimal]]]):
        self.owed = {ref: dict(parts) for ref, parts in owed.items()}
        self.applied: list[tuple[str, str, Decimal]] = []

    def load(self, refs, *, for_update=False):
        return {
            ref: TargetItem(
                kind=self.kind,
                ref=ref,
                number=ref,
                name="Valley Auto Body",
                description=f"License invoice {ref}",
                fee_code=next(iter(self.owed[ref])),
                balance=sum(self.owed[ref].values(), D(0)),
                components=tuple((code, due) for code, due in self.owed[ref].items() if due),
            )
            for ref in refs
            if ref in self.owed
        }

    def apply_payment(self, *, ref, amount, receipt, line):
        code = line.fee_code.code
        self.applied.append((ref, code, amount))
        self.owed[ref][code] -= amount


@pytest.fixture
def license_target(counter):
    target = LicenseLikeTarget(
        {"LI-2026-0042": [("BL-GEN", D("100.00")), ("BL-FIRE", D("112.93")), ("BL-TECH", D(1))]}
    )
    targets.register(target)
    yield target
    targets._registry.pop(target.kind)


def parts(ref: str, amount) -> LineInput:
    return LineInput(kind="parts-test", ref=ref, amount=D(amount))


def test_a_payment_on_an_item_owed_in_parts_gets_a_line_per_part(counter, session, license_target):
    receipt = post(session, [parts("LI-2026-0042", "213.93")], [counter.cash("220")])
    lines = list(receipt.lines.order_by("line_no"))
    assert [(line.fee_code.code, line.amount, line.balance_before) for line in lines] == [
        ("BL-GEN", D("100.00"), D("213.93")),
        ("BL-FIRE", D("112.93"), D("113.93")),
        ("BL-TECH", D("1.00"), D("1.00")),
    ]
    assert lines[1].description == "License invoice LI-2026-0042 (Fire inspection fee)"
    assert receipt.total == D("213.93") and receipt.change_given == D("6.07")
    assert license_target.applied == [
        ("LI-2026-0042", "BL-GEN", D("100.00")),
        ("LI-2026-0042", "BL-FIRE", D("112.93")),
        ("LI-2026-0042", "BL-TECH", D("1.00")),
    ]
    assert entry_lines(receipt.journal_entry) == {
        UNDEPOSITED: D("213.93"),
        "001.321.10.00": D("-100.00"),
        "001.321.90.00": D("-112.93"),
        "001.321.91.00": D("-1.00"),
    }


def test_a_partial_payment_pays_the_parts_in_order_across_lines(
    counter, session, cashier, supervisor, license_target
):
    receipt = post(
        session,
        [parts("LI-2026-0042", "120.00"), parts("LI-2026-0042", "50.00")],
        [counter.check("170.00")],
    )
    assert [(line.fee_code.code, line.amount) for line in receipt.lines.order_by("line_no")] == [
        ("BL-GEN", D("100.00")),
        ("BL-FIRE", D("20.00")),
        ("BL-FIRE", D("50.00")),
    ]
    assert license_target.owed["LI-2026-0042"] == {
        "BL-GEN": D(0),
        "BL-FIRE": D("42.93"),
        "BL-TECH": D(1),
    }
    with pytest.raises(CashieringError, match=r"has 43\.93 due; it cannot be overpaid"):
        post(session, [parts("LI-2026-0042", "43.94")], [counter.cash("50")])
    # A void undoes each part on its own fee code.
    void(receipt, requester=cashier, approver=supervisor)
    assert license_target.owed["LI-2026-0042"] == {
        "BL-GEN": D("100.00"),
        "BL-FIRE": D("112.93"),
        "BL-TECH": D(1),
    }
    assert license_target.applied[-3:] == [
        ("LI-2026-0042", "BL-GEN", D("-100.00")),
        ("LI-2026-0042", "BL-FIRE", D("-20.00")),
        ("LI-2026-0042", "BL-FIRE", D("-50.00")),
    ]


# ----------------------------------------------------------------------------- idempotency


def test_a_double_submit_returns_the_first_receipt(counter, session, account):
    key = uuid.uuid4()
    lines, tenders = [utility(account.number, "60.00")], [counter.cash("100")]
    first = post(session, lines, tenders, key=key)
    counts = row_counts()
    again = post(session, lines, tenders, key=str(key))
    assert again.pk == first.pk
    assert row_counts() == counts
    assert balance_of(account) == D("60.00")
    assert peek_number("receipt-R") == 2


@pytest.mark.parametrize("change", ["amount", "tender", "payer", "memo", "line"])
def test_the_same_key_with_different_contents_is_refused(counter, session, account, ar, change):
    key = uuid.uuid4()
    lines, tenders = [utility(account.number, "60.00")], [counter.cash("100")]
    post(session, lines, tenders, key=key, memo="Window payment")
    counts = row_counts()
    changed = {
        "amount": {"lines": [utility(account.number, "60.01")]},
        "tender": {"tenders": [counter.check("60.00")]},
        "payer": {"payer": "Someone Else"},
        "memo": {"memo": "Drop box"},
        "line": {"lines": [invoice(ar.number, "60.00")]},
    }[change]
    arguments = {"lines": lines, "tenders": tenders, "memo": "Window payment", **changed}
    with pytest.raises(IdempotencyConflict, match="already used for a different payment"):
        post(session, key=key, **arguments)
    assert row_counts() == counts
    assert balance_of(account) == D("60.00")


# ----------------------------------------------------------------------------- training


def test_training_receipts_have_their_own_numbers_and_touch_no_books(
    counter, cashier, cashier_b, account
):
    live = open_session(cashier, "D1")
    training = open_session(cashier_b, "D2", training=True)
    journal_next = peek_number(JOURNAL_SERIES)

    t1 = post(training, [utility(account.number, "100.00")], [counter.cash("100")])
    r1 = post(live, [utility(account.number, "20.00")], [counter.cash("20")])
    t2 = post(training, [fee("PET", 1)], [counter.card("30.00")])

    assert [str(t1), str(r1), str(t2)] == ["T-1", "R-1", "T-2"]
    assert t1.is_training and t2.is_training and not r1.is_training
    assert t1.journal_entry is None and t2.journal_entry is None
    assert balance_of(account) == D("100.00")  # only the live receipt paid it
    assert peek_number(JOURNAL_SERIES) == journal_next + 1  # only the live receipt's entry

    # A training void changes no balance and posts no entry either.
    voided = void(t1, requester=cashier_b, approver=counter_supervisor())
    assert voided.status == "voided" and voided.void_entry is None
    assert balance_of(account) == D("100.00")
    assert peek_number(JOURNAL_SERIES) == journal_next + 1


def counter_supervisor():
    from kent_cs.roles import Role
    from tests.factories import make_user

    return make_user("supervisor_2", Role.SUPERVISOR)


# ----------------------------------------------------------------------------- voids


def test_a_void_marks_the_receipt_reverses_its_entry_and_restores_balances(
    counter, session, cashier, supervisor, account, ar
):
    receipt = post(
        session,
        [utility(account.number, "100.00"), invoice(ar.number, "250.00")],
        [counter.cash("400")],
    )
    assert (balance_of(account), due_of(ar)) == (D("20.00"), D("0.00"))

    voided = void(receipt, requester=cashier, approver=supervisor)

    assert voided.status == Receipt.Status.VOIDED
    assert voided.voided_at is not None
    assert voided.number == 1 and voided.total == D("350.00")  # the receipt itself is kept
    assert (balance_of(account), due_of(ar)) == (D("120.00"), D("250.00"))
    original = entry_lines(voided.journal_entry)
    assert entry_lines(voided.void_entry) == {code: -amount for code, amount in original.items()}
    assert voided.void_entry.reverses_id == voided.journal_entry_id
    request = voided.corrections.get()
    assert (request.status, request.decided_by, request.kind) == ("approved", supervisor, "void")
    # The voided number is never reused.
    assert post(session, [utility(account.number, "5")], [counter.cash("5")]).number == 2
    fire_deferred_checks()
    assert unbalanced_entries() == []


def test_a_void_is_decided_by_a_supervisor_who_did_not_ask(
    counter, session, cashier, cashier_b, technician, supervisor, account
):
    receipt = post(session, [utility(account.number, "10.00")], [counter.cash("10")])
    own = correction_request(receipt=receipt, kind="void", reason="Wrong account", user=supervisor)
    with pytest.raises(CashieringError, match="cannot approve or reject your own"):
        correction_approve(correction=own, user=supervisor)
    for not_a_supervisor in (cashier, cashier_b, technician):
        with pytest.raises(CashieringError, match="Only a supervisor"):
            correction_approve(correction=own, user=not_a_supervisor)
    assert Receipt.objects.get(pk=receipt.pk).status == "posted"
    assert balance_of(account) == D("110.00")
    # The database refuses a self-approval that skips the service.
    with pytest.raises(IntegrityError, match="correction_not_self_approved"), transaction.atomic():
        CorrectionRequest.objects.filter(pk=own.pk).update(decided_by=supervisor)


def test_a_cashier_may_ask_to_void_only_own_receipts(
    counter, session, cashier, cashier_b, technician, account
):
    receipt = post(session, [utility(account.number, "10.00")], [counter.cash("10")])
    with pytest.raises(CashieringError, match="only request a void of your own"):
        correction_request(receipt=receipt, kind="void", reason="Mine now", user=cashier_b)
    # An accounting technician sees every receipt and may ask.
    assert correction_request(receipt=receipt, kind="void", reason="Typo", user=technician)


def test_a_void_needs_a_reason_and_one_request_at_a_time(counter, session, cashier, account):
    receipt = post(session, [utility(account.number, "10.00")], [counter.cash("10")])
    with pytest.raises(CashieringError, match="Enter the reason"):
        correction_request(receipt=receipt, kind="void", reason="  ", user=cashier)
    correction_request(receipt=receipt, kind="void", reason="Wrong account", user=cashier)
    with pytest.raises(CashieringError, match="already waiting for approval"):
        correction_request(receipt=receipt, kind="void", reason="Again", user=cashier)


def test_a_rejected_void_changes_nothing(counter, session, cashier, supervisor, account):
    receipt = post(session, [utility(account.number, "10.00")], [counter.cash("10")])
    request = correction_request(receipt=receipt, kind="void", reason="Wrong", user=cashier)
    with pytest.raises(CashieringError, match="Say why"):
        correction_reject(correction=request, user=supervisor, note=" ")
    rejected = correction_reject(correction=request, user=supervisor, note="It was right")
    assert (rejected.status, rejected.decision_note) == ("rejected", "It was right")
    assert Receipt.objects.get(pk=receipt.pk).status == "posted"
    assert balance_of(account) == D("110.00")
    with pytest.raises(CashieringError, match="already rejected"):
        correction_approve(correction=request, user=supervisor)


def test_a_receipt_is_voided_once(counter, session, cashier, supervisor, account):
    receipt = post(session, [utility(account.number, "10.00")], [counter.cash("10")])
    void(receipt, requester=cashier, approver=supervisor)
    with pytest.raises(CashieringError, match="already void"):
        correction_request(receipt=receipt, kind="void", reason="Again", user=cashier)
    assert balance_of(account) == D("120.00")


def test_no_void_after_the_session_closed(counter, session, cashier, supervisor, account):
    receipt = post(session, [utility(account.number, "10.00")], [counter.cash("10")])
    request = correction_request(receipt=receipt, kind="void", reason="Wrong", user=cashier)
    session_close(session=session, user=cashier)
    with pytest.raises(CashieringError, match="closed before the void was approved"):
        correction_approve(correction=request, user=supervisor)
    assert Receipt.objects.get(pk=receipt.pk).status == "posted"
    assert balance_of(account) == D("110.00")
    correction_reject(correction=request, user=supervisor, note="Session closed")
    with pytest.raises(CashieringError, match="request a reversal instead"):
        correction_request(receipt=receipt, kind="void", reason="Wrong", user=cashier)


# ----------------------------------------------------------------------------- reversals


def test_a_reversal_is_a_new_negative_receipt_in_the_requesters_session(
    counter, session, cashier, supervisor, account
):
    receipt = post(
        session,
        [utility(account.number, "100.00"), fee("COPY", 10)],
        [counter.check("60.00"), counter.cash("50.00")],
    )
    assert receipt.change_given == D("8.50")
    session_close(session=session, user=cashier)
    later = open_session(cashier, "D2", business_date=NEXT_DAY)

    reversal = reverse(receipt, requester=cashier, approver=supervisor, session=later)

    assert (str(reversal), reversal.session, reversal.business_date) == ("R-2", later, NEXT_DAY)
    assert reversal.reverses == receipt
    assert (reversal.total, reversal.tendered, reversal.change_given) == (
        D("-101.50"),
        D("-101.50"),
        D("0.00"),
    )
    assert [(line.target_ref, line.amount) for line in reversal.lines.order_by("line_no")] == [
        ("104455-01", D("-100.00")),
        ("COPY", D("-1.50")),
    ]
    # Money goes back the way it came: the check whole, the cash net of the change.
    assert [(t.tender_type.code, t.amount) for t in reversal.tenders.order_by("line_no")] == [
        ("CHECK", D("-60.00")),
        ("CASH", D("-41.50")),
    ]
    assert balance_of(account) == D("120.00")
    assert entry_lines(reversal.journal_entry) == {
        code: -amount for code, amount in entry_lines(receipt.journal_entry).items()
    }
    assert reversal.journal_entry.entry_date == NEXT_DAY
    # The original is untouched.
    original = Receipt.objects.get(pk=receipt.pk)
    assert (original.status, original.void_entry, original.voided_at) == ("posted", None, None)
    assert original.total == D("101.50")
    fire_deferred_checks()


def test_a_receipt_is_reversed_once(counter, session, cashier, supervisor, account):
    receipt = post(session, [utility(account.number, "100.00")], [counter.cash("100")])
    session_close(session=session, user=cashier)
    later = open_session(cashier, "D2", business_date=NEXT_DAY)
    reversal = reverse(receipt, requester=cashier, approver=supervisor, session=later)
    with pytest.raises(CashieringError, match="already been reversed"):
        correction_request(
            receipt=receipt, kind="reversal", reason="Again", user=cashier, target_session=later
        )
    session_close(session=later, user=cashier)
    third = open_session(cashier, "D3", business_date=NEXT_DAY)
    with pytest.raises(CashieringError, match="itself a reversal"):
        correction_request(
            receipt=reversal, kind="reversal", reason="Undo", user=cashier, target_session=third
        )
    assert balance_of(account) == D("120.00")


def test_a_reversal_needs_a_closed_original_and_an_open_own_session(
    counter, session, cashier, cashier_b, account
):
    receipt = post(session, [utility(account.number, "100.00")], [counter.cash("100")])
    with pytest.raises(CashieringError, match="still open: request a void"):
        correction_request(
            receipt=receipt, kind="reversal", reason="x", user=cashier, target_session=session
        )
    session_close(session=session, user=cashier)
    with pytest.raises(CashieringError, match="Open a session first"):
        correction_request(receipt=receipt, kind="reversal", reason="x", user=cashier)
    other = open_session(cashier_b, "D2", business_date=NEXT_DAY)
    with pytest.raises(CashieringError, match="your own open session"):
        correction_request(
            receipt=receipt, kind="reversal", reason="x", user=cashier, target_session=other
        )


def test_a_cashier_may_ask_to_reverse_only_own_receipts(
    counter, session, cashier, cashier_b, technician, account
):
    receipt = post(session, [utility(account.number, "100.00")], [counter.cash("100")])
    session_close(session=session, user=cashier)
    other = open_session(cashier_b, "D2", business_date=NEXT_DAY)
    with pytest.raises(CashieringError, match="only request a reversal of your own"):
        correction_request(
            receipt=receipt, kind="reversal", reason="x", user=cashier_b, target_session=other
        )
    desk = open_session(technician, "D3", business_date=NEXT_DAY)
    assert correction_request(
        receipt=receipt,
        kind="reversal",
        reason="Posted twice",
        user=technician,
        target_session=desk,
    )


def test_a_training_receipt_is_reversed_only_in_training(counter, cashier, supervisor, account):
    training = open_session(cashier, "D1", training=True)
    receipt = post(training, [utility(account.number, "100.00")], [counter.cash("100")])
    session_close(session=training, user=cashier)
    live = open_session(cashier, "D1", business_date=NEXT_DAY)
    with pytest.raises(CashieringError, match="only in a training session"):
        correction_request(
            receipt=receipt, kind="reversal", reason="x", user=cashier, target_session=live
        )
    session_close(session=live, user=cashier)
    again = open_session(cashier, "D1", business_date=NEXT_DAY, training=True)
    reversal = reverse(receipt, requester=cashier, approver=supervisor, session=again)
    assert str(reversal) == "T-2" and reversal.journal_entry is None
    assert balance_of(account) == D("120.00")


def test_a_reversal_approved_after_its_session_closed_is_refused(
    counter, session, cashier, supervisor, account
):
    receipt = post(session, [utility(account.number, "100.00")], [counter.cash("100")])
    session_close(session=session, user=cashier)
    later = open_session(cashier, "D2", business_date=NEXT_DAY)
    request = correction_request(
        receipt=receipt, kind="reversal", reason="x", user=cashier, target_session=later
    )
    session_close(session=later, user=cashier)
    with pytest.raises(CashieringError, match="has closed; ask again"):
        correction_approve(correction=request, user=supervisor)
    assert Receipt.objects.count() == 1
    assert balance_of(account) == D("20.00")


# ----------------------------------------------------------------------------- database guards


def raw(sql: str, params=()) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def posted(counter, session, account):
    return post(
        session,
        [utility(account.number, "100.00")],
        [counter.card("100.00"), counter.cash("5.00")],
    )


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE cashiering_receipt SET total = total + 1, tendered = tendered + 1 WHERE id = %s",
        "UPDATE cashiering_receipt SET payer_name = 'Someone Else' WHERE id = %s",
        "UPDATE cashiering_receipt SET number = 99 WHERE id = %s",
        "DELETE FROM cashiering_receipt WHERE id = %s",
        "UPDATE cashiering_receiptline SET amount = 1 WHERE receipt_id = %s",
        "DELETE FROM cashiering_receiptline WHERE receipt_id = %s",
        "UPDATE cashiering_tender SET card_last4 = '0000' WHERE receipt_id = %s",
        "DELETE FROM cashiering_tender WHERE receipt_id = %s",
    ],
)
def test_posted_money_rows_refuse_update_and_delete(posted, sql):
    with pytest.raises(DatabaseError):
        raw(sql, [posted.pk])
    assert ReceiptLine.objects.filter(receipt=posted).count() == 1
    assert Tender.objects.filter(receipt=posted).count() == 2
    fresh = Receipt.objects.get(pk=posted.pk)
    assert (fresh.total, fresh.payer_name, fresh.number) == (D("100.00"), "Maria Lopez", 1)


def test_a_training_receipt_may_be_marked_void_by_its_void_fields_alone(counter, cashier):
    training = open_session(cashier, "D2", training=True)
    receipt = post(training, [fee("PET")], [counter.cash("30")])
    raw(
        "UPDATE cashiering_receipt SET status = 'voided', voided_at = now() WHERE id = %s",
        [receipt.pk],
    )
    assert Receipt.objects.get(pk=receipt.pk).status == "voided"


def test_only_the_void_fields_change_and_only_once(counter, posted, cashier, supervisor):
    # Marking void without the void's reversing entry is refused.
    with pytest.raises(DatabaseError):
        raw(
            "UPDATE cashiering_receipt SET status = 'voided', voided_at = now() WHERE id = %s",
            [posted.pk],
        )
    voided = void(posted, requester=cashier, approver=supervisor)
    other_entry = JournalEntry.objects.exclude(pk__in=[voided.journal_entry_id]).first()
    for sql in (
        "UPDATE cashiering_receipt SET status = 'posted' WHERE id = %s",
        "UPDATE cashiering_receipt SET voided_at = now() - interval '1 day' WHERE id = %s",
        "UPDATE cashiering_receipt SET void_entry_id = NULL WHERE id = %s",
        "DELETE FROM cashiering_receipt WHERE id = %s",
    ):
        with pytest.raises(DatabaseError):
            raw(sql, [voided.pk])
    assert other_entry is not None
    fresh = Receipt.objects.get(pk=voided.pk)
    assert (fresh.status, fresh.voided_at, fresh.void_entry_id) == (
        "voided",
        voided.voided_at,
        voided.void_entry_id,
    )


@pytest.mark.parametrize(
    ("column", "value"), [("card_last4", "123"), ("card_last4", "12a4"), ("account_last4", "98a5")]
)
def test_the_database_refuses_a_bad_last4(posted, column, value):
    cash = Tender.objects.filter(receipt=posted, tender_type__code="CASH").get()
    fields = {"check_number": "", "check_payer": "", "account_last4": "", "card_brand": ""}
    fields.update({"card_last4": "", "auth_code": "", "reference": "", column: value})
    names = ", ".join(fields)
    with pytest.raises(IntegrityError, match=f"tender_{column}_digits"):
        raw(
            f"INSERT INTO cashiering_tender (receipt_id, line_no, tender_type_id, amount, {names}) "
            f"VALUES (%s, 9, %s, 1, {', '.join(['%s'] * len(fields))})",
            [posted.pk, cash.tender_type_id, *fields.values()],
        )
