"""Closing the day: blind close with over/short, balancing sessions, the daily balancing
page, and closing and reopening a business day.

Services (writes) are keyword-only functions named `<entity>_<action>`; the selectors
below them read, each page in a fixed number of queries whatever the number of receipts.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from cashiering.denominations import VALUES, count_total
from cashiering.models import (
    BusinessDay,
    CashierSession,
    CounterPolicy,
    Receipt,
    ReceiptLine,
    SessionCount,
    SessionCountLine,
    Tender,
    TenderType,
)
from cashiering.services import CashieringError
from kent_cs.audit import audit_reason
from kent_cs.money import ZERO, MoneyError, parse_money, to_money
from ledger.models import GLAccount, JournalEntry
from ledger.services import LedgerError, LineSpec, journal_entry_post, net_lines

Kind = SessionCountLine.Kind
KINDS = [Kind.CASH, Kind.CHECKS, Kind.CARDS]
# Tender kinds counted under each kind of the drawer count. ACH is not in the drawer: it
# arrives as an electronic settlement and is not part of over/short.
TENDER_KINDS = {
    Kind.CASH: (TenderType.Kind.CASH,),
    Kind.CHECKS: (TenderType.Kind.CHECK, TenderType.Kind.MONEY_ORDER),
    Kind.CARDS: (TenderType.Kind.CARD,),
}
MAX_CHECKS = 200
MAX_CHECK_NUMBER = 30
MAX_AMOUNT = Decimal("999999999.99")
SETTLED = (SessionCount.Status.BALANCED, SessionCount.Status.POSTED, SessionCount.Status.APPROVED)


@dataclass(frozen=True)
class CheckInput:
    """One check or money order listed at close, as typed (strings from the form)."""

    number: str
    amount: Decimal | str


# --- blind close ----------------------------------------------------------------------


def _clean_cash_count(cash_count: dict[str, Any]) -> tuple[Decimal, dict[str, int]]:
    """Whole numbers of pieces >= 0 by denomination, with the error at the denomination."""
    errors: dict[str, str] = {}
    pieces: dict[str, int] = {}
    for key, raw in cash_count.items():
        if key not in VALUES:
            raise CashieringError(f"Unknown denomination {key!r}.")
        if raw is None or raw == "":
            continue
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            errors[f"cash-{key}"] = "Enter a whole number of pieces (0 or more)."
            continue
        text = str(raw).strip()
        if not text.isdigit():  # refuses "-1", "1.5", "1e3"
            errors[f"cash-{key}"] = "Enter a whole number of pieces (0 or more)."
            continue
        pieces[key] = int(text)
    if errors:
        raise CashieringError(errors)
    try:
        return count_total(pieces)
    except Exception as exc:  # count_total's range check (a ValidationError)
        raise CashieringError(getattr(exc, "messages", [str(exc)])) from None


def _money_input(value: Decimal | str) -> Decimal:
    if isinstance(value, Decimal):
        return to_money(value)
    return parse_money(str(value))


def _clean_checks(checks: list[CheckInput]) -> list[dict[str, str]]:
    """Listed checks as stored ([{number, amount}]); a row with only one of the two is
    refused at that row, an empty row is skipped."""
    errors: dict[str, str] = {}
    cleaned: list[dict[str, str]] = []
    for index, row in enumerate(checks, start=1):
        number = (row.number or "").strip()
        raw_amount = row.amount if isinstance(row.amount, Decimal) else (row.amount or "").strip()
        if not number and raw_amount == "":
            continue
        field = f"check-{index}"
        if not number:
            errors[field] = f"Row {index}: enter the check or money order number."
            continue
        if len(number) > MAX_CHECK_NUMBER:
            errors[field] = f"Row {index}: a number has at most {MAX_CHECK_NUMBER} characters."
            continue
        if raw_amount == "":
            errors[field] = f"Row {index}: enter the amount of check {number}."
            continue
        try:
            amount = _money_input(raw_amount)
        except MoneyError:
            errors[field] = f"Row {index}: {raw_amount!s} is not an amount."
            continue
        if amount <= 0 or amount > MAX_AMOUNT:
            errors[field] = f"Row {index}: the amount must be more than zero."
            continue
        cleaned.append({"number": number, "amount": f"{amount:.2f}"})
    if errors:
        raise CashieringError(errors)
    if len(cleaned) > MAX_CHECKS:
        raise CashieringError({"checks": f"List at most {MAX_CHECKS} checks."})
    return cleaned


def _clean_card_settlement(value: Decimal | str | None) -> Decimal:
    if value is None or (isinstance(value, str) and not value.strip()):
        return ZERO
    try:
        amount = _money_input(value)
    except MoneyError:
        raise CashieringError(
            {"card_settlement": "Enter the settlement total as an amount, e.g. 412.50."}
        ) from None
    if amount < 0:
        raise CashieringError({"card_settlement": "The settlement total cannot be negative."})
    if amount > MAX_AMOUNT:
        raise CashieringError({"card_settlement": "Enter an amount of at most 999,999,999.99."})
    return amount


@dataclass(frozen=True)
class Expected:
    cash: Decimal
    checks: Decimal
    cards: Decimal
    ach: Decimal

    def of(self, kind: str) -> Decimal:
        amounts: dict[str, Decimal] = {
            Kind.CASH: self.cash,
            Kind.CHECKS: self.checks,
            Kind.CARDS: self.cards,
        }
        return amounts[kind]


def session_expected(session: CashierSession) -> Expected:
    """What should be in the drawer (and the card terminal) at close, in two queries.

    Cash = opening float + cash received - change given - cash refunds (reversal receipts
    carry negative cash tenders). Voided receipts are left out; reversals are in.
    """
    receipts = Receipt.objects.filter(
        session=session, status=Receipt.Status.POSTED, is_training=session.is_training
    )
    by_kind = dict(
        Tender.objects.filter(receipt__in=receipts)
        .values_list("tender_type__kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    change = receipts.aggregate(change=Sum("change_given"))["change"] or ZERO

    def total(*kinds: str) -> Decimal:
        return sum((by_kind.get(k) or ZERO for k in kinds), ZERO)

    return Expected(
        cash=session.opening_float + total(*TENDER_KINDS[Kind.CASH]) - change,
        checks=total(*TENDER_KINDS[Kind.CHECKS]),
        cards=total(*TENDER_KINDS[Kind.CARDS]),
        ach=total(TenderType.Kind.ACH),
    )


def _clearing_accounts() -> dict[str, GLAccount]:
    """Where each kind's over/short is booked against: cash and checks on the cash tender
    type's clearing account (undeposited receipts), cards on the card tender types'."""
    types = TenderType.objects.select_related("clearing_account__fund").order_by(
        "-is_active", "sort_order", "code"
    )
    first: dict[str, GLAccount] = {}
    for tender_type in types:
        first.setdefault(tender_type.kind, tender_type.clearing_account)
    cash = first.get(TenderType.Kind.CASH)
    if cash is None:
        raise CashieringError("No cash tender type is set up; ask an administrator.")
    return {Kind.CASH: cash, Kind.CHECKS: cash, Kind.CARDS: first.get(TenderType.Kind.CARD, cash)}


def _over_short_entry(
    *, count: SessionCount, lines: list[SessionCountLine], user
) -> JournalEntry | None:
    """Shortage: Dr over/short, Cr the kind's clearing account; overage the other way."""
    policy = CounterPolicy.current()
    account = policy.over_short_account
    if account is None:
        raise CashieringError(
            "The counter policy has no over/short account; ask an administrator to set it."
        )
    clearing = _clearing_accounts()
    specs: list[LineSpec] = []
    for line in lines:
        if line.over_short < 0:
            short = -line.over_short
            specs.append(LineSpec(account, debit=short, memo=f"{line.get_kind_display()} short"))
            specs.append(LineSpec(clearing[line.kind], credit=short))
        elif line.over_short > 0:
            specs.append(LineSpec(clearing[line.kind], debit=line.over_short))
            specs.append(
                LineSpec(account, credit=line.over_short, memo=f"{line.get_kind_display()} over")
            )
    specs = net_lines(specs)
    if len(specs) < 2:
        return None
    session = count.session
    try:
        return journal_entry_post(
            entry_date=session.business_date,
            memo=(
                f"Over/short drawer {session.drawer.code} "
                f"{session.cashier.get_username()} {session.business_date:%Y-%m-%d}: "
                f"{count.over_short:+.2f}"
            ),
            lines=specs,
            user=user,
            source="over_short",
            source_ref=str(session.pk),
        )
    except LedgerError as exc:
        raise CashieringError(exc.messages) from None


