"""The counter's audit reports: cashier activity, over/short history with repeat flags,
voids and reversals with their approvers, after-hours and closed-day activity.

Each is built from a fixed number of aggregate queries, whatever the range holds.
"""

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import ExtractIsoWeekDay, TruncTime

from audit.charts import signed_line_chart
from audit.report_common import (
    Report,
    ReportParams,
    Section,
    business_hours,
    event_model,
    hours_text,
    local,
    money_sum,
    name,
)
from cashiering.models import (
    BusinessDay,
    CashierSession,
    CorrectionRequest,
    CounterPolicy,
    Receipt,
    ReceiptPrint,
    RefundRequest,
    SessionCount,
)
from kent_cs.money import ZERO
from kent_cs.reports import DATE, DATETIME, INTEGER, MONEY, TEXT, Column
from licensing.models import LicenseStatusChange

NO_SALE_NOT_RECORDED = (
    "No-sale openings of a drawer are not recorded: the counter has no no-sale action, so "
    "the report cannot count them."
)

# --- cashier activity ------------------------------------------------------------------

ACTIVITY_COLUMNS = [
    Column("Cashier", TEXT, width=22),
    Column("Sessions", INTEGER),
    Column("Receipts", INTEGER),
    Column("Receipts total", MONEY),
    Column("Voided", INTEGER),
    Column("Voided total", MONEY),
    Column("Reversals", INTEGER),
    Column("Reversals total", MONEY),
    Column("Net total", MONEY),
    Column("Reprints", INTEGER),
    Column("Earlier-date overrides", INTEGER),
    Column("Over/short approvals", INTEGER),
    Column("Training sessions", INTEGER),
    Column("Training receipts", INTEGER),
    Column("Training total", MONEY),
]


def cashier_activity(params: ReportParams) -> Report:
    """Per cashier (the owner of the sessions): live receipts of the business dates in the
    range (every sales receipt posted, voids among them, reversals posted, and the net of
    what stands), reprints made by the person, supervisor overrides on their sessions
    (opening for an earlier business date, over/short approved above the threshold) and
    training use. Four queries."""
    receipts = Receipt.objects.filter(business_date__range=(params.date_from, params.date_to))
    sessions = CashierSession.objects.filter(
        business_date__range=(params.date_from, params.date_to)
    )
    prints = ReceiptPrint.objects.filter(
        receipt__business_date__range=(params.date_from, params.date_to),
        is_reprint=True,
        receipt__is_training=False,
    )
    if params.cashier:
        receipts = receipts.filter(session__cashier=params.cashier)
        sessions = sessions.filter(cashier=params.cashier)
        prints = prints.filter(printed_by=params.cashier)
    live, sale, training = Q(is_training=False), Q(reverses__isnull=True), Q(is_training=True)
    voided = Q(status=Receipt.Status.VOIDED)
    rows: dict[int, dict] = defaultdict(lambda: defaultdict(lambda: 0))
    for r in (
        receipts.values(cashier=F("session__cashier"))
        .annotate(
            receipts=Count("id", filter=live & sale),
            receipts_total=Sum("total", filter=live & sale),
            voided=Count("id", filter=live & voided),
            voided_total=Sum("total", filter=live & voided),
            reversals=Count("id", filter=live & ~sale),
            reversals_total=Sum("total", filter=live & ~sale),
            net=Sum("total", filter=live & Q(status=Receipt.Status.POSTED)),
            training_receipts=Count("id", filter=training & ~voided),
            training_total=Sum("total", filter=training & ~voided),
        )
        .order_by()
    ):
        rows[r["cashier"]].update({k: v for k, v in r.items() if k != "cashier"})
    for s in (
        sessions.values("cashier")
        .annotate(
            sessions=Count("id", filter=Q(is_training=False)),
            training_sessions=Count("id", filter=Q(is_training=True)),
            earlier_date=Count("id", filter=Q(earlier_date_approved_by__isnull=False)),
            over_short_approvals=Count(
                "count", filter=Q(count__status=SessionCount.Status.APPROVED)
            ),
        )
        .order_by()
    ):
        rows[s["cashier"]].update({k: v for k, v in s.items() if k != "cashier"})
    for p in prints.values("printed_by").annotate(n=Count("id")).order_by():
        rows[p["printed_by"]]["reprints"] = p["n"]
    if params.cashier:
        rows[params.cashier.pk]  # the one asked for, even with nothing to show
    users = get_user_model().objects.in_bulk(list(rows))
    keys: list[tuple[str, Any]] = [
        ("sessions", 0),
        ("receipts", 0),
        ("receipts_total", ZERO),
        ("voided", 0),
        ("voided_total", ZERO),
        ("reversals", 0),
        ("reversals_total", ZERO),
        ("net", ZERO),
        ("reprints", 0),
        ("earlier_date", 0),
        ("over_short_approvals", 0),
        ("training_sessions", 0),
        ("training_receipts", 0),
        ("training_total", ZERO),
    ]
    table: list[list[Any]] = []
    for pk in sorted(rows, key=lambda pk: name(users.get(pk)).lower()):
        values = rows[pk]
        table.append([name(users.get(pk))] + [values.get(k) or empty for k, empty in keys])
    total: list[Any] = ["Total"] + [
        money_sum(row[i] for row in table)
        if isinstance(empty, Decimal)
        else sum(row[i] for row in table)
        for i, (_, empty) in enumerate(keys, start=1)
    ]
    figures = {k: total[i] for i, (k, _) in enumerate(keys, start=1)}
    return Report(
        "cashier-activity",
        "Cashier activity",
        params,
        [Section("Cashier activity", ACTIVITY_COLUMNS, table, total)],
        notes=[
            "Receipts are the live sales receipts of the business dates in the range, voided "
            "ones included; the net total is what stands after voids and reversals. Reprints "
            "of those receipts are counted for the person who reprinted.",
            NO_SALE_NOT_RECORDED,
        ],
        figures=figures,
    )


