"""The database itself guards the ledger: raw SQL that bypasses the services is refused.

Posted entries and lines refuse UPDATE and DELETE, nothing enters a closed period or
falls outside its period, an entry must balance when its transaction commits, and lines
cannot be added to an entry posted by an earlier transaction.
"""

import io
from datetime import date
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from ledger.demo import seed as seed_ledger
from ledger.models import (
    AccountingPeriod,
    Fund,
    GLAccount,
    JournalEntry,
    JournalEntryEvent,
    JournalLine,
)
from ledger.services import LineSpec, journal_entry_post, period_close, periods_ensure_year
from tests.factories import TODAY, make_user

D = Decimal
CLEARING = "001.101.30"
LICENSES = "001.321.10.00"


@pytest.fixture
def ledger(db):
    seed_ledger(io.StringIO())
    periods_ensure_year(year=TODAY.year)
    return {a.full_code: a for a in GLAccount.objects.select_related("fund")}


@pytest.fixture
def poster(db):
    return make_user("poster")


def counts() -> tuple[int, int]:
    return JournalEntry.objects.count(), JournalLine.objects.count()


def march() -> AccountingPeriod:
    return AccountingPeriod.objects.get(year=TODAY.year, month=TODAY.month)


def raw_entry_sql(*, number, period, entry_date, user) -> tuple[str, list]:
    return (
        "INSERT INTO ledger_journalentry "
        "(number, period_id, entry_date, memo, source, source_ref, posted_by_id) "
        "VALUES (%s, %s, %s, 'raw', 'manual', '', %s) RETURNING id",
        [number, period.pk, entry_date, user.pk],
    )


def raw_lines(cursor, entry_id, lines) -> None:
    """One multi-row INSERT of (account, debit, credit) lines."""
    values = ", ".join(["(%s, %s, %s, %s, %s, '')"] * len(lines))
    params: list = []
    for line_no, (account, debit, credit) in enumerate(lines, start=1):
        params += [entry_id, line_no, account.pk, debit, credit]
    cursor.execute(
        "INSERT INTO ledger_journalline (entry_id, line_no, account_id, debit, credit, memo) "
        f"VALUES {values}",
        params,
    )


def posted(ledger, user) -> JournalEntry:
    return journal_entry_post(
        entry_date=TODAY,
        memo="Counter receipts",
        lines=[
            LineSpec(ledger[CLEARING], debit=D("25.00")),
            LineSpec(ledger[LICENSES], credit=D("25.00")),
        ],
        user=user,
    )


def refused(sql: str, params: list | None = None, match: str | None = None) -> None:
    """Run `sql` in a savepoint and expect the database to refuse it."""
    with (
        pytest.raises(DatabaseError, match=match),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params or [])
        # Deferred triggers fire at commit; make them fire now, inside the savepoint.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


# -------------------------------------------------------------------- posted is final


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_journalline SET debit = debit + 1 WHERE debit > 0",
        "UPDATE ledger_journalline SET memo = 'edited'",
        "DELETE FROM ledger_journalline",
        "UPDATE ledger_journalentry SET memo = 'edited'",
        "UPDATE ledger_journalentry SET entry_date = entry_date + 1",
        "DELETE FROM ledger_journalentry",
    ],
)
def test_posted_entries_and_lines_cannot_be_changed_or_deleted(ledger, poster, sql):
    entry = posted(ledger, poster)
    refused(sql, match="Cannot update or delete rows from ledger_journal")
    entry.refresh_from_db()
    assert entry.memo == "Counter receipts"
    assert sorted(entry.lines.values_list("debit", "credit", "memo")) == [
        (D("0.00"), D("25.00"), ""),
        (D("25.00"), D("0.00"), ""),
    ]


def test_the_orm_cannot_change_a_posted_entry_either(ledger, poster):
    entry = posted(ledger, poster)
    entry.memo = "Changed through the ORM"
    with pytest.raises(DatabaseError, match="Cannot update or delete"), transaction.atomic():
        entry.save()
    with pytest.raises(DatabaseError, match="Cannot update or delete"), transaction.atomic():
        JournalLine.objects.filter(entry=entry).delete()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_journalentryevent SET memo = 'rewritten history'",
        "DELETE FROM ledger_journalentryevent",
    ],
)
def test_the_journal_history_is_append_only(ledger, poster, sql):
    posted(ledger, poster)
    before = JournalEntryEvent.objects.count()
    refused(sql, match="Cannot update or delete rows from ledger_journal")
    assert before == 1
    assert JournalEntryEvent.objects.count() == before


@pytest.mark.parametrize(
    "sql",
    ["DELETE FROM ledger_glaccount", "DELETE FROM ledger_fund", "DELETE FROM ledger_feecode"],
)
def test_reference_records_are_never_deleted(ledger, sql):
    refused(sql, match="Cannot delete rows")
    assert Fund.objects.count() == 4
    assert GLAccount.objects.filter(code="321.10.00").exists()