def needs_approval(over_short: Decimal, lines: list[SessionCountLine]) -> bool:
    """Above the policy's threshold, in total or on any one kind of tender: a cash
    shortage hidden by a card overage of the same size still needs a supervisor."""
    threshold = CounterPolicy.current().over_short_threshold
    return abs(over_short) > threshold or any(abs(line.over_short) > threshold for line in lines)


def session_blind_close(
    *,
    session: CashierSession,
    cash_count: dict[str, Any],
    checks: list[CheckInput],
    card_settlement: Decimal | str | None,
    note: str = "",
    user,
) -> SessionCount:
    """Close the session (if still open) and record the cashier's blind count.

    Over/short within the policy's threshold posts at once; above it the count waits for
    a supervisor. Training sessions: the count is recorded, nothing is posted.
    """
    cash_total, pieces = _clean_cash_count(cash_count)
    listed = _clean_checks(list(checks))
    cards = _clean_card_settlement(card_settlement)
    note = (note or "").strip()
    if len(note) > 300:
        raise CashieringError({"note": "Keep the note to 300 characters."})
    counted = {
        Kind.CASH: cash_total,
        Kind.CHECKS: sum((Decimal(c["amount"]) for c in listed), ZERO),
        Kind.CARDS: cards,
    }
    with transaction.atomic():
        # FOR UPDATE: a receipt being posted (FOR NO KEY UPDATE on the session) finishes
        # before the count, and two submits of the count do not both pass the checks.
        locked = (
            CashierSession.objects.select_for_update(of=("self",))
            .select_related("drawer", "cashier")
            .get(pk=session.pk)
        )
        if locked.cashier_id != user.pk and not user.has_perm("cashiering.view_all_sessions"):
            raise CashieringError("Only the session's cashier can count this drawer.")
        if SessionCount.objects.filter(session=locked).exists():
            raise CashieringError("This drawer has already been counted.")
        if locked.status == CashierSession.Status.OPEN:
            locked.status = CashierSession.Status.CLOSED
            locked.closed_at = timezone.now()
            locked.save(update_fields=["status", "closed_at"])
        elif locked.status != CashierSession.Status.CLOSED:
            raise CashieringError("This session is already balanced.")
        expected = session_expected(locked)
        lines = [
            SessionCountLine(
                kind=kind,
                expected=expected.of(kind),
                counted=counted[kind],
                over_short=counted[kind] - expected.of(kind),
            )
            for kind in KINDS
        ]
        over_short = sum((line.over_short for line in lines), ZERO)
        if over_short == 0 and all(line.over_short == 0 for line in lines):
            status = SessionCount.Status.BALANCED
        elif locked.is_training or not needs_approval(over_short, lines):
            status = SessionCount.Status.POSTED
        else:
            status = SessionCount.Status.PENDING
        count = SessionCount.objects.create(
            session=locked,
            counted_by=user,
            cash_count=pieces,
            checks=listed,
            card_settlement=cards,
            over_short=over_short,
            status=status,
            cashier_note=note,
        )
        for line in lines:
            line.count = count
        SessionCountLine.objects.bulk_create(lines)
        if status == SessionCount.Status.POSTED and not locked.is_training:
            count.over_short_entry = _over_short_entry(count=count, lines=lines, user=user)
            if count.over_short_entry is not None:
                count.save(update_fields=["over_short_entry"])
    return count


