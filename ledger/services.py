"""Ledger writes: posting and reversing journal entries, opening and closing periods."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from kent_cs.audit import audit_reason
from kent_cs.db import allocate_ids, insert_many, prepared_cursor
from kent_cs.money import ZERO, to_money
from ledger.models import AccountingPeriod, GLAccount, JournalEntry, JournalLine

JOURNAL_SERIES = "journal-entry"
LINE_FIELDS = ("entry", "line_no", "account", "debit", "credit", "memo")
ENTRY_COLUMNS = (
    "id, number, period_id, entry_date, memo, source, source_ref, reverses_id, posted_by_id"
)


class LedgerError(ValidationError):
    """A posting that breaks a ledger rule; the message is meant for the user."""


@dataclass(frozen=True)
class LineSpec:
    account: GLAccount
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    memo: str = ""


PERIOD_COLUMNS = [field.attname for field in AccountingPeriod._meta.concrete_fields]
#: The period holding a date (parameters: the date twice); one row at most.
PERIOD_FOR_DATE_SQL = (
    f"SELECT {', '.join(PERIOD_COLUMNS)} FROM ledger_accountingperiod "
    "WHERE start_date <= %s AND end_date >= %s ORDER BY start_date LIMIT 1"
)


def period_for_date(day: date) -> AccountingPeriod:
    with prepared_cursor() as cursor:  # every posting asks: a plain query
        cursor.execute(PERIOD_FOR_DATE_SQL, [day, day])
        return period_from_row(day, cursor.fetchone())


def period_from_row(day: date, row: Sequence | None) -> AccountingPeriod:
    """The period PERIOD_FOR_DATE_SQL found for `day` (its PERIOD_COLUMNS values), or the
    ledger's refusal when there is none (no row, or a row of NULLs from an outer join)."""
    if row is None or row[0] is None:
        raise LedgerError(f"There is no accounting period for {day:%B %d, %Y}.")
    return AccountingPeriod.from_db(connection.alias, PERIOD_COLUMNS, row)


def _clean_lines(lines: Sequence[LineSpec]) -> list[LineSpec]:
    cleaned = []
    for index, line in enumerate(lines, start=1):
        debit, credit = to_money(line.debit), to_money(line.credit)
        if debit < 0 or credit < 0:
            raise LedgerError(f"Line {index}: amounts must not be negative.")
        if (debit > 0) == (credit > 0):
            raise LedgerError(f"Line {index}: enter either a debit or a credit.")
        if not line.account.is_active:
            raise LedgerError(f"Line {index}: account {line.account.full_code} is inactive.")
        cleaned.append(LineSpec(line.account, debit, credit, line.memo[:200]))
    if len(cleaned) < 2:
        raise LedgerError("A journal entry needs at least two lines.")
    debits = sum((line.debit for line in cleaned), ZERO)
    credits = sum((line.credit for line in cleaned), ZERO)
    if debits != credits:
        raise LedgerError(f"Debits ({debits}) and credits ({credits}) do not balance.")
    return cleaned


def net_lines(lines: Sequence[LineSpec]) -> list[LineSpec]:
    """Combine lines per account into one net debit or credit, dropping zero nets.

    Posting services build entries from many small parts (a receipt's lines, a fee code's
    distribution); netting keeps the ledger readable and the entry short.
    """
    totals: dict[int, tuple[GLAccount, Decimal]] = {}
    for line in lines:
        account, amount = totals.get(line.account.pk, (line.account, ZERO))
        totals[line.account.pk] = (account, amount + to_money(line.debit) - to_money(line.credit))
    result = []
    for account, amount in totals.values():
        if amount > 0:
            result.append(LineSpec(account, debit=amount))
        elif amount < 0:
            result.append(LineSpec(account, credit=-amount))
    return result