# --- over/short history ----------------------------------------------------------------

REPEAT_DAYS = 30
REPEAT_SHORTAGES = 3  # shortages of one cashier within REPEAT_DAYS days
REPEAT_BEYOND = 2  # over/shorts beyond the threshold within REPEAT_DAYS days

OVER_SHORT_COLUMNS = [
    Column("Business date", DATE),
    Column("Cashier", TEXT, width=22),
    Column("Drawer", TEXT, width=8),
    Column("Over/short", MONEY),
    Column("Status", TEXT, width=24),
    Column("Approved by", TEXT, width=20),
    Column("Explanation", TEXT, width=40),
]
OVER_SHORT_SUMMARY_COLUMNS = [
    Column("Cashier", TEXT, width=22),
    Column("Counts", INTEGER),
    Column("Shortages", INTEGER),
    Column("Short total", MONEY),
    Column("Overages", INTEGER),
    Column("Over total", MONEY),
    Column("Net", MONEY),
    Column("Beyond threshold", INTEGER),
    Column("Repeat flag", TEXT, width=50),
]


def repeat_rule_text() -> str:
    return (
        f"A cashier is flagged when {REPEAT_SHORTAGES} or more shortages, or "
        f"{REPEAT_BEYOND} or more over/shorts beyond the approval threshold, fall within "
        f"{REPEAT_DAYS} days of one another (counting the {REPEAT_DAYS - 1} days before the "
        "range too)."
    )


def _repeats(dates: list, needed: int, start) -> bool:
    """Whether `needed` of the sorted dates fall within REPEAT_DAYS days, the last of them
    on or after `start`."""
    for i in range(needed - 1, len(dates)):
        if dates[i] >= start and (dates[i] - dates[i - needed + 1]).days < REPEAT_DAYS:
            return True
    return False