def over_short_approve(*, count: SessionCount, explanation: str, user) -> SessionCount:
    """A supervisor approves an over/short above the threshold; its entry posts now."""
    explanation = (explanation or "").strip()
    if not user.has_perm("cashiering.approve_over_short"):
        raise CashieringError("Only a supervisor can approve an over/short.")
    if not explanation:
        raise CashieringError({"explanation": "Explain the over/short before approving it."})
    if len(explanation) > 300:
        raise CashieringError({"explanation": "Keep the explanation to 300 characters."})
    with transaction.atomic(), audit_reason(explanation):
        locked = (
            SessionCount.objects.select_for_update(of=("self",))
            .select_related("session__drawer", "session__cashier")
            .get(pk=count.pk)
        )
        if user.pk in (locked.session.cashier_id, locked.counted_by_id):
            raise CashieringError(
                "You cannot approve the over/short of your own drawer; another supervisor must."
            )
        if locked.status != SessionCount.Status.PENDING:
            raise CashieringError("This over/short is not waiting for approval.")
        lines = list(locked.lines.all())
        locked.over_short_entry = _over_short_entry(count=locked, lines=lines, user=user)
        locked.status = SessionCount.Status.APPROVED
        locked.decided_by = user
        locked.decided_at = timezone.now()
        locked.explanation = explanation
        locked.save(
            update_fields=["over_short_entry", "status", "decided_by", "decided_at", "explanation"]
        )
    return locked


