"""Reads of closing and balancing: what a session should hold, counts and their lines, the
daily balancing page (sessions, receipt number series, clearing accounts, flags), recent
days and counts waiting for approval. Each page is a fixed number of queries whatever the
number of receipts."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from cashiering.denominations import count_total
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
from kent_cs.money import ZERO
from ledger.models import GLAccount

Kind = SessionCountLine.Kind


KINDS = [Kind.CASH, Kind.CHECKS, Kind.CARDS]


# Tender kinds counted under each kind of the drawer count. ACH is not in the drawer: it
# arrives as an electronic settlement and is not part of over/short.
TENDER_KINDS = {
    Kind.CASH: (TenderType.Kind.CASH,),
    Kind.CHECKS: (TenderType.Kind.CHECK, TenderType.Kind.MONEY_ORDER),
    Kind.CARDS: (TenderType.Kind.CARD,),
}


# A reversal's checks never sit in the reversal's drawer: the check is handed back from
# where it is, the funds of the session that took it (a check already deposited cannot be
# reversed). Neither the reversal's negative check nor the reversed original is a drawer
# or deposit item from the moment the reversal posts; the original's deposit leaves it out
# and lists it to hand back.
CHECK_TENDER_KINDS = TENDER_KINDS[Kind.CHECKS]
REVERSAL_CHECK = Q(receipt__reverses__isnull=False, tender_type__kind__in=CHECK_TENDER_KINDS)
REVERSED_CHECK = Q(receipt__reversed_by__isnull=False, tender_type__kind__in=CHECK_TENDER_KINDS)
HANDED_BACK = REVERSAL_CHECK | REVERSED_CHECK


SETTLED = (SessionCount.Status.BALANCED, SessionCount.Status.POSTED, SessionCount.Status.APPROVED)


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
    carry negative cash tenders). Voided receipts are left out; reversals are in. Checks
    handed back (see HANDED_BACK) are in no drawer.
    """
    receipts = Receipt.objects.filter(
        session=session, status=Receipt.Status.POSTED, is_training=session.is_training
    )
    by_kind = dict(
        Tender.objects.filter(receipt__in=receipts)
        .exclude(HANDED_BACK)
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


def session_label(session: CashierSession) -> str:
    training = ", training" if session.is_training else ""
    return f"{session.drawer.code} ({session.cashier.get_username()}{training})"


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
    handed_back: list[Tender] = field(default_factory=list)

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
        .exclude(HANDED_BACK)
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
        handed_back=checks_reversed_on(business_date),
    )


def checks_reversed_on(business_date: date) -> list[Tender]:
    """Checks and money orders whose receipts were reversed on `business_date`: in no
    drawer, and left out of the deposit of the session that took them, which hands them
    back. Each with its receipt, its session and the reversal."""
    return list(
        Tender.objects.filter(REVERSED_CHECK, receipt__reversed_by__business_date=business_date)
        .select_related(
            "tender_type",
            "receipt__session__drawer",
            "receipt__session__cashier",
            "receipt__reversed_by__session__drawer",
        )
        .order_by("receipt__reversed_by__number", "line_no")
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