def over_short_history(params: ReportParams) -> Report:
    """Every blind count of a live session in the range with its over/short, a summary per
    cashier with the repeat flags, and a chart of each cashier's daily net. Two queries."""
    threshold = Decimal(CounterPolicy.current().over_short_threshold)
    lookback = params.date_from - timedelta(days=REPEAT_DAYS - 1)
    counts = SessionCount.objects.filter(
        session__business_date__range=(lookback, params.date_to), session__is_training=False
    )
    if params.cashier:
        counts = counts.filter(session__cashier=params.cashier)
    counts = counts.select_related("session__cashier", "session__drawer", "decided_by").order_by(
        "session__business_date", "session__drawer__code", "pk"
    )
    rows, shortages, beyond = [], defaultdict(list), defaultdict(list)
    summary: dict = {}
    daily: dict = defaultdict(lambda: defaultdict(lambda: ZERO))
    for c in counts:
        cashier, day = c.session.cashier, c.session.business_date
        if c.over_short < 0:
            shortages[cashier.pk].append(day)
        if abs(c.over_short) > threshold:
            beyond[cashier.pk].append(day)
        if day < params.date_from:
            continue
        rows.append(
            [
                day,
                name(cashier),
                c.session.drawer.code,
                c.over_short,
                c.get_status_display(),
                name(c.decided_by),
                c.explanation,
            ]
        )
        line = summary.setdefault(cashier.pk, [name(cashier), 0, 0, ZERO, 0, ZERO, ZERO, 0, ""])
        line[1] += 1
        if c.over_short < 0:
            line[2] += 1
            line[3] += c.over_short
        elif c.over_short > 0:
            line[4] += 1
            line[5] += c.over_short
        line[6] += c.over_short
        if abs(c.over_short) > threshold:
            line[7] += 1
        daily[cashier.pk][day] += c.over_short
    for pk, line in summary.items():
        reasons = []
        if _repeats(shortages[pk], REPEAT_SHORTAGES, params.date_from):
            reasons.append(f"{REPEAT_SHORTAGES}+ shortages in {REPEAT_DAYS} days")
        if _repeats(beyond[pk], REPEAT_BEYOND, params.date_from):
            reasons.append(f"{REPEAT_BEYOND}+ beyond the threshold in {REPEAT_DAYS} days")
        line[8] = "; ".join(reasons)
    summary_rows = sorted(summary.values(), key=lambda line: line[0].lower())
    total = [
        "Total",
        sum(r[1] for r in summary_rows),
        sum(r[2] for r in summary_rows),
        money_sum(r[3] for r in summary_rows),
        sum(r[4] for r in summary_rows),
        money_sum(r[5] for r in summary_rows),
        money_sum(r[6] for r in summary_rows),
        sum(r[7] for r in summary_rows),
        "",
    ]
    days = sorted({day for per_day in daily.values() for day in per_day})
    chart = None
    if days:
        chart = signed_line_chart(
            chart_id="over-short-trend",
            title="Over/short by business date",
            description="Each cashier's net over (above zero) or short (below) per day.",
            categories=[f"{day:%m/%d}" for day in days],
            series=[
                (line[0], [daily[pk].get(day) for day in days])
                for pk, line in sorted(summary.items(), key=lambda item: item[1][0].lower())
            ],
        )
    return Report(
        "over-short",
        "Over/short history",
        params,
        [
            Section(
                "By cashier",
                OVER_SHORT_SUMMARY_COLUMNS,
                summary_rows,
                total,
                flags=[r[8] for r in summary_rows],
            ),
            Section("Counts", OVER_SHORT_COLUMNS, rows),
        ],
        notes=[repeat_rule_text(), f"Approval threshold: {threshold:.2f}."],
        chart=chart,
        figures={
            "counts": total[1],
            "shortages": total[2],
            "short_total": total[3],
            "overages": total[4],
            "over_total": total[5],
            "net": total[6],
            "flagged": {line[0] for line in summary_rows if line[8]},
        },
    )


# --- voids and reversals ---------------------------------------------------------------

CORRECTION_COLUMNS = [
    Column("Requested", DATETIME),
    Column("Kind", TEXT, width=10),
    Column("Receipt", TEXT, width=12),
    Column("Business date", DATE),
    Column("Cashier", TEXT, width=20),
    Column("Amount", MONEY),
    Column("Reason", TEXT, width=36),
    Column("Requested by", TEXT, width=20),
    Column("Status", TEXT, width=20),
    Column("Decided by", TEXT, width=20),
    Column("Decided", DATETIME),
    Column("Reversal receipt", TEXT, width=12),
    Column("Separation of duties", TEXT, width=40),
]


def separation_breach(c: CorrectionRequest) -> str:
    """Why the decision breaks separation of duties (empty when it does not): the one who
    decided is the cashier whose receipt it was, the one who posted it, or the requester."""
    if c.decided_by_id is None:
        return ""
    problems = []
    if c.decided_by_id == c.receipt.session.cashier_id:
        problems.append("approver is the cashier")
    elif c.decided_by_id == c.receipt.posted_by_id:
        problems.append("approver posted the receipt")
    if c.decided_by_id == c.requested_by_id:
        problems.append("approver is the requester")
    return "; ".join(problems)


