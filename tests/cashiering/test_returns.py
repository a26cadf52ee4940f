"""Returned (NSF) checks: targets re-opened, journal entries, the NSF fee, the payer flag."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from cashiering.errors import CashieringError
from cashiering.models import ARInvoice, CounterPolicy, ReturnedCheck, UtilityAccount
from cashiering.selectors.returns import flag_annotations, months_before, returned_item_proposals
from cashiering.services.returns import returned_check_dismiss, returned_check_process
from cashiering.targets import get_target_type
from tests.cashiering.factories import (
    UTILITY_RECEIVABLE,
    counter_setup,
    entry_lines,
    fee,
    fire_deferred_checks,
    gl_balance,
    invoice,
    make_account,
    make_invoice,
    open_session,
    post,
    utility,
    void,
)
from tests.cashiering.returns_factories import (
    check_tender,
    deposit_session,
    returned_item_line,
)

D = Decimal
BANK = "001.101.10"
RC_RECEIVABLE = "001.122.40"
NSF_REVENUE = "001.369.91.00"
AR_RECEIVABLE = "001.121.10"
PETS = "001.322.30.00"
RETURNED = date(2026, 3, 20)
NOW = date(2026, 3, 31)


@pytest.fixture
def counter(db):
    return counter_setup()


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr("cashiering.selectors.returns.today", lambda: NOW)
    monkeypatch.setattr("cashiering.services.returns.today", lambda: NOW)


def _deposited_check_receipt(counter, cashier, lines, tenders, *, drawer="D1", day=None):
    session = open_session(cashier, drawer, **({"business_date": day} if day else {}))
    receipt = post(session, lines, tenders)
    deposit_session(session)
    return receipt


def test_utility_check_reopens_the_balance_and_charges_the_fee(counter, cashier, technician):
    account = make_account(balance="120.00")
    receipt = _deposited_check_receipt(
        counter, cashier, [utility(account.number, "120.00")], [counter.check("120.00")]
    )
    account.refresh_from_db()
    assert account.balance == D("0.00")

    returned = returned_check_process(
        tender=check_tender(receipt), reason="nsf", returned_on=RETURNED, user=technician
    )

    account.refresh_from_db()
    assert account.balance == D("120.00")
    assert returned.status == ReturnedCheck.Status.PROCESSED
    assert returned.amount == D("120.00") and returned.fee_amount == D("40.00")
    assert returned.payer_name == "Dana Whitfield"
    assert entry_lines(returned.reversal_entry) == {
        UTILITY_RECEIVABLE: D("120.00"),
        BANK: D("-120.00"),
    }
    assert entry_lines(returned.fee_entry) == {RC_RECEIVABLE: D("40.00"), NSF_REVENUE: D("-40.00")}
    assert returned.reversal_entry.entry_date == RETURNED
    assert [
        (line.target_kind, line.target_ref, line.fee_code, line.amount)
        for line in returned.lines.all()
    ] == [("utility", account.number, "UT-PAY", D("120.00"))]
    # What the returned check is owed at the counter: the NSF fee.
    item = get_target_type("returned_check").load([str(returned.pk)])[str(returned.pk)]
    assert item.balance == D("40.00") and item.fee_code == "RC-PAY"
    fire_deferred_checks()


def test_check_amount_reopens_lines_in_order_and_fee_items_go_to_the_receivable(
    counter, cashier, technician
):
    make_invoice("INV-1", amount="100.00")
    account = make_account(balance="20.00")
    receipt = _deposited_check_receipt(
        counter,
        cashier,
        [invoice("INV-1", "100.00"), fee("PET"), utility(account.number, "20.00")],
        [counter.check("120.00"), counter.cash("30.00")],
    )

    returned = returned_check_process(
        tender=check_tender(receipt), reason="closed", returned_on=RETURNED, user=technician
    )

    assert ARInvoice.objects.get(number="INV-1").amount_due == D("100.00")
    account.refresh_from_db()
    assert account.balance == D("0.00")  # the cash paid this line; it stays paid
    assert entry_lines(returned.reversal_entry) == {
        AR_RECEIVABLE: D("100.00"),
        RC_RECEIVABLE: D("20.00"),
        BANK: D("-120.00"),
    }
    assert [(line.target_kind, line.amount) for line in returned.lines.order_by("pk")] == [
        ("invoice", D("100.00")),
        ("fee", D("20.00")),
    ]
    item = get_target_type("returned_check").load([str(returned.pk)])[str(returned.pk)]
    assert item.balance == D("60.00")  # the pet license part and the NSF fee


def test_second_check_on_a_receipt_reopens_after_the_first(counter, cashier, technician):
    account = make_account(balance="150.00")
    make_invoice("INV-2", amount="50.00")
    receipt = _deposited_check_receipt(
        counter,
        cashier,
        [utility(account.number, "150.00"), invoice("INV-2", "50.00")],
        [counter.check("100.00", number="501"), counter.check("100.00", number="502")],
    )
    first, second = receipt.tenders.order_by("line_no")
    returned_check_process(tender=first, reason="nsf", returned_on=RETURNED, user=technician)
    r2 = returned_check_process(
        tender=second, reason="nsf", returned_on=RETURNED, user=technician, fee=False
    )
    account.refresh_from_db()
    assert account.balance == D("150.00")
    assert ARInvoice.objects.get(number="INV-2").amount_due == D("50.00")
    assert [(line.target_kind, line.amount) for line in r2.lines.order_by("pk")] == [
        ("utility", D("50.00")),
        ("invoice", D("50.00")),
    ]
    assert r2.fee_entry is None and r2.fee_amount == D("0.00")


def test_counter_collects_what_a_returned_check_is_owed(counter, cashier, technician):
    account = make_account(balance="80.00")
    receipt = _deposited_check_receipt(
        counter, cashier, [utility(account.number, "80.00")], [counter.check("80.00")]
    )
    returned = returned_check_process(
        tender=check_tender(receipt), reason="nsf", returned_on=RETURNED, user=technician
    )
    session = open_session(cashier, "D2")
    ref = str(returned.pk)
    with pytest.raises(CashieringError, match="cannot be overpaid"):
        post(session, [_rc_line(ref, "40.01")], [counter.cash("40.01")])
    payment = post(session, [_rc_line(ref, "40.00")], [counter.cash("40.00")])
    assert entry_lines(payment.journal_entry)[RC_RECEIVABLE] == D("-40.00")
    assert gl_balance(RC_RECEIVABLE, counter.accounts) == D("0.00")
    item = get_target_type("returned_check").load([ref])[ref]
    assert item.balance == D("0.00")
    # A void gives the debt back.
    void(payment, requester=cashier, approver=_supervisor())
    assert get_target_type("returned_check").load([ref])[ref].balance == D("40.00")


def test_a_bounced_repayment_owes_the_debt_again(counter, cashier, technician):
    account = make_account(balance="80.00")
    receipt = _deposited_check_receipt(
        counter, cashier, [utility(account.number, "80.00")], [counter.check("80.00")]
    )
    returned = returned_check_process(
        tender=check_tender(receipt), reason="nsf", returned_on=RETURNED, user=technician
    )
    ref = str(returned.pk)
    repayment = _deposited_check_receipt(
        counter,
        cashier,
        [_rc_line(ref, "40.00")],
        [counter.check("40.00", number="77")],
        drawer="D2",
    )
    assert get_target_type("returned_check").load([ref])[ref].balance == D("0.00")
    again = returned_check_process(
        tender=check_tender(repayment), reason="nsf", returned_on=RETURNED, user=technician
    )
    assert get_target_type("returned_check").load([ref])[ref].balance == D("40.00")
    assert entry_lines(again.reversal_entry) == {RC_RECEIVABLE: D("40.00"), BANK: D("-40.00")}
    assert gl_balance(RC_RECEIVABLE, counter.accounts) == D("80.00")  # two NSF fees owed


def _supervisor():
    from kent_cs.roles import Role
    from tests.factories import make_user

    return make_user("boss", Role.SUPERVISOR)


def _rc_line(ref, amount):
    from cashiering.services.receipt_inputs import LineInput

    return LineInput(kind="returned_check", ref=ref, amount=D(amount))


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("open", "has not been deposited"),
        ("void", "is void"),
        ("cash", "only checks are returned"),
        ("twice", "was already returned"),
        ("early", "cannot come back before"),
        ("future", "cannot be in the future"),
        ("closed day", "is closed; nothing can be taken into it"),
    ],
)
def test_refusals(counter, cashier, technician, supervisor, setup, message):
    account = make_account(balance="60.00")
    session = open_session(cashier, "D1")
    tenders = [counter.cash("60.00")] if setup == "cash" else [counter.check("60.00")]
    receipt = post(session, [utility(account.number, "60.00")], tenders)
    if setup == "void":
        void(receipt, requester=cashier, approver=supervisor)
    if setup not in ("open", "void"):
        deposit_session(session)
    tender = receipt.tenders.get()
    returned_on = {"early": date(2026, 3, 1), "future": date(2026, 4, 2)}.get(setup, RETURNED)
    if setup == "twice":
        returned_check_process(tender=tender, reason="nsf", returned_on=RETURNED, user=technician)
    if setup == "closed day":
        from cashiering.services.closing import business_day_close

        business_day_close(business_date=RETURNED, user=supervisor)
    balance_before = UtilityAccount.objects.get(pk=account.pk).balance
    count_before = ReturnedCheck.objects.count()
    with pytest.raises(CashieringError, match=message):
        returned_check_process(
            tender=tender, reason="nsf", returned_on=returned_on, user=technician
        )
    assert UtilityAccount.objects.get(pk=account.pk).balance == balance_before
    assert ReturnedCheck.objects.count() == count_before


def test_a_cashier_cannot_process_a_returned_check(counter, cashier):
    account = make_account()
    receipt = _deposited_check_receipt(
        counter, cashier, [utility(account.number, "120.00")], [counter.check("120.00")]
    )
    with pytest.raises(CashieringError, match="Only an accounting technician"):
        returned_check_process(
            tender=check_tender(receipt), reason="nsf", returned_on=RETURNED, user=cashier
        )


def test_a_tender_is_returned_once_even_in_the_database(counter, cashier, technician):
    account = make_account()
    receipt = _deposited_check_receipt(
        counter, cashier, [utility(account.number, "120.00")], [counter.check("120.00")]
    )
    tender = check_tender(receipt)
    returned_check_process(tender=tender, reason="nsf", returned_on=RETURNED, user=technician)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReturnedCheck.objects.create(
            tender=tender, amount=D("1.00"), returned_on=RETURNED, created_by=technician
        )


# --- the payer flag ---------------------------------------------------------------------


def _return_on(counter, cashier, technician, account, returned_on, *, number, drawer, day):
    receipt = _deposited_check_receipt(
        counter,
        cashier,
        [utility(account.number, "10.00")],
        [counter.check("10.00", number=number, payer="Someone Else")],
        drawer=drawer,
        day=day,
    )
    return returned_check_process(
        tender=check_tender(receipt), reason="nsf", returned_on=returned_on, user=technician
    )


def test_payer_is_flagged_after_two_returns_in_twelve_months(
    counter, cashier, technician, monkeypatch
):
    account = make_account(balance="100.00")
    _return_on(
        counter,
        cashier,
        technician,
        account,
        date(2025, 4, 10),
        number="1",
        drawer="D1",
        day=date(2025, 4, 1),
    )
    assert get_target_type("utility").load([account.number])[account.number].warnings == ()
    _return_on(
        counter,
        cashier,
        technician,
        account,
        date(2026, 3, 20),
        number="2",
        drawer="D2",
        day=date(2026, 3, 16),
    )
    warning = "2 returned checks in the last 12 months — take cash, card or money order"
    assert get_target_type("utility").load([account.number])[account.number].warnings == (warning,)
    # On 2026-04-10 the first one is twelve months old: the flag is gone.
    monkeypatch.setattr("cashiering.selectors.returns.today", lambda: date(2026, 4, 10))
    monkeypatch.setattr("cashiering.services.returns.today", lambda: date(2026, 4, 10))
    [row] = UtilityAccount.objects.filter(pk=account.pk).annotate(
        **flag_annotations(
            kind="utility",
            ref_column='"cashiering_utilityaccount"."number"',
            name_column='"cashiering_utilityaccount"."name"',
        )
    )
    assert (row.returned_checks, row.returned_check_months, row.returned_check_limit) == (1, 12, 2)
    assert get_target_type("utility").load([account.number])[account.number].warnings == ()
    # A policy of one return in 12 months flags it again.
    CounterPolicy.objects.filter(pk=1).update(returned_check_limit=1)
    assert get_target_type("utility").load([account.number])[account.number].warnings == (
        "1 returned check in the last 12 months — take cash, card or money order",
    )
    # Posting (for_update) skips the query the warning needs.
    assert (
        get_target_type("utility").load([account.number], for_update=True)[account.number].warnings
        == ()
    )


def test_returns_of_the_same_payer_name_count_across_accounts(counter, cashier, technician):
    first = make_account("200001-01", balance="50.00", name="Dana Whitfield")
    second = make_account("200002-01", balance="50.00", name="dana whitfield")
    for drawer, (account, number) in zip(("D1", "D2"), ((first, "7"), (second, "8")), strict=True):
        receipt = _deposited_check_receipt(
            counter,
            cashier,
            [utility(account.number, "10.00")],
            [counter.check("10.00", number=number, payer="Dana Whitfield")],
            drawer=drawer,
        )
        returned_check_process(
            tender=check_tender(receipt), reason="nsf", returned_on=RETURNED, user=technician
        )
    third = make_account("200003-01", balance="50.00", name="Dana Whitfield")
    other = make_account("200004-01", balance="50.00", name="Pat Other")
    items = get_target_type("utility").load([third.number, other.number])
    assert items[third.number].warnings[0].startswith("2 returned checks")
    assert items[other.number].warnings == ()


def test_months_before():
    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert months_before(date(2026, 3, 16), 12) == date(2025, 3, 16)


# --- proposals from the bank statement --------------------------------------------------


def test_bank_line_proposes_the_check_named_in_it(counter, cashier, technician):
    account = make_account(balance="300.00")
    other = _deposited_check_receipt(
        counter,
        cashier,
        [utility(account.number, "75.00")],
        [counter.check("75.00", number="3300")],
    )
    named = _deposited_check_receipt(
        counter,
        cashier,
        [utility(account.number, "75.00")],
        [counter.check("75.00", number="4417")],
        drawer="D2",
    )
    line = returned_item_line("75.00", description="RETURN ITEM NSF CHK 4417")
    [proposal] = returned_item_proposals()
    assert proposal.line == line
    assert [t.check_number for t in proposal.candidates] == ["4417", "3300"]

    returned = returned_check_process(
        tender=check_tender(named),
        bank_transaction=line,
        reason="nsf",
        returned_on=line.booked_date,
        user=technician,
    )
    assert returned.bank_transaction == line
    assert returned_item_proposals() == []
    assert check_tender(other).pk not in {returned.tender_id}


def test_bank_line_of_another_amount_is_refused(counter, cashier, technician):
    account = make_account()
    receipt = _deposited_check_receipt(
        counter, cashier, [utility(account.number, "120.00")], [counter.check("120.00")]
    )
    line = returned_item_line("119.00")
    with pytest.raises(CashieringError, match="same amount"):
        returned_check_process(
            tender=check_tender(receipt),
            bank_transaction=line,
            reason="nsf",
            returned_on=RETURNED,
            user=technician,
        )


def test_dismissed_bank_line_leaves_the_list(counter, technician):
    line = returned_item_line("12.00")
    with pytest.raises(CashieringError, match="Say why"):
        returned_check_dismiss(bank_transaction=line, note=" ", user=technician)
    dismissed = returned_check_dismiss(
        bank_transaction=line, note="Vendor refund, not a counter check", user=technician
    )
    assert dismissed.status == ReturnedCheck.Status.DISMISSED
    assert returned_item_proposals() == []