@dataclass
class StagedEntry:
    """A journal entry whose lines are written and whose number is not taken yet.

    `post()` inserts the entry itself, taking the gapless number in that INSERT, so the
    journal series is locked only from there to the commit. Must be posted in the same
    transaction: lines without their entry fail the foreign-key check at commit.
    """

    id: int
    period: AccountingPeriod
    entry_date: date
    user: Any
    source: str
    reverses: JournalEntry | None
    line_batch: tuple | None = None

    def post(self, *, memo: str, source_ref: str = "") -> JournalEntry:
        if not memo.strip():
            raise LedgerError("Enter a memo saying what the entry is for.")
        entry = JournalEntry(
            id=self.id,
            period=self.period,
            entry_date=self.entry_date,
            memo=memo.strip()[:300],
            source=self.source,
            source_ref=source_ref,
            reverses=self.reverses,
            posted_by=self.user,
        )
        # Written out: every receipt posts one, and the number is taken in this INSERT.
        with prepared_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO ledger_journalentry ({ENTRY_COLUMNS}) "
                "VALUES (%s, kent_next_number(%s), %s, %s, %s, %s, %s, %s, %s) "
                "RETURNING number, posted_at",
                [
                    self.id,
                    JOURNAL_SERIES,
                    self.period.pk,
                    self.entry_date,
                    entry.memo,
                    self.source,
                    source_ref,
                    entry.reverses_id,
                    entry.posted_by_id,
                ],
            )
            entry.number, entry.posted_at = cursor.fetchone()
        entry._state.adding = False
        entry._state.db = connection.alias
        return entry

    def after_row_query(
        self, *, number_column: str, memo_prefix: str, memo_suffix: str = "", ref_prefix: str = ""
    ) -> tuple[str, list]:
        """This entry's INSERT as a WITH query that follows the caller's numbered row,
        itself the WITH query named `r` (an INSERT ... RETURNING `number_column`); the
        statement must read both (e.g. `... SELECT r.* FROM r, j`, naming this one `j`) so
        that the entry takes its number right after the row, and is named after it (memo
        `memo_prefix + number + memo_suffix`, source_ref `ref_prefix + number`). Both
        series stay locked from that statement to the commit only. Returns (SQL,
        parameters)."""
        if not memo_prefix.strip():
            raise LedgerError("Enter a memo saying what the entry is for.")
        number = f"r.{number_column}"
        return (
            f"INSERT INTO ledger_journalentry ({ENTRY_COLUMNS}) "
            f"SELECT %s, kent_next_number(%s), %s, %s, left(%s || {number} || %s, 300), "
            f"%s, %s || {number}, %s, %s FROM r RETURNING id",
            [
                self.id,
                JOURNAL_SERIES,
                self.period.pk,
                self.entry_date,
                memo_prefix,
                memo_suffix,
                self.source,
                ref_prefix,
                self.reverses.pk if self.reverses else None,
                self.user.pk,
            ],
        )


