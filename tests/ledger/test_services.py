"""Ledger services: posting, refusing, reversing, numbering and period close/reopen."""

import io
from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
from django.db import DatabaseError, transaction
from django.db.models import Sum

from kent_cs.numbering import peek_number
from ledger.demo import seed as seed_ledger
from ledger.models import (
    AccountingPeriod,
    AccountingPeriodEvent,
    GLAccount,
    JournalEntry,
    JournalLine,
)
from ledger.services import (
    JOURNAL_SERIES,
    LedgerError,
    LineSpec,
    StagedEntry,
    journal_entry_post,
    journal_entry_reverse,
    net_lines,
    period_close,
    period_for_date,
    period_reopen,
    periods_ensure_year,
)
from tests.factories import TODAY

D = Decimal
CLEARING = "001.101.30"
BANK = "001.101.10"
LICENSES = "001.321.10.00"
FIRE = "001.321.90.00"
TECH = "001.321.91.00"


@pytest.fixture
def ledger(db):
    """The demo chart of accounts (ledger only: the counter's demo data is not needed)."""
    seed_ledger(io.StringIO())
    periods_ensure_year(year=TODAY.year)
    return {a.full_code: a for a in GLAccount.objects.select_related("fund")}


def counts() -> tuple[int, int]:
    return JournalEntry.objects.count(), JournalLine.objects.count()


def balance(account) -> Decimal:
    totals = JournalLine.objects.filter(account=account).aggregate(d=Sum("debit"), c=Sum("credit"))
    return (totals["d"] or D(0)) - (totals["c"] or D(0))


def post(user, ledger, amount="100.00", *, entry_date=TODAY, memo="Counter receipts"):
    return journal_entry_post(
        entry_date=entry_date,
        memo=memo,
        lines=[
            LineSpec(ledger[CLEARING], debit=D(amount)),
            LineSpec(ledger[LICENSES], credit=D(amount)),
        ],
        user=user,
    )


# ----------------------------------------------------------------------------- posting


def test_posting_writes_the_entry_and_its_balanced_lines(ledger, technician):
    entry = journal_entry_post(
        entry_date=TODAY,
        memo="  Business license payments  ",
        lines=[
            LineSpec(ledger[CLEARING], debit=D("213.93"), memo="Drawer 1"),
            LineSpec(ledger[LICENSES], credit=D("100.00")),
            LineSpec(ledger[FIRE], credit=D("112.93")),
            LineSpec(ledger[TECH], credit=D("1.00")),
        ],
        user=technician,
        source="receipt",
        source_ref="R-1001",
    )
    entry.refresh_from_db()
    assert entry.number == 1
    assert entry.memo == "Business license payments"
    assert entry.period == AccountingPeriod.objects.get(year=TODAY.year, month=TODAY.month)
    assert (entry.source, entry.source_ref, entry.posted_by) == ("receipt", "R-1001", technician)
    lines = list(entry.lines.order_by("line_no"))
    assert [(line.line_no, line.account.full_code, line.debit, line.credit) for line in lines] == [
        (1, CLEARING, D("213.93"), D("0.00")),
        (2, LICENSES, D("0.00"), D("100.00")),
        (3, FIRE, D("0.00"), D("112.93")),
        (4, TECH, D("0.00"), D("1.00")),
    ]
    assert lines[0].memo == "Drawer 1"
    assert sum(line.debit for line in lines) == sum(line.credit for line in lines)
    assert balance(ledger[CLEARING]) == D("213.93")
    assert balance(ledger[FIRE]) == D("-112.93")