def test_a_line_must_be_one_positive_side(ledger, poster):
    entry = posted(ledger, poster)
    with (
        pytest.raises(IntegrityError, match="jl_one_side_positive"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        raw_lines(cursor, entry.pk, [(ledger[CLEARING], D("5.00"), D("5.00"))])


# ------------------------------------------------------------------ periods and dates


def test_a_raw_insert_into_a_closed_period_is_refused(ledger, poster, supervisor):
    period_close(period=march(), user=supervisor, reason="Closed for the test")
    sql, params = raw_entry_sql(number=900, period=march(), entry_date=TODAY, user=poster)
    refused(sql, params, match=r"accounting period \d{4}-\d{2}-\d{2} is closed")
    assert counts() == (0, 0)


@pytest.mark.parametrize("entry_date", [date(TODAY.year, 2, 28), date(TODAY.year, 4, 1)])
def test_a_raw_insert_dated_outside_its_period_is_refused(ledger, poster, entry_date):
    sql, params = raw_entry_sql(number=901, period=march(), entry_date=entry_date, user=poster)
    refused(sql, params, match="is outside its period")
    assert counts() == (0, 0)


# -------------------------------------------------------------------- balance at commit


def test_an_unbalanced_raw_entry_is_refused_when_constraints_are_checked(ledger, poster):
    with (
        pytest.raises(IntegrityError, match="does not balance"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        sql, params = raw_entry_sql(number=902, period=march(), entry_date=TODAY, user=poster)
        cursor.execute(sql, params)
        (entry_id,) = cursor.fetchone()
        raw_lines(
            cursor,
            entry_id,
            [(ledger[CLEARING], D("10.00"), D(0)), (ledger[LICENSES], D(0), D("9.99"))],
        )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert counts() == (0, 0)


def test_one_statement_inserting_an_unbalanced_entry_and_its_lines_is_refused(ledger, poster):
    with (
        pytest.raises(IntegrityError, match="journal entry 905 does not balance"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "WITH entry AS ("
            "  INSERT INTO ledger_journalentry "
            "  (number, period_id, entry_date, memo, source, source_ref, posted_by_id) "
            "  VALUES (905, %s, %s, 'one statement', 'manual', '', %s) RETURNING id) "
            "INSERT INTO ledger_journalline (entry_id, line_no, account_id, debit, credit, memo) "
            "SELECT entry.id, line_no, account_id, debit, credit, '' FROM entry, "
            "(VALUES (1, %s::bigint, 10.00, 0), (2, %s::bigint, 0, 8.00)) "
            "AS lines(line_no, account_id, debit, credit)",
            [march().pk, TODAY, poster.pk, ledger[CLEARING].pk, ledger[LICENSES].pk],
        )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert counts() == (0, 0)


def test_a_raw_entry_with_one_line_is_refused(ledger, poster):
    with (
        pytest.raises(IntegrityError, match="1 lines"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        sql, params = raw_entry_sql(number=903, period=march(), entry_date=TODAY, user=poster)
        cursor.execute(sql, params)
        (entry_id,) = cursor.fetchone()
        raw_lines(cursor, entry_id, [(ledger[CLEARING], D("10.00"), D(0))])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert counts() == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_an_unbalanced_entry_inserted_by_raw_sql_cannot_be_committed():
    """No savepoint tricks: a real COMMIT runs the deferred balance trigger and fails."""
    seed_ledger(io.StringIO())
    periods_ensure_year(year=TODAY.year)
    user = make_user("raw-sql")
    clearing = GLAccount.objects.get(fund__code="001", code="101.30")
    licenses = GLAccount.objects.get(fund__code="001", code="321.10.00")

    with (
        pytest.raises(IntegrityError, match="journal entry 904 does not balance"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        sql, params = raw_entry_sql(number=904, period=march(), entry_date=TODAY, user=user)
        cursor.execute(sql, params)
        (entry_id,) = cursor.fetchone()
        raw_lines(cursor, entry_id, [(clearing, D("10.00"), D(0)), (licenses, D(0), D("1"))])
        # The statement itself succeeds: only the commit is refused.
        cursor.execute("SELECT count(*) FROM ledger_journalline WHERE entry_id = %s", [entry_id])
        assert cursor.fetchone() == (2,)
    assert counts() == (0, 0)

    # The same entry, balanced, commits: the trigger refuses imbalance, not raw SQL.
    with transaction.atomic(), connection.cursor() as cursor:
        sql, params = raw_entry_sql(number=904, period=march(), entry_date=TODAY, user=user)
        cursor.execute(sql, params)
        (entry_id,) = cursor.fetchone()
        raw_lines(cursor, entry_id, [(clearing, D("10.00"), D(0)), (licenses, D(0), D("10.00"))])
    assert counts() == (1, 2)


@pytest.mark.django_db(transaction=True)
def test_lines_cannot_be_added_to_an_entry_committed_earlier():
    seed_ledger(io.StringIO())
    periods_ensure_year(year=TODAY.year)
    user = make_user("raw-sql")
    accounts = {a.full_code: a for a in GLAccount.objects.select_related("fund")}
    entry = posted(accounts, user)  # committed: no test transaction around it

    for lines in (
        [(accounts[CLEARING], D("5.00"), D(0))],  # would unbalance it
        [(accounts[CLEARING], D("5.00"), D(0)), (accounts[LICENSES], D(0), D("5.00"))],
    ):
        with (
            pytest.raises(DatabaseError, match="is already posted; post a new entry"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            raw_lines(cursor, entry.pk, [(a, dr, cr) for a, dr, cr in lines])
    assert counts() == (1, 2)
    assert entry.lines.count() == 2
