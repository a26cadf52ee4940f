"""Ledger reads: chart of accounts, account ledgers, entries, periods, trial balance.

Report queries read from `reports_db()` (a replica when one is configured). Each page's
figures come from a fixed number of queries, whatever the number of accounts or lines.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import groupby
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import (
    Count,
    DecimalField,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    Window,
)
from django.db.models.expressions import RowRange
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property

from kent_cs.dbrouters import reports_db
from kent_cs.money import ZERO
from ledger.models import AccountingPeriod, Fund, GLAccount, JournalEntry, JournalLine

ACCOUNT_LINES_PER_PAGE = 100
MANUAL_SOURCE = "manual"  # JournalEntry.source of entries keyed in the ledger itself
MONEY_OUTPUT = DecimalField(max_digits=16, decimal_places=2)


def _money_sum(expression: Any, **kwargs: Any) -> Coalesce:
    return Coalesce(Sum(expression, **kwargs), Value(ZERO), output_field=MONEY_OUTPUT)


# --------------------------------------------------------------------- chart of accounts


@dataclass
class FundGroup:
    fund: Fund
    accounts: list[GLAccount]

    @property
    def balance(self) -> Decimal:
        return sum((a.balance for a in self.accounts), ZERO)  # type: ignore[attr-defined]


def chart_of_accounts(*, using: str | None = None) -> list[FundGroup]:
    """Every account grouped by fund, each with its current balance (debit positive)."""
    accounts = (
        GLAccount.objects.using(using or reports_db())
        .select_related("fund")
        .annotate(balance=_money_sum(F("lines__debit") - F("lines__credit")))
        .order_by("fund__code", "code")
    )
    return [
        FundGroup(fund=fund, accounts=list(rows))
        for fund, rows in groupby(accounts, key=lambda a: a.fund)
    ]


def account_get(*, pk: int, using: str | None = None) -> GLAccount:
    return get_object_or_404(
        GLAccount.objects.using(using or reports_db()).select_related("fund"), pk=pk
    )


class _CountedPaginator(Paginator):
    """A paginator told its count, known from an aggregate already run (no extra COUNT)."""

    def __init__(self, object_list: Any, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


@dataclass
class AccountLedger:
    """An account's journal lines in a date range, one page of them, with balances."""

    account: GLAccount
    date_from: date | None
    date_to: date | None
    opening: Decimal  # balance before date_from
    debits: Decimal  # in the range
    credits: Decimal
    page: Page

    @property
    def closing(self) -> Decimal:
        return self.opening + self.debits - self.credits


def account_ledger(
    *,
    account: GLAccount,
    date_from: date | None = None,
    date_to: date | None = None,
    page_number: Any = 1,
    per_page: int = ACCOUNT_LINES_PER_PAGE,
    using: str | None = None,
) -> AccountLedger:
    """Lines oldest first with a running balance that carries over from page to page.

    The running balance is a window sum evaluated over the whole range before the page is
    cut (LIMIT/OFFSET apply after window functions), plus the balance before the range.
    """
    db = using or reports_db()
    lines = JournalLine.objects.using(db).filter(account=account)
    in_range = Q()
    if date_from:
        in_range &= Q(entry__entry_date__gte=date_from)
    if date_to:
        in_range &= Q(entry__entry_date__lte=date_to)
    before = Q(entry__entry_date__lt=date_from) if date_from else Q(pk__in=[])
    figures = lines.aggregate(
        opening=_money_sum(F("debit") - F("credit"), filter=before),
        debits=_money_sum("debit", filter=in_range),
        credits=_money_sum("credit", filter=in_range),
        count=Count("pk", filter=in_range),
    )
    order = [F("entry__entry_date").asc(), F("entry__number").asc(), F("line_no").asc()]
    page_lines = (
        lines.filter(in_range)
        .select_related("entry")
        .annotate(
            running_in_range=Window(
                Sum(F("debit") - F("credit"), output_field=MONEY_OUTPUT),
                order_by=order,
                frame=RowRange(start=None, end=0),
            )
        )
        .order_by(*order)
    )
    paginator = _CountedPaginator(page_lines, per_page, count=figures["count"])
    page = paginator.get_page(page_number)
    opening = figures["opening"]
    page.object_list = list(page.object_list)
    for line in page.object_list:
        line.running_balance = opening + line.running_in_range  # type: ignore[attr-defined]
    return AccountLedger(
        account=account,
        date_from=date_from,
        date_to=date_to,
        opening=opening,
        debits=figures["debits"],
        credits=figures["credits"],
        page=page,
    )