def test_amounts_are_rounded_half_up_before_the_balance_check(ledger, technician):
    entry = journal_entry_post(
        entry_date=TODAY,
        memo="Rounded",
        lines=[
            LineSpec(ledger[CLEARING], debit=D("10.005")),
            LineSpec(ledger[LICENSES], credit=D("10.01")),
        ],
        user=technician,
    )
    assert list(entry.lines.values_list("debit", flat=True)) == [D("10.01"), D("0.00")]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([(CLEARING, "100.00", "0"), (LICENSES, "0", "99.99")], "do not balance"),
        ([(CLEARING, "100.00", "0")], "at least two lines"),
        ([], "at least two lines"),
        ([(CLEARING, "100.00", "100.00"), (LICENSES, "0", "0")], "Line 1: enter either"),
        ([(CLEARING, "0", "0"), (LICENSES, "0", "0")], "Line 1: enter either"),
        ([(CLEARING, "-5.00", "0"), (LICENSES, "0", "-5.00")], "Line 1: amounts must not be"),
    ],
)
def test_bad_line_sets_are_refused_and_nothing_is_written(ledger, technician, lines, message):
    before, next_before = counts(), peek_number(JOURNAL_SERIES)
    specs = [LineSpec(ledger[code], debit=D(dr), credit=D(cr)) for code, dr, cr in lines]
    with pytest.raises(LedgerError, match=message):
        journal_entry_post(entry_date=TODAY, memo="Bad", lines=specs, user=technician)
    assert counts() == before
    assert peek_number(JOURNAL_SERIES) == next_before


def test_the_unbalanced_message_gives_both_totals(ledger, technician):
    with pytest.raises(LedgerError) as error:
        journal_entry_post(
            entry_date=TODAY,
            memo="Off by a cent",
            lines=[
                LineSpec(ledger[CLEARING], debit=D("50.00")),
                LineSpec(ledger[LICENSES], credit=D("49.99")),
            ],
            user=technician,
        )
    assert error.value.messages == ["Debits (50.00) and credits (49.99) do not balance."]


def test_a_memo_is_required(ledger, technician):
    with pytest.raises(LedgerError, match="Enter a memo"):
        post(technician, ledger, memo="   ")
    assert counts() == (0, 0)


def test_an_inactive_account_is_refused(ledger, technician):
    ledger[LICENSES].is_active = False
    ledger[LICENSES].save()
    with pytest.raises(LedgerError, match=r"Line 2: account 001\.321\.10\.00 is inactive"):
        post(technician, ledger)
    assert counts() == (0, 0)


def test_a_date_without_a_period_is_refused(ledger, technician):
    with pytest.raises(LedgerError, match="There is no accounting period for March 03, 1999"):
        post(technician, ledger, entry_date=date(1999, 3, 3))
    assert counts() == (0, 0)


def test_posting_into_a_closed_period_is_refused(ledger, technician, supervisor):
    period = period_for_date(TODAY)
    period_close(period=period, user=supervisor, reason="March is final")
    with pytest.raises(LedgerError, match=f"The {TODAY:%B %Y} accounting period is closed"):
        post(technician, ledger)
    assert counts() == (0, 0)
    assert peek_number(JOURNAL_SERIES) == 1


def test_the_database_refuses_a_closed_period_even_if_the_service_check_is_passed(
    ledger, technician, supervisor
):
    """A period closed after the service looked at it (a race) is caught by the trigger."""
    period_close(period=period_for_date(TODAY), user=supervisor)
    with (
        mock.patch.object(AccountingPeriod, "is_open", True),
        pytest.raises(DatabaseError, match="is closed"),
    ):
        post(technician, ledger)
    assert counts() == (0, 0)


# ------------------------------------------------------------------------------ numbers


def test_entry_numbers_are_contiguous(ledger, technician):
    numbers = [post(technician, ledger).number for _ in range(3)]
    assert numbers == [1, 2, 3]


def test_a_posting_that_fails_midway_does_not_spend_its_number(ledger, technician):
    assert post(technician, ledger).number == 1
    # The lines are written first, then the entry takes its number: fail at that point.
    with (
        mock.patch.object(StagedEntry, "post", side_effect=DatabaseError("disk full")),
        pytest.raises(DatabaseError, match="disk full"),
    ):
        post(technician, ledger)
    assert counts() == (1, 2)  # the lines written before the failure are gone too
    assert post(technician, ledger).number == 2


