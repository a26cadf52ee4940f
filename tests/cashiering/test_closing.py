"""Blind close and over/short, balancing sessions, the business day: the services."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from cashiering.errors import CashieringError
from cashiering.models import (
    BusinessDay,
    CashierSession,
    CounterPolicy,
    Receipt,
    SessionCount,
)
from cashiering.selectors.balancing import session_expected
from cashiering.services.closing import (
    CheckInput,
    business_day_close,
    business_day_reopen,
    over_short_approve,
    session_balance,
    session_blind_close,
)
from ledger.models import JournalEntry
from tests.cashiering.factories import (
    CARD_CLEARING,
    UNDEPOSITED,
    counter_setup,
    fee,
    fire_deferred_checks,
    make_account,
    make_invoice,
    open_session,
    post,
    reverse,
    utility,
    void,
)
from tests.factories import TODAY

D = Decimal
OVER_SHORT = "001.369.81.00"
# $280.00 in the drawer: 160.00 float + 150.00 cash taken - 30.00 change.
CASH_280 = {"100.00": 1, "50.00": 2, "20.00": 3, "10.00": 1, "5.00": 2}


@pytest.fixture
def counter(db):
    return counter_setup()


def day_of_payments(counter, session, supervisor):
    """Cash with change, a split check + card, a money order, ACH, and a voided receipt.

    Expected: cash 160 + 150 - 30 = 280.00; checks 100 + 50 = 150.00; cards 150.00;
    ACH 20.00 (not in the drawer).
    """
    make_account("104455-01", balance="500.00")
    make_invoice("INV-24001", amount="250.00")
    post(session, [utility("104455-01", "120.00")], [counter.cash("150.00")])
    post(
        session,
        [fee("PET", 1), fee("MISC", 1, "220.00")],
        [counter.check("100.00"), counter.card("150.00")],
    )
    post(session, [utility("104455-01", "50.00")], [counter.money_order("50.00")])
    post(session, [fee("COPY", 200)], [counter.ach("30.00")])  # 200 copies at 0.15
    voided = post(session, [utility("104455-01", "40.00")], [counter.cash("40.00")])
    void(voided, requester=session.cashier, approver=supervisor)


def close(session, user=None, *, cash=None, checks=("100.00", "50.00"), cards="150.00", note=""):
    return session_blind_close(
        session=session,
        cash_count=dict(CASH_280 if cash is None else cash),
        checks=[CheckInput(number=f"10{i}", amount=a) for i, a in enumerate(checks)],
        card_settlement=cards,
        note=note,
        user=user or session.cashier,
    )


def lines_of(count):
    return {line.kind: (line.expected, line.counted, line.over_short) for line in count.lines.all()}


def entry_lines(entry):
    return sorted(
        (line.account.full_code, line.debit, line.credit)
        for line in entry.lines.select_related("account__fund")
    )


# ------------------------------------------------------------------------ expected


def test_expected_per_tender_takes_change_splits_and_voids_into_account(
    counter, cashier, supervisor
):
    session = open_session(cashier)
    day_of_payments(counter, session, supervisor)
    expected = session_expected(session)
    assert (expected.cash, expected.checks, expected.cards, expected.ach) == (
        D("280.00"),
        D("150.00"),
        D("150.00"),
        D("30.00"),
    )


def test_a_reversal_pays_cash_out_of_the_drawer_that_takes_it(counter, cashier, supervisor):
    make_account("104455-01", balance="500.00")
    first = open_session(cashier)
    receipt = post(first, [utility("104455-01", "45.00")], [counter.cash("50.00")])
    close(first, cash={"100.00": 1, "50.00": 1, "10.00": 1, "5.00": 1}, checks=(), cards="0")
    second = open_session(cashier)
    refund = reverse(receipt, requester=cashier, approver=supervisor, session=second)
    assert refund.total == D("-45.00")
    # The float of 160.00 less the 45.00 refunded in cash (the original's change stays out).
    assert session_expected(second).cash == D("115.00")
    # The first drawer still expects what it took: 160 + 50 - 5.
    assert lines_of(first.count)["cash"][0] == D("205.00")


# ---------------------------------------------------------------------- blind close


def test_a_count_that_matches_closes_the_session_balanced_without_an_entry(
    counter, cashier, supervisor
):
    session = open_session(cashier)
    day_of_payments(counter, session, supervisor)
    entries = JournalEntry.objects.count()
    count = close(session, note="All good")
    session.refresh_from_db()
    assert session.status == CashierSession.Status.CLOSED
    assert session.closed_at is not None
    assert count.status == SessionCount.Status.BALANCED
    assert count.over_short == D("0.00")
    assert count.over_short_entry is None
    assert count.counted_by == cashier
    assert count.cashier_note == "All good"
    assert count.checks == [
        {"number": "100", "amount": "100.00"},
        {"number": "101", "amount": "50.00"},
    ]
    assert count.cash_count == {k: v for k, v in CASH_280.items()}
    assert lines_of(count) == {
        "cash": (D("280.00"), D("280.00"), D("0.00")),
        "checks": (D("150.00"), D("150.00"), D("0.00")),
        "cards": (D("150.00"), D("150.00"), D("0.00")),
    }
    assert JournalEntry.objects.count() == entries


def test_a_small_shortage_posts_dr_over_short_cr_undeposited(counter, cashier, supervisor):
    session = open_session(cashier)
    day_of_payments(counter, session, supervisor)
    short_three = {**CASH_280, "5.00": 1, "1.00": 2}  # 277.00
    count = close(session, cash=short_three)
    assert count.status == SessionCount.Status.POSTED
    assert count.over_short == D("-3.00")
    assert lines_of(count)["cash"] == (D("280.00"), D("277.00"), D("-3.00"))
    entry = count.over_short_entry
    assert entry.source == "over_short"
    assert entry.source_ref == str(session.pk)
    assert entry.entry_date == TODAY
    assert entry_lines(entry) == [
        (UNDEPOSITED, D("0.00"), D("3.00")),
        (OVER_SHORT, D("3.00"), D("0.00")),
    ]
    fire_deferred_checks()


def test_a_card_overage_posts_dr_card_clearing_cr_over_short(counter, cashier, supervisor):
    session = open_session(cashier)
    day_of_payments(counter, session, supervisor)
    count = close(session, cards="152.25")
    assert count.status == SessionCount.Status.POSTED
    assert count.over_short == D("2.25")
    assert entry_lines(count.over_short_entry) == [
        (CARD_CLEARING, D("2.25"), D("0.00")),
        (OVER_SHORT, D("0.00"), D("2.25")),
    ]


def test_exactly_the_threshold_posts_at_once(counter, cashier, supervisor):
    session = open_session(cashier)
    day_of_payments(counter, session, supervisor)
    count = close(session, checks=("100.00", "45.00"))  # checks short 5.00
    assert count.status == SessionCount.Status.POSTED
    assert entry_lines(count.over_short_entry) == [
        (UNDEPOSITED, D("0.00"), D("5.00")),
        (OVER_SHORT, D("5.00"), D("0.00")),
    ]


def test_above_the_threshold_waits_for_a_supervisor_who_is_not_the_cashier(
    counter, cashier, technician, supervisor
):
    session = open_session(cashier)
    day_of_payments(counter, session, supervisor)
    count = close(session, cash={**CASH_280, "20.00": 2, "1.00": 9})  # short 11.00
    assert count.status == SessionCount.Status.PENDING
    assert count.over_short == D("-11.00")
    assert count.over_short_entry is None
    assert not JournalEntry.objects.filter(source="over_short").exists()

    with pytest.raises(CashieringError, match="Only a supervisor"):
        over_short_approve(count=count, explanation="Miscounted", user=technician)
    with pytest.raises(CashieringError, match="Explain"):
        over_short_approve(count=count, explanation="  ", user=supervisor)

    approved = over_short_approve(
        count=count, explanation="Gave change for a $20 as for a $10", user=supervisor
    )
    assert approved.status == SessionCount.Status.APPROVED
    assert approved.decided_by == supervisor
    assert approved.explanation == "Gave change for a $20 as for a $10"
    assert entry_lines(approved.over_short_entry) == [
        (UNDEPOSITED, D("0.00"), D("11.00")),
        (OVER_SHORT, D("11.00"), D("0.00")),
    ]
    event = (
        SessionCount.pgh_event_model.objects.filter(pgh_obj=count, pgh_label="update")
        .select_related("pgh_context")
        .last()
    )
    assert event.pgh_context.metadata["reason"] == "Gave change for a $20 as for a $10"
    with pytest.raises(CashieringError, match="not waiting"):
        over_short_approve(count=approved, explanation="Again", user=supervisor)


def test_a_supervisor_cannot_approve_the_over_short_of_a_drawer_they_counted(
    counter, cashier, supervisor
):
    session = open_session(cashier)
    count = close(session, user=supervisor, cash={"100.00": 2}, checks=(), cards="0")
    assert count.status == SessionCount.Status.PENDING
    assert count.counted_by == supervisor
    with pytest.raises(CashieringError, match="your own drawer"):
        over_short_approve(count=count, explanation="Fine", user=supervisor)


def test_a_cash_shortage_hidden_by_a_card_overage_still_needs_approval(
    counter, cashier, supervisor
):
    session = open_session(cashier)
    day_of_payments(counter, session, supervisor)
    count = close(session, cash={**CASH_280, "20.00": 2}, cards="170.00")  # -20 cash, +20 cards
    assert count.over_short == D("0.00")
    assert count.status == SessionCount.Status.PENDING
    approved = over_short_approve(count=count, explanation="Card keyed as cash", user=supervisor)
    assert entry_lines(approved.over_short_entry) == [
        (UNDEPOSITED, D("0.00"), D("20.00")),
        (CARD_CLEARING, D("20.00"), D("0.00")),
    ]


def test_the_threshold_is_the_policys(counter, cashier, supervisor):
    policy = CounterPolicy.current()
    policy.over_short_threshold = D("0.00")
    policy.save()
    session = open_session(cashier)
    day_of_payments(counter, session, supervisor)
    assert close(session, cards="150.01").status == SessionCount.Status.PENDING


def test_a_training_session_records_the_count_and_posts_nothing(counter, cashier):
    session = open_session(cashier, training=True)
    make_account("104455-01", balance="500.00")
    post(session, [utility("104455-01", "20.00")], [counter.cash("20.00")])
    entries = JournalEntry.objects.count()
    count = close(session, cash={"100.00": 1}, checks=(), cards="0")
    assert lines_of(count)["cash"] == (D("180.00"), D("100.00"), D("-80.00"))
    assert count.over_short_entry is None
    assert count.status == SessionCount.Status.POSTED
    assert JournalEntry.objects.count() == entries


@pytest.mark.parametrize(
    ("cash", "field", "message"),
    [
        ({"20.00": "-1"}, "cash-20.00", "whole number"),
        ({"20.00": "1.5"}, "cash-20.00", "whole number"),
        ({"0.25": "ten"}, "cash-0.25", "whole number"),
        ({"20.00": 2.0}, "cash-20.00", "whole number"),
        ({"20.00": True}, "cash-20.00", "whole number"),
    ],
)
def test_counts_must_be_whole_numbers_of_pieces(counter, cashier, cash, field, message):
    session = open_session(cashier)
    with pytest.raises(CashieringError) as caught:
        close(session, cash=cash, checks=(), cards="0")
    assert message in caught.value.message_dict[field][0]
    session.refresh_from_db()
    assert session.status == CashierSession.Status.OPEN
    assert not SessionCount.objects.exists()


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        ([CheckInput("", "20.00")], "Row 2: enter the check or money order number."),
        ([CheckInput("2201", "")], "Row 2: enter the amount of check 2201."),
        ([CheckInput("2201", "abc")], "Row 2: abc is not an amount."),
        ([CheckInput("2201", "-5.00")], "Row 2: the amount must be more than zero."),
    ],
)
def test_a_check_row_missing_its_number_or_amount_is_refused_at_that_row(
    counter, cashier, checks, message
):
    session = open_session(cashier)
    rows = [CheckInput("1042", "100.00"), *checks, CheckInput("", "")]
    with pytest.raises(CashieringError) as caught:
        session_blind_close(
            session=session, cash_count={}, checks=rows, card_settlement="0", user=cashier
        )
    assert caught.value.message_dict == {"check-2": [message]}
    assert not SessionCount.objects.exists()


def test_a_negative_card_total_is_refused(counter, cashier):
    session = open_session(cashier)
    with pytest.raises(CashieringError) as caught:
        close(session, cash={}, checks=(), cards="-1.00")
    assert caught.value.message_dict == {
        "card_settlement": ["The settlement total cannot be negative."]
    }


def test_blank_rows_are_skipped_and_a_blank_card_total_is_zero(counter, cashier):
    session = open_session(cashier)
    count = session_blind_close(
        session=session,
        cash_count={"20.00": "8", "0.25": ""},
        checks=[CheckInput("", ""), CheckInput(" 77 ", "$1,000.00")],
        card_settlement="",
        user=cashier,
    )
    assert count.checks == [{"number": "77", "amount": "1000.00"}]
    assert count.card_settlement == D("0.00")
    assert lines_of(count)["checks"] == (D("0.00"), D("1000.00"), D("1000.00"))


def test_another_cashiers_session_is_refused(counter, cashier, cashier_b):
    session = open_session(cashier)
    with pytest.raises(CashieringError, match="Only the session's cashier"):
        close(session, user=cashier_b, cash={}, checks=(), cards="0")
    assert not SessionCount.objects.exists()


def test_a_technician_counts_a_drawer_a_cashier_left_open(counter, cashier, technician):
    session = open_session(cashier)
    count = close(session, user=technician, cash={"20.00": 8}, checks=(), cards="0")
    assert count.counted_by == technician
    assert count.status == SessionCount.Status.BALANCED


def test_a_drawer_is_counted_once(counter, cashier):
    session = open_session(cashier)
    close(session, cash={"20.00": 8}, checks=(), cards="0")
    with pytest.raises(CashieringError, match="already been counted"):
        close(session, cash={"20.00": 9}, checks=(), cards="0")
    assert SessionCount.objects.count() == 1


def test_a_session_closed_before_counting_is_counted_later(counter, cashier):
    from cashiering.services.sessions import session_close

    session = session_close(session=open_session(cashier), user=cashier)
    closed_at = session.closed_at
    count = close(session, cash={"20.00": 8}, checks=(), cards="0")
    session.refresh_from_db()
    assert session.closed_at == closed_at
    assert count.status == SessionCount.Status.BALANCED


def test_nothing_is_written_when_the_period_is_closed(counter, cashier, supervisor):
    from ledger.services import period_close, period_for_date

    session = open_session(cashier)
    period_close(period=period_for_date(TODAY), user=supervisor)
    with pytest.raises(CashieringError, match="closed"):
        close(session, cash={"20.00": 8}, checks=(), cards="1.00")  # over 1.00 posts
    session.refresh_from_db()
    assert session.status == CashierSession.Status.OPEN
    assert not SessionCount.objects.exists()


def test_deposit_amounts_leave_the_float_in_the_drawer(counter, cashier, supervisor):
    from cashiering.selectors.balancing import count_deposit_amounts

    session = open_session(cashier)
    day_of_payments(counter, session, supervisor)
    deposit = count_deposit_amounts(close(session))
    assert (deposit.cash, deposit.checks, deposit.total) == (
        D("120.00"),
        D("150.00"),
        D("270.00"),
    )


# ------------------------------------------------------------------------- balancing


def test_a_session_is_balanced_once_its_over_short_is_settled(
    counter, cashier, technician, supervisor
):
    session = open_session(cashier)
    with pytest.raises(CashieringError, match="still open"):
        session_balance(session=session, user=technician)
    count = close(session, cash={"100.00": 2}, checks=(), cards="0")  # over 40.00
    with pytest.raises(CashieringError, match="waiting for a supervisor"):
        session_balance(session=session, user=technician)
    with pytest.raises(CashieringError, match="may not balance"):
        session_balance(session=session, user=cashier)
    over_short_approve(count=count, explanation="Payer left change", user=supervisor)
    balanced = session_balance(session=session, user=technician)
    assert balanced.status == CashierSession.Status.BALANCED
    with pytest.raises(CashieringError, match="already balanced"):
        session_balance(session=session, user=technician)


# ---------------------------------------------------------------------- business day


def test_the_day_closes_only_when_every_drawer_is_balanced(
    counter, cashier, cashier_b, technician, supervisor
):
    first = open_session(cashier, "D1")
    second = open_session(cashier_b, "D2")
    with pytest.raises(CashieringError) as caught:
        business_day_close(business_date=TODAY, user=supervisor)
    assert "still open: D1 (cashier), D2 (cashier_b)" in caught.value.messages[0]

    close(first, cash={"20.00": 8}, checks=(), cards="0")
    count = close(second, cash={"100.00": 2}, checks=(), cards="0")
    with pytest.raises(CashieringError) as caught:
        business_day_close(business_date=TODAY, user=supervisor)
    assert caught.value.messages == [
        "Business day 2026-03-16 cannot be closed. Drawers over/short waiting for approval: "
        "D2 (cashier_b); not yet balanced: D1 (cashier)."
    ]
    over_short_approve(count=count, explanation="Counted twice", user=supervisor)
    session_balance(session=first, user=technician)
    session_balance(session=second, user=technician)
    with pytest.raises(CashieringError, match="Only a supervisor"):
        business_day_close(business_date=TODAY, user=technician)

    day = business_day_close(business_date=TODAY, user=supervisor)
    assert day.status == BusinessDay.Status.CLOSED
    assert day.closed_by == supervisor
    with pytest.raises(CashieringError, match="already closed"):
        business_day_close(business_date=TODAY, user=supervisor)


def test_no_session_opens_into_a_closed_day_until_it_is_reopened(counter, cashier, supervisor):
    business_day_close(business_date=TODAY, user=supervisor)  # no sessions: closes
    with pytest.raises(CashieringError, match="Business day 2026-03-16 is closed"):
        open_session(cashier)
    assert not CashierSession.objects.exists()

    with pytest.raises(CashieringError) as caught:
        business_day_reopen(business_date=TODAY, reason=" ", user=supervisor)
    assert caught.value.message_dict == {"reason": ["Enter the reason for reopening the day."]}
    day = business_day_reopen(business_date=TODAY, reason="Late drive-up payments", user=supervisor)
    assert (day.status, day.reopen_reason, day.reopened_by) == (
        BusinessDay.Status.OPEN,
        "Late drive-up payments",
        supervisor,
    )
    event = (
        BusinessDay.pgh_event_model.objects.filter(pgh_obj=day, pgh_label="update")
        .select_related("pgh_context")
        .last()
    )
    assert event.pgh_context.metadata["reason"] == "Late drive-up payments"
    assert open_session(cashier).business_date == TODAY
    with pytest.raises(CashieringError, match="is not closed"):
        business_day_reopen(business_date=TODAY, reason="Again", user=supervisor)


def test_the_database_refuses_receipts_into_a_closed_day(counter, cashier, supervisor):
    make_account("104455-01", balance="500.00")
    session = open_session(cashier)
    receipt = post(session, [utility("104455-01", "20.00")], [counter.cash("20.00")])
    # Closed behind the services' back (as a stray script would): the trigger still holds.
    BusinessDay.objects.filter(business_date=TODAY).update(status=BusinessDay.Status.CLOSED)
    closed = "business day 2026-03-16 is closed"
    with pytest.raises(IntegrityError, match=closed), transaction.atomic():
        post(session, [utility("104455-01", "10.00")], [counter.cash("10.00")])
    with pytest.raises(IntegrityError, match=closed), transaction.atomic():
        void(receipt, requester=cashier, approver=supervisor)
    assert Receipt.objects.count() == 1
    assert Receipt.objects.get().status == Receipt.Status.POSTED


def test_a_training_drawer_left_open_holds_the_day_and_is_named_as_training(
    counter, cashier, supervisor
):
    training = open_session(cashier, "D3", training=True)
    with pytest.raises(CashieringError) as caught:
        business_day_close(business_date=TODAY, user=supervisor)
    assert "still open: D3 (cashier, training)" in caught.value.messages[0]
    close(training, cash={"20.00": 5, "5.00": 8, "1.00": 10, "0.25": 40}, checks=(), cards="0")
    assert business_day_close(business_date=TODAY, user=supervisor).status == "closed"