def session_balance(*, session: CashierSession, user) -> CashierSession:
    """The technician marks a counted session balanced once its over/short is settled."""
    if not user.has_perm("cashiering.balance_day"):
        raise CashieringError("You may not balance drawers.")
    with transaction.atomic():
        locked = (
            CashierSession.objects.select_for_update(of=("self",))
            .select_related("drawer")
            .get(pk=session.pk)
        )
        if locked.status == CashierSession.Status.OPEN:
            raise CashieringError(f"Drawer {locked.drawer.code} is still open; count it first.")
        if locked.status != CashierSession.Status.CLOSED:
            raise CashieringError(f"Drawer {locked.drawer.code} is already balanced.")
        count = SessionCount.objects.filter(session=locked).first()
        if count is None:
            raise CashieringError(f"Drawer {locked.drawer.code} has not been counted yet.")
        if count.status == SessionCount.Status.PENDING:
            raise CashieringError(
                f"The over/short of drawer {locked.drawer.code} is waiting for a supervisor's "
                "approval."
            )
        locked.status = CashierSession.Status.BALANCED
        locked.save(update_fields=["status"])
    return locked


# --- business day ---------------------------------------------------------------------


def _business_day_row(business_date: date, *, lock: str) -> BusinessDay:
    """The date's row, created (open) if missing, then locked.

    Creating it first gives a concurrent close and a concurrent session opening a row
    to meet on: with no row, neither would wait for the other.
    """
    BusinessDay.objects.bulk_create(
        [BusinessDay(business_date=business_date)], ignore_conflicts=True
    )
    clause = "FOR UPDATE" if lock == "update" else "FOR SHARE"
    return BusinessDay.objects.raw(
        f"SELECT * FROM cashiering_businessday WHERE business_date = %s {clause}",
        [business_date],
    )[0]


def business_day_ensure_open(business_date: date) -> None:
    """Inside the caller's transaction: refuse a closed business date, and hold the day
    open (FOR SHARE) until the caller commits, so a close in flight waits for it."""
    day = _business_day_row(business_date, lock="share")
    if day.is_closed:
        raise CashieringError(
            f"Business day {business_date:%Y-%m-%d} is closed; nothing can be taken into it. "
            "A supervisor can reopen it."
        )


