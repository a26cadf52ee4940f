"""Ledger invariants as properties: whatever lines are posted, the books stay balanced.

Each example runs in a savepoint that is rolled back, so examples do not see each other.
"""

import io
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Count, Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kent_cs.numbering import peek_number
from ledger.demo import seed as seed_ledger
from ledger.models import GLAccount, JournalEntry, JournalLine
from ledger.services import (
    JOURNAL_SERIES,
    LedgerError,
    LineSpec,
    journal_entry_post,
    journal_entry_reverse,
    periods_ensure_year,
)
from tests.factories import TODAY, make_user

D = Decimal
PROPERTY_SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def books(db):
    seed_ledger(io.StringIO())
    periods_ensure_year(year=TODAY.year)
    accounts = list(GLAccount.objects.select_related("fund").order_by("pk"))
    return accounts, make_user("bookkeeper")


cents = st.integers(min_value=1, max_value=10_000_000).map(lambda c: D(c) / 100)
# (account index, amount) for each side; indexes are taken modulo the chart's size.
sides = st.lists(st.tuples(st.integers(min_value=0, max_value=999), cents), min_size=1, max_size=6)


def balanced_lines(accounts, debits, credits) -> list[LineSpec]:
    """Lines from the drawn sides, with one more line making debits equal credits."""
    lines = [LineSpec(accounts[i % len(accounts)], debit=amount) for i, amount in debits]
    lines += [LineSpec(accounts[i % len(accounts)], credit=amount) for i, amount in credits]
    difference = sum(a for _, a in debits) - sum(a for _, a in credits)
    if difference > 0:
        lines.append(LineSpec(accounts[0], credit=difference))
    elif difference < 0:
        lines.append(LineSpec(accounts[1], debit=-difference))
    return lines


def balances() -> dict[int, Decimal]:
    rows = JournalLine.objects.values("account").annotate(d=Sum("debit"), c=Sum("credit"))
    return {row["account"]: row["d"] - row["c"] for row in rows}


@PROPERTY_SETTINGS
@given(debits=sides, credits=sides)
def test_balanced_lines_post_and_the_entry_balances(books, debits, credits):
    accounts, user = books
    lines = balanced_lines(accounts, debits, credits)
    with transaction.atomic():
        entry = journal_entry_post(entry_date=TODAY, memo="Property", lines=lines, user=user)
        totals = entry.lines.aggregate(d=Sum("debit"), c=Sum("credit"), n=Count("id"))
        all_totals = JournalLine.objects.aggregate(d=Sum("debit"), c=Sum("credit"))
        transaction.set_rollback(True)
    assert totals["d"] == totals["c"] == sum(line.debit for line in lines)
    assert totals["n"] == len(lines)
    assert all_totals["d"] == all_totals["c"]


@PROPERTY_SETTINGS
@given(debits=sides, credits=sides, skew=st.integers(min_value=1, max_value=100_000))
def test_unbalanced_lines_are_refused_and_nothing_is_written(books, debits, credits, skew):
    accounts, user = books
    lines = balanced_lines(accounts, debits, credits)
    first = lines[0]
    lines[0] = LineSpec(first.account, debit=first.debit + D(skew) / 100)  # debits over
    before = (JournalEntry.objects.count(), JournalLine.objects.count())
    next_before = peek_number(JOURNAL_SERIES)
    with pytest.raises(LedgerError, match="do not balance"):
        journal_entry_post(entry_date=TODAY, memo="Property", lines=lines, user=user)
    assert (JournalEntry.objects.count(), JournalLine.objects.count()) == before
    assert peek_number(JOURNAL_SERIES) == next_before


@PROPERTY_SETTINGS
@given(
    history=st.lists(st.tuples(sides, sides), min_size=0, max_size=3),
    debits=sides,
    credits=sides,
)
def test_a_reversal_restores_every_account_balance(books, history, debits, credits):
    accounts, user = books
    with transaction.atomic():
        for earlier_debits, earlier_credits in history:
            journal_entry_post(
                entry_date=TODAY,
                memo="Earlier",
                lines=balanced_lines(accounts, earlier_debits, earlier_credits),
                user=user,
            )
        before = balances()
        entry = journal_entry_post(
            entry_date=TODAY,
            memo="To reverse",
            lines=balanced_lines(accounts, debits, credits),
            user=user,
        )
        reversal = journal_entry_reverse(
            entry=entry, user=user, reason="Property", entry_date=TODAY
        )
        after = balances()
        numbers = list(JournalEntry.objects.order_by("number").values_list("number", flat=True))
        with pytest.raises(LedgerError, match="already been reversed"):
            journal_entry_reverse(entry=entry, user=user, reason="Again", entry_date=TODAY)
        with pytest.raises(LedgerError, match="is itself a reversal"):
            journal_entry_reverse(entry=reversal, user=user, reason="Undo", entry_date=TODAY)
        transaction.set_rollback(True)
    for account in accounts:
        assert after.get(account.pk, D(0)) == before.get(account.pk, D(0)), account
    assert numbers == list(range(numbers[0], numbers[0] + len(history) + 2))