# ------------------------------------------------------------------------------ entries


def entry_get(*, number: int) -> JournalEntry:
    return get_object_or_404(
        JournalEntry.objects.select_related(
            "period", "posted_by", "reverses", "reversed_by", "reversed_by__posted_by"
        ),
        number=number,
    )


def entry_lines(entry: JournalEntry) -> list[JournalLine]:
    return list(entry.lines.select_related("account__fund").order_by("line_no"))


def entry_reversed_by(entry: JournalEntry) -> JournalEntry | None:
    try:
        return entry.reversed_by  # type: ignore[attr-defined,no-any-return]
    except JournalEntry.DoesNotExist:
        return None


def entry_reversal_refusal(entry: JournalEntry) -> str | None:
    """Why `entry` cannot be reversed on the ledger pages, or None if it can.

    Only manual entries are reversed here. An entry posted by a subsystem (a receipt, a
    deposit) is corrected in that subsystem, which reverses its own entry; reversing it
    here would leave the receipt posted and the ledger without it.
    """
    if entry.reverses_id is not None:  # type: ignore[attr-defined]
        return f"{entry} is itself a reversal; post a new entry instead."
    reversal = entry_reversed_by(entry)
    if reversal is not None:
        return f"{entry} has already been reversed by {reversal}."
    if entry.source != MANUAL_SOURCE:
        return (
            f"{entry} was posted by {entry.source} {entry.source_ref}".rstrip()
            + f"; correct it there (a {entry.source} reversal), not in the ledger."
        )
    return None


# ------------------------------------------------------------------------------ periods


def periods_with_counts() -> QuerySet[AccountingPeriod]:
    return (
        AccountingPeriod.objects.select_related("status_changed_by")
        .annotate(entry_count=Count("entries"))
        .order_by("-start_date")
    )


def period_get(*, pk: int, using: str | None = None) -> AccountingPeriod:
    return get_object_or_404(AccountingPeriod.objects.using(using or "default"), pk=pk)


def period_default(
    *, today: date | None = None, using: str | None = None
) -> AccountingPeriod | None:
    """The period holding today, else the latest one."""
    today = today or timezone.localdate()
    periods = AccountingPeriod.objects.using(using or reports_db())
    current = periods.filter(start_date__lte=today, end_date__gte=today).first()
    return current or periods.order_by("-start_date").first()


def period_choices(*, using: str | None = None) -> QuerySet[AccountingPeriod]:
    return AccountingPeriod.objects.using(using or reports_db()).order_by("-start_date")


# ------------------------------------------------------------------------ trial balance


@dataclass
class TrialBalanceRow:
    account: GLAccount
    opening: Decimal
    debits: Decimal
    credits: Decimal

    @property
    def closing(self) -> Decimal:
        return self.opening + self.debits - self.credits


@dataclass
class TrialBalance:
    period: AccountingPeriod
    rows: list[TrialBalanceRow] = field(default_factory=list)

    @property
    def total_opening(self) -> Decimal:
        return sum((r.opening for r in self.rows), ZERO)

    @property
    def total_debits(self) -> Decimal:
        return sum((r.debits for r in self.rows), ZERO)

    @property
    def total_credits(self) -> Decimal:
        return sum((r.credits for r in self.rows), ZERO)

    @property
    def total_closing(self) -> Decimal:
        return sum((r.closing for r in self.rows), ZERO)

    @property
    def closing_debit_balances(self) -> Decimal:
        return sum((r.closing for r in self.rows if r.closing > 0), ZERO)

    @property
    def closing_credit_balances(self) -> Decimal:
        return -sum((r.closing for r in self.rows if r.closing < 0), ZERO)

    @property
    def balanced(self) -> bool:
        return self.total_debits == self.total_credits and self.total_closing == ZERO