def test_a_caller_transaction_that_fails_after_posting_gives_the_number_back(ledger, technician):
    """A receipt posts its entry in its own transaction; if the receipt fails, no gap."""
    assert post(technician, ledger).number == 1
    with pytest.raises(RuntimeError), transaction.atomic():
        assert post(technician, ledger).number == 2
        raise RuntimeError("receipt printer exploded")
    assert counts() == (1, 2)
    assert post(technician, ledger).number == 2
    assert list(JournalEntry.objects.order_by("number").values_list("number", flat=True)) == [
        1,
        2,
    ]


# ---------------------------------------------------------------------------- reversals


def test_reversal_restores_every_balance_and_records_the_reason(ledger, technician, supervisor):
    post(technician, ledger, "40.00")
    original = journal_entry_post(
        entry_date=TODAY,
        memo="Misposted licenses",
        lines=[
            LineSpec(ledger[CLEARING], debit=D("213.93")),
            LineSpec(ledger[LICENSES], credit=D("100.00")),
            LineSpec(ledger[FIRE], credit=D("112.93")),
            LineSpec(ledger[TECH], credit=D("1.00")),
        ],
        user=technician,
    )
    accounts = [ledger[code] for code in (CLEARING, LICENSES, FIRE, TECH, BANK)]
    before = {a.pk: balance(a) for a in accounts}

    reversal = journal_entry_reverse(
        entry=original, user=supervisor, reason=" Wrong fee code ", entry_date=TODAY
    )

    assert reversal.number == 3
    assert reversal.reverses == original
    assert reversal.memo == f"Reversal of JE {original.number}: Wrong fee code"
    assert (reversal.source, reversal.source_ref) == ("reversal", f"JE {original.number}")
    mirrored = sorted((line.account_id, line.debit, line.credit) for line in reversal.lines.all())
    assert mirrored == sorted(
        (line.account_id, line.credit, line.debit) for line in original.lines.all()
    )
    after = {a.pk: balance(a) for a in accounts}
    assert after[ledger[CLEARING].pk] == before[ledger[CLEARING].pk] - D("213.93") == D("40.00")
    assert after[ledger[LICENSES].pk] == D("-40.00")
    assert after[ledger[FIRE].pk] == after[ledger[TECH].pk] == after[ledger[BANK].pk] == D(0)
    event = reversal.events.get()
    assert event.pgh_context.metadata["reason"] == "Wrong fee code"


def test_an_entry_is_reversed_only_once(ledger, technician, supervisor):
    original = post(technician, ledger)
    journal_entry_reverse(entry=original, user=supervisor, reason="Duplicate", entry_date=TODAY)
    before = counts()
    with pytest.raises(LedgerError, match=f"JE {original.number} has already been reversed"):
        journal_entry_reverse(entry=original, user=supervisor, reason="Again", entry_date=TODAY)
    assert counts() == before


def test_a_reversal_cannot_be_reversed(ledger, technician, supervisor):
    original = post(technician, ledger)
    reversal = journal_entry_reverse(
        entry=original, user=supervisor, reason="Duplicate", entry_date=TODAY
    )
    before = counts()
    with pytest.raises(LedgerError, match="is itself a reversal; post a new entry"):
        journal_entry_reverse(entry=reversal, user=supervisor, reason="Undo", entry_date=TODAY)
    assert counts() == before


def test_a_reversal_needs_a_reason(ledger, technician, supervisor):
    original = post(technician, ledger)
    with pytest.raises(LedgerError, match="Enter the reason for the reversal"):
        journal_entry_reverse(entry=original, user=supervisor, reason="  ", entry_date=TODAY)
    assert counts() == (1, 2)


def test_a_reversal_into_a_closed_period_is_refused(ledger, technician, supervisor):
    original = post(technician, ledger)
    period_close(period=period_for_date(TODAY), user=supervisor)
    with pytest.raises(LedgerError, match="is closed"):
        journal_entry_reverse(entry=original, user=supervisor, reason="Late", entry_date=TODAY)
    assert counts() == (1, 2)
    # Reversed in the next open period instead.
    reversal = journal_entry_reverse(
        entry=original, user=supervisor, reason="Late", entry_date=date(TODAY.year, 4, 1)
    )
    assert reversal.period.month == 4