def voids_and_reversals(params: ReportParams) -> Report:
    """Every void and reversal of a receipt of the range's business dates, or requested in
    the range, with its requester, decision and
    approver; rows breaking separation of duties are flagged. One query."""
    corrections = CorrectionRequest.objects.filter(
        Q(receipt__business_date__range=(params.date_from, params.date_to))
        | params.in_window("requested_at")
    )
    if params.cashier:
        corrections = corrections.filter(receipt__session__cashier=params.cashier)
    corrections = corrections.select_related(
        "receipt__session__cashier", "requested_by", "decided_by", "reversal_receipt"
    ).order_by("requested_at", "pk")
    rows, flags = [], []
    approved: dict[str, list[Decimal]] = {"void": [], "reversal": []}
    counts: dict = defaultdict(int)
    for c in corrections:
        flag = separation_breach(c)
        rows.append(
            [
                local(c.requested_at),
                c.get_kind_display(),
                str(c.receipt),
                c.receipt.business_date,
                name(c.receipt.session.cashier),
                c.receipt.total,
                c.reason,
                name(c.requested_by),
                c.get_status_display(),
                name(c.decided_by),
                local(c.decided_at),
                str(c.reversal_receipt) if c.reversal_receipt_id else "",
                flag,
            ]
        )
        flags.append(flag)
        counts[c.status] += 1
        if c.status == CorrectionRequest.Status.APPROVED:
            approved[c.kind].append(c.receipt.total)
    figures = {
        "requested": len(rows),
        "approved": counts[CorrectionRequest.Status.APPROVED],
        "rejected": counts[CorrectionRequest.Status.REJECTED],
        "pending": counts[CorrectionRequest.Status.PENDING],
        "voids": len(approved["void"]),
        "voids_total": money_sum(approved["void"]),
        "reversals": len(approved["reversal"]),
        "reversals_total": money_sum(approved["reversal"]),
        "flagged": sum(1 for f in flags if f),
    }
    summary = Section(
        "Summary",
        [Column("Figure", TEXT, width=36), Column("Count", INTEGER), Column("Amount", MONEY)],
        [
            ["Requests", figures["requested"], None],
            ["Approved voids", figures["voids"], figures["voids_total"]],
            ["Approved reversals", figures["reversals"], figures["reversals_total"]],
            ["Rejected", figures["rejected"], None],
            ["Waiting for approval", figures["pending"], None],
            ["Separation of duties broken", figures["flagged"], None],
        ],
    )
    return Report(
        "voids-reversals",
        "Voids and reversals",
        params,
        [summary, Section("Requests", CORRECTION_COLUMNS, rows, flags=flags)],
        notes=[
            "Separation of duties: the person who approves a void or reversal is neither "
            "the cashier whose receipt it is, nor the one who posted it, nor the requester. "
            "A row where that is broken is flagged."
        ],
        figures=figures,
    )


# --- after hours and closed days -------------------------------------------------------

AFTER_HOURS_COLUMNS = [
    Column("Time", DATETIME),
    Column("Activity", TEXT, width=28),
    Column("Reference", TEXT, width=18),
    Column("By", TEXT, width=20),
    Column("Amount", MONEY),
]
CLOSED_DAY_COLUMNS = [
    Column("Business date", DATE),
    Column("Closed first", DATETIME),
    Column("Posted", DATETIME),
    Column("Receipt", TEXT, width=12),
    Column("Cashier", TEXT, width=20),
    Column("Amount", MONEY),
]
EARLIER_DATE_COLUMNS = [
    Column("Opened", DATETIME),
    Column("Business date", DATE),
    Column("Cashier", TEXT, width=20),
    Column("Drawer", TEXT, width=8),
    Column("Approved by", TEXT, width=20),
    Column("Reason", TEXT, width=40),
]

# (model, time field, actor field, activity, reference, amount): changes people make.
_CHANGES = [
    (CorrectionRequest, "requested_at", "requested_by", "Correction requested", "receipt", None),
    (CorrectionRequest, "decided_at", "decided_by", "Correction decided", "receipt", None),
    (SessionCount, "decided_at", "decided_by", "Over/short approved", "session", "over_short"),
    (RefundRequest, "requested_at", "requested_by", "Refund requested", None, "amount"),
    (RefundRequest, "decided_at", "decided_by", "Refund decided", None, "amount"),
    (BusinessDay, "closed_at", "closed_by", "Business day closed", None, None),
    (BusinessDay, "reopened_at", "reopened_by", "Business day reopened", None, None),
    (LicenseStatusChange, "changed_at", "changed_by", "License status changed", "license", None),
]