def trial_balance(*, period: AccountingPeriod, using: str | None = None) -> TrialBalance:
    """Opening balance, period debits and credits per account: one grouped query.

    Lists every active account, and inactive ones that still carry a balance or moved.
    """
    before = Q(lines__entry__entry_date__lt=period.start_date)
    during = Q(
        lines__entry__entry_date__gte=period.start_date,
        lines__entry__entry_date__lte=period.end_date,
    )
    accounts = (
        GLAccount.objects.using(using or reports_db())
        .select_related("fund")
        .annotate(
            tb_opening=_money_sum(F("lines__debit") - F("lines__credit"), filter=before),
            tb_debits=_money_sum("lines__debit", filter=during),
            tb_credits=_money_sum("lines__credit", filter=during),
        )
        .order_by("fund__code", "code")
    )
    rows = [
        TrialBalanceRow(
            account=a,
            opening=a.tb_opening,  # type: ignore[attr-defined]
            debits=a.tb_debits,  # type: ignore[attr-defined]
            credits=a.tb_credits,  # type: ignore[attr-defined]
        )
        for a in accounts
    ]
    return TrialBalance(
        period=period,
        rows=[r for r in rows if r.account.is_active or r.opening or r.debits or r.credits],
    )


def period_lines(
    *, period: AccountingPeriod, chunk_size: int = 2000, using: str | None = None
) -> Iterator[tuple]:
    """Every journal line of the period as plain tuples, streamed from the database:
    (entry number, entry date, fund code, account code, account name, debit, credit,
    line memo or entry memo, source)."""
    rows = (
        JournalLine.objects.using(using or reports_db())
        .filter(entry__entry_date__gte=period.start_date, entry__entry_date__lte=period.end_date)
        .order_by("entry__number", "line_no")
        .values_list(
            "entry__number",
            "entry__entry_date",
            "account__fund__code",
            "account__code",
            "account__name",
            "debit",
            "credit",
            "memo",
            "entry__memo",
            "entry__source",
        )
    )
    for number, day, fund, code, name, debit, credit, memo, entry_memo, source in rows.iterator(
        chunk_size=chunk_size
    ):
        yield (number, day, f"{fund}.{code}", name, debit, credit, memo or entry_memo, source)


def period_line_count(*, period: AccountingPeriod, using: str | None = None) -> int:
    return (
        JournalLine.objects.using(using or reports_db())
        .filter(entry__entry_date__gte=period.start_date, entry__entry_date__lte=period.end_date)
        .count()
    )


# ---------------------------------------------------------------------------- dashboard


def dashboard_cards(user: Any) -> list[dict]:
    """Home page cards for report readers: the current period and this month's postings."""
    if not user.has_perm("kent_cs.view_reports"):
        return []
    today = timezone.localdate()
    cards: list[dict] = []
    period = period_default(today=today)
    if period is not None:
        cards.append(
            {
                "title": "Accounting period",
                "value": str(period),
                "note": "Open for posting" if period.is_open else "Closed",
                "url": f"{reverse('ledger:trial-balance')}?period={period.pk}",
                "link_text": "Trial balance",
            }
        )
    month_start = today.replace(day=1)
    posted = (
        JournalLine.objects.using(reports_db())
        .filter(entry__entry_date__gte=month_start, entry__entry_date__lte=today)
        .aggregate(entries=Count("entry", distinct=True), debits=_money_sum("debit"))
    )
    cards.append(
        {
            "title": "Entries posted this month",
            "value": f"{posted['entries']:,}",
            "note": f"${posted['debits']:,.2f} in debits since {month_start:%B} 1",
            "url": reverse("ledger:chart") if user.has_perm("ledger.view_glaccount") else "",
            "link_text": "Chart of accounts",
        }
    )
    return cards