def business_day_close(*, business_date: date, user) -> BusinessDay:
    if not user.has_perm("cashiering.close_business_day"):
        raise CashieringError("Only a supervisor can close a business day.")
    with transaction.atomic(), audit_reason("Business day closed"):
        # FOR UPDATE waits for session openings in flight (they hold FOR SHARE).
        day = _business_day_row(business_date, lock="update")
        if day.is_closed:
            raise CashieringError(f"Business day {business_date:%Y-%m-%d} is already closed.")
        sessions = list(
            CashierSession.objects.filter(business_date=business_date)
            .select_related("drawer", "cashier", "count")
            .order_by("drawer__code", "opened_at")
        )
        problems = []
        still_open = [s for s in sessions if s.status == CashierSession.Status.OPEN]
        if still_open:
            problems.append("still open: " + ", ".join(_label(s) for s in still_open))
        pending = [
            s
            for s in sessions
            if getattr(s, "count", None) is not None
            and s.count.status == SessionCount.Status.PENDING
        ]
        if pending:
            problems.append(
                "over/short waiting for approval: " + ", ".join(_label(s) for s in pending)
            )
        unbalanced = [
            s
            for s in sessions
            if s.status == CashierSession.Status.CLOSED and not s.is_training and s not in pending
        ]
        if unbalanced:
            problems.append("not yet balanced: " + ", ".join(_label(s) for s in unbalanced))
        if problems:
            raise CashieringError(
                f"Business day {business_date:%Y-%m-%d} cannot be closed. Drawers "
                + "; ".join(problems)
                + "."
            )
        day.status = BusinessDay.Status.CLOSED
        day.closed_by = user
        day.closed_at = timezone.now()
        day.save(update_fields=["status", "closed_by", "closed_at"])
    return day


def business_day_reopen(*, business_date: date, reason: str, user) -> BusinessDay:
    reason = (reason or "").strip()
    if not user.has_perm("cashiering.close_business_day"):
        raise CashieringError("Only a supervisor can reopen a business day.")
    if not reason:
        raise CashieringError({"reason": "Enter the reason for reopening the day."})
    if len(reason) > 300:
        raise CashieringError({"reason": "Keep the reason to 300 characters."})
    with transaction.atomic(), audit_reason(reason):
        day = BusinessDay.objects.select_for_update().filter(business_date=business_date).first()
        if day is None or not day.is_closed:
            raise CashieringError(f"Business day {business_date:%Y-%m-%d} is not closed.")
        day.status = BusinessDay.Status.OPEN
        day.reopened_by = user
        day.reopened_at = timezone.now()
        day.reopen_reason = reason
        day.save(update_fields=["status", "reopened_by", "reopened_at", "reopen_reason"])
    return day


def _label(session: CashierSession) -> str:
    return f"{session.drawer.code} ({session.cashier.get_username()})"


# --- selectors ------------------------------------------------------------------------


def count_get_for_user(*, user, session_pk: int) -> SessionCount:
    """The count of session `session_pk`: its cashier's own, or anyone's for those who see
    every session; 404 otherwise."""
    counts = SessionCount.objects.select_related(
        "session__drawer",
        "session__cashier",
        "counted_by",
        "decided_by",
        "over_short_entry",
    )
    if not user.has_perm("cashiering.view_all_sessions"):
        counts = counts.filter(session__cashier=user)
    count = counts.filter(session_id=session_pk).first()
    if count is None:
        raise Http404("No count for this session.")
    return count


def count_lines(count: SessionCount) -> list[SessionCountLine]:
    order: dict[str, int] = {kind: index for index, kind in enumerate(KINDS)}
    return sorted(count.lines.all(), key=lambda line: order[line.kind])