def journal_entry_stage(
    *,
    entry_date: date,
    lines: Sequence[LineSpec],
    user,
    source: str = "manual",
    reverses: JournalEntry | None = None,
    entry_id: int | None = None,
    defer_lines: bool = False,
    period: AccountingPeriod | None = None,
) -> StagedEntry:
    """Check and write an entry's lines under a reserved id; `.post()` writes the entry.

    For callers that write more rows in the same transaction (a receipt): they stage the
    entry first and post it last, just before their commit. `entry_id` may come from the
    caller's own `allocate_ids` call (one round trip for several ids). With `defer_lines`
    the lines are not written: the caller writes `line_batch` with its own rows
    (`kent_cs.db.insert_many`); an entry without its lines fails the balance check at
    commit, so nothing unbalanced can be left behind. `period` is the period holding
    `entry_date` when the caller has read it already (`PERIOD_FOR_DATE_SQL`).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("journal_entry_stage() must run inside transaction.atomic().")
    cleaned = _clean_lines(lines)
    if period is None:
        period = period_for_date(entry_date)
    if not period.is_open:
        raise LedgerError(f"The {period} accounting period is closed.")
    if entry_id is None:
        (entry_id,) = allocate_ids(JournalEntry)
    line_batch = (
        JournalLine,
        LINE_FIELDS,
        [
            (entry_id, number, line.account.pk, line.debit, line.credit, line.memo)
            for number, line in enumerate(cleaned, start=1)
        ],
    )
    if not defer_lines:
        insert_many([line_batch])
    return StagedEntry(
        id=entry_id,
        period=period,
        entry_date=entry_date,
        user=user,
        source=source,
        reverses=reverses,
        line_batch=line_batch if defer_lines else None,
    )


def journal_entry_post(
    *,
    entry_date: date,
    memo: str,
    lines: Sequence[LineSpec],
    user,
    source: str = "manual",
    source_ref: str = "",
    reverses: JournalEntry | None = None,
) -> JournalEntry:
    """Post a balanced entry into the open period holding `entry_date`.

    Runs in the caller's transaction when there is one (a receipt posts its entry together
    with the receipt), otherwise in its own.
    """
    _clean_lines(lines)
    if not memo.strip():
        raise LedgerError("Enter a memo saying what the entry is for.")
    with transaction.atomic():
        staged = journal_entry_stage(
            entry_date=entry_date, lines=lines, user=user, source=source, reverses=reverses
        )
        return staged.post(memo=memo, source_ref=source_ref)


def journal_entry_reverse(
    *, entry: JournalEntry, user, reason: str, entry_date: date | None = None
) -> JournalEntry:
    """Post the mirror image of `entry`: every debit becomes a credit and vice versa."""
    if not reason.strip():
        raise LedgerError("Enter the reason for the reversal.")
    with transaction.atomic(), audit_reason(reason.strip()):
        # Lock the original so two reversals of it cannot both pass the check below; the
        # one-to-one constraint on `reverses` backs this up.
        original = JournalEntry.objects.select_for_update().get(pk=entry.pk)
        if original.reverses_id is not None:
            raise LedgerError(f"{original} is itself a reversal; post a new entry instead.")
        if JournalEntry.objects.filter(reverses=original).exists():
            raise LedgerError(f"{original} has already been reversed.")
        lines = [
            LineSpec(line.account, debit=line.credit, credit=line.debit, memo=line.memo)
            for line in original.lines.select_related("account__fund")
        ]
        return journal_entry_post(
            entry_date=entry_date or timezone.localdate(),
            memo=f"Reversal of JE {original.number}: {reason.strip()}",
            lines=lines,
            user=user,
            source="reversal",
            source_ref=f"JE {original.number}",
            reverses=original,
        )


def period_close(*, period: AccountingPeriod, user, reason: str = "") -> AccountingPeriod:
    with transaction.atomic(), audit_reason(reason or "Period closed"):
        # FOR UPDATE waits for postings in flight (they hold FOR SHARE on the period).
        locked = AccountingPeriod.objects.select_for_update().get(pk=period.pk)
        if not locked.is_open:
            raise LedgerError(f"{locked} is already closed.")
        locked.status = AccountingPeriod.Status.CLOSED
        locked.status_changed_at = timezone.now()
        locked.status_changed_by = user
        locked.save(update_fields=["status", "status_changed_at", "status_changed_by"])
    return locked


def period_reopen(*, period: AccountingPeriod, user, reason: str) -> AccountingPeriod:
    if not reason.strip():
        raise LedgerError("Enter the reason for reopening the period.")
    with transaction.atomic(), audit_reason(reason.strip()):
        locked = AccountingPeriod.objects.select_for_update().get(pk=period.pk)
        if locked.is_open:
            raise LedgerError(f"{locked} is already open.")
        locked.status = AccountingPeriod.Status.OPEN
        locked.status_changed_at = timezone.now()
        locked.status_changed_by = user
        locked.save(update_fields=["status", "status_changed_at", "status_changed_by"])
    return locked


def periods_ensure_year(*, year: int) -> list[AccountingPeriod]:
    """Create the twelve monthly periods of `year` that do not exist yet."""
    import calendar

    periods = []
    for month in range(1, 13):
        last = calendar.monthrange(year, month)[1]
        period, _ = AccountingPeriod.objects.get_or_create(
            year=year,
            month=month,
            defaults={"start_date": date(year, month, 1), "end_date": date(year, month, last)},
        )
        periods.append(period)
    return periods
