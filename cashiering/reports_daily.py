"""The day's reports: the daily cash report and the audit report of a business date.

Both are built from aggregate queries, one per part of the report, so the number of
queries stays the same however many receipts, sessions or events the day has.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone

from cashiering.models import (
    BusinessDay,
    CashierSession,
    CorrectionRequest,
    Deposit,
    Receipt,
    ReceiptLine,
    ReceiptPrint,
    RefundRequest,
    ReturnedCheck,
    SessionCount,
    Tender,
    TenderType,
)
from kent_cs.money import ZERO
from kent_cs.reports import DATETIME, MONEY, TEXT, Column, csv_bytes
from ledger.models import GLAccount

TENDER_KINDS = list(TenderType.Kind)


def _name(user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


# --- daily cash report ----------------------------------------------------------------


@dataclass
class SessionRow:
    session: CashierSession
    receipt_count: int = 0
    void_count: int = 0
    change_given: Decimal = ZERO
    by_kind: dict[str, Decimal] = field(default_factory=dict)
    over_short: Decimal | None = None
    count_status: str = ""

    @property
    def kind_amounts(self) -> list[Decimal]:
        return [self.by_kind.get(kind, ZERO) for kind in TENDER_KINDS]

    @property
    def cash_net(self) -> Decimal:
        return self.by_kind.get(TenderType.Kind.CASH, ZERO) - self.change_given

    @property
    def total(self) -> Decimal:
        return sum(self.by_kind.values(), ZERO) - self.change_given


@dataclass(frozen=True)
class FeeCodeRow:
    code: str
    name: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class DepositRow:
    deposit: Deposit
    amount_for_day: Decimal


@dataclass(frozen=True)
class ClearingRow:
    account: GLAccount
    balance: Decimal


@dataclass
class DailyCashReport:
    business_date: date
    sessions: list[SessionRow]
    fee_codes: list[FeeCodeRow]
    deposits: list[DepositRow]
    clearing: list[ClearingRow]
    business_day: BusinessDay | None
    kinds: list[tuple[str, str]] = field(default_factory=lambda: list(TenderType.Kind.choices))

    @property
    def kind_totals(self) -> list[Decimal]:
        return [
            sum((row.by_kind.get(kind, ZERO) for row in self.sessions), ZERO)
            for kind in TENDER_KINDS
        ]

    @property
    def change_total(self) -> Decimal:
        return sum((row.change_given for row in self.sessions), ZERO)

    @property
    def receipt_count(self) -> int:
        return sum(row.receipt_count for row in self.sessions)

    @property
    def void_count(self) -> int:
        return sum(row.void_count for row in self.sessions)

    @property
    def total(self) -> Decimal:
        return sum((row.total for row in self.sessions), ZERO)

    @property
    def over_short_total(self) -> Decimal:
        return sum((row.over_short or ZERO for row in self.sessions), ZERO)

    @property
    def fee_code_total(self) -> Decimal:
        return sum((row.amount for row in self.fee_codes), ZERO)

    @property
    def deposit_total(self) -> Decimal:
        return sum((row.amount_for_day for row in self.deposits), ZERO)


def daily_cash_report(business_date: date) -> DailyCashReport:
    """Sessions of the date (live only) with receipts, tenders by kind, change and
    over/short; totals by fee code; deposits carrying the date's sessions; and each
    clearing account's balance at the end of the date. Seven queries, whatever the day
    holds."""
    sessions = list(
        CashierSession.objects.filter(business_date=business_date, is_training=False)
        .select_related("drawer", "cashier", "count")
        .order_by("drawer__code", "opened_at", "pk")
    )
    rows = {s.pk: SessionRow(s) for s in sessions}
    for s in sessions:
        count: SessionCount | None = getattr(s, "count", None)
        if count is not None:
            rows[s.pk].over_short = count.over_short
            rows[s.pk].count_status = count.get_status_display()
    receipts = (
        Receipt.objects.filter(session__in=rows.keys())
        .values("session")
        .annotate(
            posted=Count("id", filter=Q(status=Receipt.Status.POSTED)),
            voided=Count("id", filter=Q(status=Receipt.Status.VOIDED)),
            change=Sum("change_given", filter=Q(status=Receipt.Status.POSTED)),
        )
        .order_by()
    )
    for r in receipts:
        row = rows[r["session"]]
        row.receipt_count, row.void_count = r["posted"], r["voided"]
        row.change_given = r["change"] or ZERO
    tenders = (
        Tender.objects.filter(receipt__session__in=rows.keys(), receipt__status="posted")
        .values("receipt__session", "tender_type__kind")
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    for t in tenders:
        rows[t["receipt__session"]].by_kind[t["tender_type__kind"]] = t["amount"] or ZERO
    fee_codes = [
        FeeCodeRow(r["fee_code__code"], r["fee_code__name"], r["count"], r["amount"] or ZERO)
        for r in ReceiptLine.objects.filter(
            receipt__business_date=business_date,
            receipt__status=Receipt.Status.POSTED,
            receipt__is_training=False,
        )
        .values("fee_code__code", "fee_code__name")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by("fee_code__code")
    ]
    deposits = [
        DepositRow(d, d.amount_for_day)
        for d in Deposit.objects.filter(session_links__session__business_date=business_date)
        .annotate(amount_for_day=Sum("session_links__amount"))
        .select_related("bank_account", "prepared_by")
        .order_by("number")
    ]
    clearing = [
        ClearingRow(a, (a.debits or ZERO) - (a.credits or ZERO))
        for a in GLAccount.objects.filter(is_clearing=True)
        .select_related("fund")
        .annotate(
            debits=Sum("lines__debit", filter=Q(lines__entry__entry_date__lte=business_date)),
            credits=Sum("lines__credit", filter=Q(lines__entry__entry_date__lte=business_date)),
        )
        .order_by("fund__code", "code")
    ]
    return DailyCashReport(
        business_date=business_date,
        sessions=list(rows.values()),
        fee_codes=fee_codes,
        deposits=deposits,
        clearing=clearing,
        business_day=BusinessDay.objects.filter(business_date=business_date).first(),
    )


# --- audit report ---------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEvent:
    at: datetime
    event: str
    reference: str
    actor: str
    amount: Decimal | None = None
    detail: str = ""
    url: str = ""


def _day_window(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    end = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))
    return start, end


def _in_day(field_name: str, window: tuple[datetime, datetime]) -> Q:
    return Q(**{f"{field_name}__gte": window[0], f"{field_name}__lt": window[1]})


def _between(at: datetime | None, window: tuple[datetime, datetime]) -> bool:
    return at is not None and window[0] <= at < window[1]


def _receipt_events(day: date) -> Iterable[AuditEvent]:
    receipts = Receipt.objects.filter(business_date=day).select_related(
        "posted_by", "session__drawer", "reverses"
    )
    for r in receipts:
        detail = f"Drawer {r.session.drawer.code}, {r.payer_name}"
        if r.reverses_id:
            detail += f", reverses {r.reverses}"
        if r.is_training:
            detail += " (training)"
        yield AuditEvent(
            r.posted_at,
            "Receipt" if r.status == Receipt.Status.POSTED else "Receipt (void)",
            str(r),
            _name(r.posted_by),
            r.total,
            detail,
            r.get_absolute_url(),
        )


def _correction_events(day: date, window: tuple[datetime, datetime]) -> Iterable[AuditEvent]:
    corrections = CorrectionRequest.objects.filter(
        Q(receipt__business_date=day)
        | Q(reversal_receipt__business_date=day)
        | _in_day("requested_at", window)
        | _in_day("decided_at", window)
    ).select_related("receipt", "requested_by", "decided_by", "reversal_receipt")
    for c in corrections:
        kind = c.get_kind_display()
        url = c.receipt.get_absolute_url()
        yield AuditEvent(
            c.requested_at,
            f"{kind} requested",
            str(c.receipt),
            _name(c.requested_by),
            c.receipt.total,
            c.reason,
            url,
        )
        if c.decided_at is not None:
            detail = f"Requested by {_name(c.requested_by)}"
            if c.reversal_receipt_id:
                detail += f"; reversal receipt {c.reversal_receipt}"
            if c.decision_note:
                detail += f"; {c.decision_note}"
            yield AuditEvent(
                c.decided_at,
                f"{kind} {c.get_status_display().lower()}",
                str(c.receipt),
                _name(c.decided_by),
                c.receipt.total,
                detail,
                url,
            )


def _reprint_events(day: date, window: tuple[datetime, datetime]) -> Iterable[AuditEvent]:
    prints = ReceiptPrint.objects.filter(
        Q(receipt__business_date=day) | _in_day("printed_at", window), is_reprint=True
    )
    for p in prints.select_related("receipt", "printed_by"):
        yield AuditEvent(
            p.printed_at,
            "Reprint",
            str(p.receipt),
            _name(p.printed_by),
            p.receipt.total,
            f"Format: {p.format}",
            p.receipt.get_absolute_url(),
        )


def _over_short_events(day: date, window: tuple[datetime, datetime]) -> Iterable[AuditEvent]:
    counts = SessionCount.objects.filter(
        Q(session__business_date=day) | _in_day("decided_at", window)
    ).select_related("session__drawer", "counted_by", "decided_by")
    for c in counts:
        reference = f"Drawer {c.session.drawer.code} {c.session.business_date:%Y-%m-%d}"
        url = c.session.get_absolute_url()
        if c.over_short:
            yield AuditEvent(
                c.counted_at,
                "Over/short recorded",
                reference,
                _name(c.counted_by),
                c.over_short,
                c.get_status_display() + (f"; {c.cashier_note}" if c.cashier_note else ""),
                url,
            )
        if c.decided_by_id and c.decided_at is not None:
            yield AuditEvent(
                c.decided_at,
                "Over/short approved",
                reference,
                _name(c.decided_by),
                c.over_short,
                c.explanation,
                url,
            )


def _business_day_events(day: date, window: tuple[datetime, datetime]) -> Iterable[AuditEvent]:
    days = BusinessDay.objects.filter(
        Q(business_date=day) | _in_day("closed_at", window) | _in_day("reopened_at", window)
    ).select_related("closed_by", "reopened_by")
    for d in days:
        reference = f"Business day {d.business_date:%Y-%m-%d}"
        if d.closed_at is not None:
            yield AuditEvent(d.closed_at, "Business day closed", reference, _name(d.closed_by))
        if d.reopened_at is not None:
            yield AuditEvent(
                d.reopened_at,
                "Business day reopened",
                reference,
                _name(d.reopened_by),
                detail=d.reopen_reason,
            )


def _deposit_events(day: date, window: tuple[datetime, datetime]) -> Iterable[AuditEvent]:
    deposits = Deposit.objects.filter(
        Q(deposit_date=day) | _in_day("prepared_at", window)
    ).select_related("prepared_by", "bank_account")
    for d in deposits:
        yield AuditEvent(
            d.prepared_at,
            "Deposit prepared",
            f"Deposit {d.number}",
            _name(d.prepared_by),
            d.total,
            f"{d.get_kind_display()} to {d.bank_account}, dated {d.deposit_date:%Y-%m-%d}",
            d.get_absolute_url(),
        )


def _returned_check_events(day: date, window: tuple[datetime, datetime]) -> Iterable[AuditEvent]:
    returned = ReturnedCheck.objects.filter(
        Q(returned_on=day) | _in_day("created_at", window) | _in_day("decided_at", window)
    ).select_related("created_by", "decided_by", "receipt")
    for r in returned:
        reference = f"Returned check {r.pk}" + (f" ({r.receipt})" if r.receipt_id else "")
        yield AuditEvent(
            r.created_at,
            "Returned check entered",
            reference,
            _name(r.created_by),
            r.amount,
            f"{r.get_reason_display()}, {r.payer_name}",
        )
        if r.decided_by_id and r.decided_at is not None:
            yield AuditEvent(
                r.decided_at,
                f"Returned check {r.get_status_display().lower()}",
                reference,
                _name(r.decided_by),
                r.amount,
                r.note,
            )


def _refund_events(window: tuple[datetime, datetime]) -> Iterable[AuditEvent]:
    refunds = RefundRequest.objects.filter(
        _in_day("requested_at", window)
        | _in_day("verified_at", window)
        | _in_day("decided_at", window)
    ).select_related("requested_by", "verified_by", "decided_by")
    for r in refunds:
        reference = f"Refund {r.number}"
        if _between(r.requested_at, window):
            yield AuditEvent(
                r.requested_at,
                "Refund requested",
                reference,
                _name(r.requested_by),
                r.amount,
                f"{r.payee_name}: {r.reason}",
            )
        if r.verified_by_id and r.verified_at is not None and _between(r.verified_at, window):
            yield AuditEvent(
                r.verified_at, "Refund verified", reference, _name(r.verified_by), r.amount
            )
        if r.decided_by_id and r.decided_at is not None and _between(r.decided_at, window):
            decision = "rejected" if r.status == RefundRequest.Status.REJECTED else "approved"
            yield AuditEvent(
                r.decided_at,
                f"Refund {decision}",
                reference,
                _name(r.decided_by),
                r.amount,
                r.decision_note,
            )


def audit_events(day: date) -> list[AuditEvent]:
    """Every receipt of the business date, and every void, reversal, reprint, over/short,
    approval, business-day close or reopen, deposit, returned check and refund decision
    that belongs to the date (its receipt, session or deposit is of the date) or was made
    on it, each with its actor and time, in time order. One query per kind of event,
    whatever the number of rows."""
    window = _day_window(day)
    events: list[AuditEvent] = [
        *_receipt_events(day),
        *_correction_events(day, window),
        *_reprint_events(day, window),
        *_over_short_events(day, window),
        *_business_day_events(day, window),
        *_deposit_events(day, window),
        *_returned_check_events(day, window),
        *_refund_events(window),
    ]
    events.sort(key=lambda e: (e.at, e.event, e.reference))
    return events


AUDIT_COLUMNS = [
    Column("Time", DATETIME),
    Column("Event", TEXT, width=24),
    Column("Reference", TEXT, width=20),
    Column("Actor", TEXT, width=20),
    Column("Amount", MONEY),
    Column("Detail", TEXT, width=60),
]


def audit_csv(day: date, events: list[AuditEvent]) -> bytes:
    rows = (
        [timezone.localtime(e.at), e.event, e.reference, e.actor, e.amount, e.detail]
        for e in events
    )
    return csv_bytes(AUDIT_COLUMNS, rows, bom=True)


def daily_report_urls(day: date) -> dict[str, str]:
    text = day.isoformat()
    return {
        "daily_print": reverse("cashiering:daily-cash-report-print", args=[text]),
        "daily_pdf": reverse("cashiering:daily-cash-report-pdf", args=[text]),
        "audit": reverse("cashiering:audit-report", args=[text]),
        "audit_print": reverse("cashiering:audit-report-print", args=[text]),
        "audit_csv": reverse("cashiering:audit-report-csv", args=[text]),
    }