@dataclass(frozen=True)
class DepositAmounts:
    cash: Decimal
    checks: Decimal

    @property
    def total(self) -> Decimal:
        return self.cash + self.checks


def count_deposit_amounts(count: SessionCount) -> DepositAmounts:
    """What the session gives the bank deposit: counted cash less the opening float (it
    stays in the drawer as the change fund), plus the counted checks."""
    counted_cash, _ = count_total(count.cash_count)
    checks = sum((Decimal(c["amount"]) for c in count.checks), ZERO)
    return DepositAmounts(cash=counted_cash - count.session.opening_float, checks=checks)


@dataclass
class SessionRow:
    session: CashierSession
    count: SessionCount | None
    receipt_count: int
    void_count: int
    total: Decimal
    expected: dict[str, Decimal]
    counted: dict[str, Decimal | None]
    over_short: dict[str, Decimal | None]
    ach: Decimal

    @property
    def can_balance(self) -> bool:
        return (
            self.session.status == CashierSession.Status.CLOSED
            and self.count is not None
            and self.count.status in SETTLED
        )

    @property
    def cells(self) -> list[tuple[str, Decimal, Decimal | None, Decimal | None]]:
        """(kind, expected, counted, over/short) in the page's column order."""
        return [
            (kind, self.expected[kind], self.counted[kind], self.over_short[kind]) for kind in KINDS
        ]

    @property
    def total_over_short(self) -> Decimal | None:
        return None if self.count is None else self.count.over_short


@dataclass
class SeriesCheck:
    series: str
    first: int
    last: int
    receipts: int
    missing: list[int]
    missing_count: int
    other_dates: int

    @property
    def is_training(self) -> bool:
        return self.series != "R"


@dataclass
class DayBalancing:
    business_date: date
    day: BusinessDay | None
    sessions: list[SessionRow]
    totals: dict[str, dict[str, Decimal]]
    series: list[SeriesCheck]
    by_fee_code: list[Any]
    by_subsystem: list[Any]
    clearing: list[dict]
    left_open: list[CashierSession]
    undeposited: list[CashierSession]
    blockers: list[str] = field(default_factory=list)

    @property
    def is_closed(self) -> bool:
        return self.day is not None and self.day.is_closed

    @property
    def live_gaps(self) -> list[SeriesCheck]:
        return [s for s in self.series if not s.is_training and s.missing_count]


GAP_SQL = """
WITH bounds AS (
    SELECT series, min(number) AS lo, max(number) AS hi, count(*) AS n
    FROM cashiering_receipt WHERE business_date = %(day)s GROUP BY series
)
SELECT b.series, b.lo, b.hi, b.n,
    (b.hi - b.lo + 1) - (
        SELECT count(*) FROM cashiering_receipt r
        WHERE r.series = b.series AND r.number BETWEEN b.lo AND b.hi
    ) AS missing_count,
    (SELECT count(*) FROM cashiering_receipt r
     WHERE r.series = b.series AND r.number BETWEEN b.lo AND b.hi
       AND r.business_date <> %(day)s) AS other_dates,
    ARRAY(
        SELECT g FROM generate_series(b.lo, b.hi) AS g
        WHERE NOT EXISTS (
            SELECT 1 FROM cashiering_receipt r WHERE r.series = b.series AND r.number = g
        )
        ORDER BY g LIMIT %(limit)s
    ) AS missing
FROM bounds b ORDER BY b.series
"""
GAP_LIST_LIMIT = 50


def receipt_series_check(business_date: date) -> list[SeriesCheck]:
    """Per series used that day: first and last number, and every number between them
    that belongs to no receipt at all (numbers are gapless across days: none should be
    missing). Numbers in that range taken on other dates are counted, not missing."""
    with connection.cursor() as cursor:
        cursor.execute(GAP_SQL, {"day": business_date, "limit": GAP_LIST_LIMIT})
        return [
            SeriesCheck(
                series=series,
                first=lo,
                last=hi,
                receipts=n,
                missing_count=missing_count,
                other_dates=other_dates,
                missing=list(missing),
            )
            for series, lo, hi, n, missing_count, other_dates, missing in cursor.fetchall()
        ]