def _outside_hours(field_name: str) -> Q:
    opens, closes, days = business_hours()
    return (
        Q(**{f"_{field_name}_time__lt": opens})
        | Q(**{f"_{field_name}_time__gte": closes})
        | ~Q(**{f"_{field_name}_day__in": days})
    )


def _after_hours(queryset, field_name: str):
    return queryset.annotate(
        **{
            f"_{field_name}_time": TruncTime(field_name),
            f"_{field_name}_day": ExtractIsoWeekDay(field_name),
        }
    ).filter(_outside_hours(field_name))


def after_hours(params: ReportParams) -> Report:
    """Receipts of the range's business dates posted outside business hours, changes made
    in the range outside them (local time, from the settings),
    receipts posted into a business date after it was first closed (it was reopened for
    them), and drawers opened for an earlier business date. One query per kind."""
    receipts = Receipt.objects.filter(
        business_date__range=(params.date_from, params.date_to), is_training=False
    )
    if params.cashier:
        receipts = receipts.filter(posted_by=params.cashier)
    events = []
    for r in _after_hours(receipts, "posted_at").select_related("posted_by"):
        events.append([local(r.posted_at), "Receipt posted", str(r), name(r.posted_by), r.total])
    receipt_count = len(events)
    receipt_total = money_sum(e[4] for e in events)
    for model, when, actor, activity, reference, amount in _CHANGES:
        changes = model._default_manager.filter(
            params.in_window(when), **{f"{actor}__isnull": False}
        )
        if params.cashier:
            changes = changes.filter(**{actor: params.cashier})
        related = [actor] + ([reference] if reference else [])
        for obj in _after_hours(changes, when).select_related(*related):
            events.append(
                [
                    local(getattr(obj, when)),
                    activity,
                    str(getattr(obj, reference) if reference else obj),
                    name(getattr(obj, actor)),
                    getattr(obj, amount) if amount else None,
                ]
            )
    events.sort(key=lambda e: (e[0], e[1], e[2]))

    first_closed = (
        event_model(BusinessDay, "update")
        .objects.filter(business_date=OuterRef("business_date"), status="closed")
        .order_by()
        .values("business_date")
        .annotate(at=Min("pgh_created_at"))
        .values("at")
    )
    late = Receipt.objects.filter(
        business_date__range=(params.date_from, params.date_to), is_training=False
    ).annotate(first_closed=Subquery(first_closed))
    if params.cashier:
        late = late.filter(session__cashier=params.cashier)
    late_rows = [
        [
            r.business_date,
            local(r.first_closed),
            local(r.posted_at),
            str(r),
            name(r.posted_by),
            r.total,
        ]
        for r in late.filter(posted_at__gt=F("first_closed"))
        .select_related("posted_by")
        .order_by("business_date", "posted_at")
    ]
    earlier = CashierSession.objects.filter(
        params.in_window("opened_at"), earlier_date_approved_by__isnull=False
    )
    if params.cashier:
        earlier = earlier.filter(cashier=params.cashier)
    earlier_rows = [
        [
            local(s.opened_at),
            s.business_date,
            name(s.cashier),
            s.drawer.code,
            name(s.earlier_date_approved_by),
            s.earlier_date_reason,
        ]
        for s in earlier.select_related("cashier", "drawer", "earlier_date_approved_by").order_by(
            "opened_at"
        )
    ]
    return Report(
        "after-hours",
        "After-hours and closed-day activity",
        params,
        [
            Section("Outside business hours", AFTER_HOURS_COLUMNS, events),
            Section(
                "Receipts posted after their business day was closed",
                CLOSED_DAY_COLUMNS,
                late_rows,
                total=[
                    None,
                    None,
                    None,
                    f"{len(late_rows)} receipts",
                    "Total",
                    money_sum(r[5] for r in late_rows),
                ],
            ),
            Section(
                "Drawers opened for an earlier business date", EARLIER_DATE_COLUMNS, earlier_rows
            ),
        ],
        notes=[f"Business hours: {hours_text()} (KENT_BUSINESS_HOURS, KENT_BUSINESS_WEEKDAYS)."],
        figures={
            "after_hours_receipts": receipt_count,
            "after_hours_receipts_total": receipt_total,
            "after_hours_changes": len(events) - receipt_count,
            "closed_day_receipts": len(late_rows),
            "closed_day_total": money_sum(r[5] for r in late_rows),
            "earlier_date_sessions": len(earlier_rows),
        },
    )