# ------------------------------------------------------------------------------ periods


def test_closing_and_reopening_a_period_records_who_and_why(ledger, supervisor, admin):
    period = period_for_date(TODAY)
    closed = period_close(period=period, user=supervisor, reason="Month-end reconciled")
    assert closed.status == AccountingPeriod.Status.CLOSED
    assert closed.status_changed_by == supervisor
    assert closed.status_changed_at is not None

    reopened = period_reopen(period=period, user=admin, reason="Late deposit correction")
    period.refresh_from_db()
    assert period.is_open
    assert period.status_changed_by == admin
    assert reopened.status_changed_at > closed.status_changed_at

    events = list(
        AccountingPeriodEvent.objects.filter(pgh_obj=period, pgh_label="update")
        .select_related("pgh_context")
        .order_by("pgh_id")
    )
    assert [(e.status, e.pgh_context.metadata["reason"]) for e in events] == [
        ("closed", "Month-end reconciled"),
        ("open", "Late deposit correction"),
    ]


def test_closing_without_a_reason_records_a_default_one(ledger, supervisor):
    period = period_for_date(TODAY)
    period_close(period=period, user=supervisor)
    event = AccountingPeriodEvent.objects.filter(pgh_obj=period, pgh_label="update").get()
    assert event.pgh_context.metadata["reason"] == "Period closed"


def test_reopening_needs_a_reason(ledger, supervisor):
    period = period_close(period=period_for_date(TODAY), user=supervisor)
    with pytest.raises(LedgerError, match="Enter the reason for reopening"):
        period_reopen(period=period, user=supervisor, reason=" ")
    period.refresh_from_db()
    assert period.status == AccountingPeriod.Status.CLOSED


def test_closing_a_closed_period_and_reopening_an_open_one_are_refused(ledger, supervisor):
    period = period_for_date(TODAY)
    with pytest.raises(LedgerError, match="is already open"):
        period_reopen(period=period, user=supervisor, reason="Why not")
    period_close(period=period, user=supervisor)
    with pytest.raises(LedgerError, match="is already closed"):
        period_close(period=period, user=supervisor)


def test_posting_works_again_after_a_reopen(ledger, technician, supervisor):
    period = period_close(period=period_for_date(TODAY), user=supervisor)
    period_reopen(period=period, user=supervisor, reason="Correction")
    assert post(technician, ledger).period == period


def test_periods_for_a_year_are_created_once_with_month_bounds(db):
    periods = periods_ensure_year(year=2028)
    assert len(periods) == 12
    february = periods[1]
    assert (february.start_date, february.end_date) == (date(2028, 2, 1), date(2028, 2, 29))
    assert periods[11].end_date == date(2028, 12, 31)
    assert str(february) == "February 2028"
    assert periods_ensure_year(year=2028) == periods
    assert AccountingPeriod.objects.filter(year=2028).count() == 12


# --------------------------------------------------------------------------- net lines


def test_net_lines_combines_per_account_and_drops_zero_nets(ledger):
    lines = [
        LineSpec(ledger[CLEARING], debit=D("10.00")),
        LineSpec(ledger[CLEARING], debit=D("5.50")),
        LineSpec(ledger[LICENSES], credit=D("15.50")),
        LineSpec(ledger[FIRE], credit=D("3.00")),
        LineSpec(ledger[FIRE], debit=D("3.00")),
        LineSpec(ledger[TECH], debit=D("1.00")),
        LineSpec(ledger[TECH], credit=D("2.00")),
    ]
    netted = net_lines(lines)
    assert [(line.account.full_code, line.debit, line.credit) for line in netted] == [
        (CLEARING, D("15.50"), D("0.00")),
        (LICENSES, D("0.00"), D("15.50")),
        (TECH, D("0.00"), D("1.00")),
    ]