def _undeposited_cutoff(now: datetime, hours: int) -> tuple[datetime, date]:
    return now - timedelta(hours=hours), timezone.localdate(now) - timedelta(days=1)


def day_balancing(business_date: date) -> DayBalancing:
    """Everything on the daily balancing page, in a fixed number of queries."""
    posted = Q(receipts__status=Receipt.Status.POSTED)
    sessions = list(
        CashierSession.objects.filter(business_date=business_date)
        .select_related("drawer", "cashier", "count", "count__decided_by", "count__counted_by")
        .annotate(
            receipt_count=Count("receipts", filter=posted),
            void_count=Count("receipts", filter=Q(receipts__status=Receipt.Status.VOIDED)),
            receipt_total=Sum("receipts__total", filter=posted),
            change=Sum("receipts__change_given", filter=posted),
        )
        .order_by("drawer__code", "opened_at")
    )
    tender_rows = (
        Tender.objects.filter(
            receipt__business_date=business_date, receipt__status=Receipt.Status.POSTED
        )
        .values_list("receipt__session_id", "tender_type__kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    tendered: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for session_id, kind, total in tender_rows:
        tendered[session_id][kind] = total
    lines_by_count: dict[int, dict[str, SessionCountLine]] = defaultdict(dict)
    for line in SessionCountLine.objects.filter(count__session__business_date=business_date):
        lines_by_count[line.count_id][line.kind] = line

    rows = []
    totals: dict[str, dict[str, Decimal]] = {
        kind: {"expected": ZERO, "counted": ZERO, "over_short": ZERO} for kind in KINDS
    }
    for session in sessions:
        count = getattr(session, "count", None)
        amounts = tendered.get(session.pk, {})

        def total(kinds: tuple[str, ...], amounts: dict[str, Decimal] = amounts) -> Decimal:
            return sum((amounts.get(k) or ZERO for k in kinds), ZERO)

        if count is not None and lines_by_count.get(count.pk):
            lines = lines_by_count[count.pk]
            expected: dict[str, Decimal] = {kind: lines[kind].expected for kind in KINDS}
            counted: dict[str, Decimal | None] = {kind: lines[kind].counted for kind in KINDS}
            over: dict[str, Decimal | None] = {kind: lines[kind].over_short for kind in KINDS}
        else:  # not counted yet: what is expected so far
            expected = {
                Kind.CASH: session.opening_float
                + total(TENDER_KINDS[Kind.CASH])
                - (session.change or ZERO),
                Kind.CHECKS: total(TENDER_KINDS[Kind.CHECKS]),
                Kind.CARDS: total(TENDER_KINDS[Kind.CARDS]),
            }
            counted = dict.fromkeys(KINDS)
            over = dict.fromkeys(KINDS)
        if not session.is_training:
            for kind in KINDS:
                totals[kind]["expected"] += expected[kind]
                totals[kind]["counted"] += counted[kind] or ZERO
                totals[kind]["over_short"] += over[kind] or ZERO
        rows.append(
            SessionRow(
                session=session,
                count=count,
                receipt_count=session.receipt_count,
                void_count=session.void_count,
                total=session.receipt_total or ZERO,
                expected=expected,
                counted=counted,
                over_short=over,
                ach=total((TenderType.Kind.ACH,)),
            )
        )

    live_lines = ReceiptLine.objects.filter(
        receipt__business_date=business_date,
        receipt__status=Receipt.Status.POSTED,
        receipt__is_training=False,
    ).order_by()
    by_fee_code = list(
        live_lines.values("fee_code__code", "fee_code__name")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by("fee_code__code")
    )
    by_subsystem = list(
        live_lines.values("target_kind")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by("target_kind")
    )
    through = Q(lines__entry__entry_date__lte=business_date)
    clearing = [
        {
            "account": account,
            "balance": (account.debits or ZERO) - (account.credits or ZERO),
        }
        for account in GLAccount.objects.filter(is_clearing=True)
        .select_related("fund")
        .annotate(
            debits=Sum("lines__debit", filter=through),
            credits=Sum("lines__credit", filter=through),
        )
        .order_by("fund__code", "code")
    ]
    flags = day_flags(business_date)
    day = BusinessDay.objects.select_related("closed_by", "reopened_by").filter(
        business_date=business_date
    )
    return DayBalancing(
        business_date=business_date,
        day=day.first(),
        sessions=rows,
        totals=totals,
        series=receipt_series_check(business_date),
        by_fee_code=by_fee_code,
        by_subsystem=by_subsystem,
        clearing=clearing,
        left_open=flags["left_open"],
        undeposited=flags["undeposited"],
    )


def day_flags(business_date: date, *, now: datetime | None = None) -> dict[str, list]:
    """Drawers left open from an earlier date, and funds not deposited in time (RCW
    43.09.240): sessions of this date or before, closed or balanced but not deposited,
    closed longer ago than the policy allows or from a business date over a day back."""
    now = now or timezone.now()
    policy = CounterPolicy.current()
    closed_before, date_before = _undeposited_cutoff(now, policy.deposit_within_hours)
    today = timezone.localdate(now)
    both = list(
        CashierSession.objects.filter(business_date__lte=business_date, is_training=False)
        .filter(
            Q(status=CashierSession.Status.OPEN, business_date__lt=today)
            | Q(
                status__in=[CashierSession.Status.CLOSED, CashierSession.Status.BALANCED],
            )
            & (Q(closed_at__lt=closed_before) | Q(business_date__lt=date_before))
        )
        .select_related("drawer", "cashier")
        .order_by("business_date", "drawer__code")
    )
    return {
        "left_open": [s for s in both if s.status == CashierSession.Status.OPEN],
        "undeposited": [s for s in both if s.status != CashierSession.Status.OPEN],
    }


@dataclass(frozen=True)
class DaySummary:
    business_date: date
    sessions: int
    open: int
    pending: int
    unbalanced: int
    receipts: int
    day: BusinessDay | None


RECENT_DAYS = 30


def recent_days(limit: int = RECENT_DAYS) -> list[DaySummary]:
    """The latest business dates with sessions, newest first (two queries)."""
    rows = list(
        CashierSession.objects.values("business_date")
        .annotate(
            sessions=Count("id", distinct=True),
            open=Count("id", filter=Q(status=CashierSession.Status.OPEN), distinct=True),
            pending=Count("id", filter=Q(count__status=SessionCount.Status.PENDING), distinct=True),
            unbalanced=Count(
                "id",
                filter=Q(status=CashierSession.Status.CLOSED, is_training=False),
                distinct=True,
            ),
        )
        .order_by("-business_date")[:limit]
    )
    dates = [row["business_date"] for row in rows]
    days = {d.business_date: d for d in BusinessDay.objects.filter(business_date__in=dates)}
    receipts = dict(
        Receipt.objects.filter(business_date__in=dates, status=Receipt.Status.POSTED)
        .values_list("business_date")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [
        DaySummary(
            business_date=row["business_date"],
            sessions=row["sessions"],
            open=row["open"],
            pending=row["pending"],
            unbalanced=row["unbalanced"],
            receipts=receipts.get(row["business_date"], 0),
            day=days.get(row["business_date"]),
        )
        for row in rows
    ]


def pending_counts() -> QuerySet[SessionCount]:
    """Over/shorts waiting for a supervisor, oldest first."""
    return (
        SessionCount.objects.filter(status=SessionCount.Status.PENDING)
        .select_related("session__drawer", "session__cashier", "counted_by")
        .order_by("counted_at")
    )
