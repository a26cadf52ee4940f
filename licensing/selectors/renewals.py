# ruff: noqa: RUF001, RUF003 - en dashes and × are what users read (25–49 FTE)
"""Renewal reads: licenses due for a year, renewals outstanding and their summary,
delinquency, renewal runs, and the renewal notice's data."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import (
    Count,
    DateField,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.shortcuts import get_object_or_404

from kent_cs.money import ZERO
from licensing.models import (
    RENEWAL_DUE_STATUSES,
    InvoiceKind,
    License,
    LicenseInvoice,
    LicenseInvoiceLine,
    RenewalRun,
)
from licensing.penalties import penalties_due, penalty_schedule_for_year


def _days_late(as_of: date) -> Func:
    # date - date is a whole number of days in PostgreSQL; Django's own subtraction of two
    # dates would turn it into an interval.
    return Func(
        Value(as_of, output_field=DateField()),
        F("due_date"),
        template="(%(expressions)s)",
        arg_joiner=" - ",
        output_field=IntegerField(),
    )


def renewals_outstanding(*, year: int) -> QuerySet[LicenseInvoice]:
    """Unpaid renewal invoices for `year`, with business and license, by business name."""
    return (
        LicenseInvoice.objects.filter(
            kind=InvoiceKind.RENEWAL, year=year, status=LicenseInvoice.Status.OPEN
        )
        .select_related("business", "license__license_type")
        .order_by("business__legal_name", "number")
    )


@dataclass(frozen=True)
class RenewalSummary:
    year: int
    licenses_due: int  # invoiced (live invoices) + still due without one
    invoiced: int
    not_invoiced: int
    paid: int
    outstanding: int
    amount_invoiced: Decimal
    amount_outstanding: Decimal

    @property
    def percent_paid(self) -> int:
        return int(self.paid * 100 / self.invoiced) if self.invoiced else 0


def licenses_due_for_renewal(year: int) -> QuerySet[License]:
    return License.objects.filter(
        license_year=year - 1,
        status__in=RENEWAL_DUE_STATUSES,
        license_type__is_renewable=True,
    )


def live_invoice_for_year(year: int) -> Exists:
    return Exists(
        LicenseInvoice.objects.filter(license=OuterRef("pk"), year=year).exclude(
            status=LicenseInvoice.Status.CANCELLED
        )
    )


def renewals_pending_count(year: int) -> int:
    return licenses_due_for_renewal(year).exclude(live_invoice_for_year(year)).count()


def renewals_summary(*, year: int) -> RenewalSummary:
    invoices = LicenseInvoice.objects.filter(kind=InvoiceKind.RENEWAL, year=year).exclude(
        status=LicenseInvoice.Status.CANCELLED
    )
    totals = invoices.aggregate(
        invoiced=Count("pk"),
        paid=Count("pk", filter=Q(status=LicenseInvoice.Status.PAID)),
        outstanding=Count("pk", filter=Q(status=LicenseInvoice.Status.OPEN)),
        amount=Sum("total"),
        due=Sum("amount_due"),
    )
    not_invoiced = renewals_pending_count(year)
    return RenewalSummary(
        year=year,
        licenses_due=totals["invoiced"] + not_invoiced,
        invoiced=totals["invoiced"],
        not_invoiced=not_invoiced,
        paid=totals["paid"],
        outstanding=totals["outstanding"],
        amount_invoiced=totals["amount"] or ZERO,
        amount_outstanding=totals["due"] or ZERO,
    )


def delinquency(*, as_of: date) -> QuerySet[LicenseInvoice]:
    """Renewal invoices unpaid past their due date, most days late first, annotated with
    `days_late` and `penalties` (the penalty amount on the invoice)."""
    return (
        LicenseInvoice.objects.filter(
            kind=InvoiceKind.RENEWAL, status=LicenseInvoice.Status.OPEN, due_date__lt=as_of
        )
        .annotate(
            days_late=_days_late(as_of),
            penalties=Sum("lines__amount", filter=Q(lines__kind=LicenseInvoiceLine.PENALTY)),
        )
        .select_related("business", "license__license_type")
        .order_by("due_date", "business__legal_name", "number")
    )


DELINQUENCY_BUCKETS = ((1, 30), (31, 60), (61, 90), (91, None))


def delinquency_summary(*, as_of: date) -> list[dict[str, Any]]:
    """Counts and amounts due by days late: 1-30, 31-60, 61-90, over 90."""
    invoices = LicenseInvoice.objects.filter(
        kind=InvoiceKind.RENEWAL, status=LicenseInvoice.Status.OPEN, due_date__lt=as_of
    )
    rows = []
    for low, high in DELINQUENCY_BUCKETS:
        bucket = invoices.filter(due_date__lte=date.fromordinal(as_of.toordinal() - low))
        if high is not None:
            bucket = bucket.filter(due_date__gte=date.fromordinal(as_of.toordinal() - high))
        totals = bucket.aggregate(count=Count("pk"), due=Sum("amount_due"))
        rows.append(
            {
                "label": f"{low}–{high} days" if high else f"over {low - 1} days",
                "count": totals["count"],
                "amount_due": totals["due"] or ZERO,
            }
        )
    return rows


def renewal_notice_context(invoice: LicenseInvoice) -> dict[str, Any]:
    """Everything a renewal notice (PDF or print view) shows, for one invoice: who it goes
    to, the lines with their rules, what is due by when, and what paying late adds."""
    invoice = LicenseInvoice.objects.select_related(
        "business", "license__license_type", "schedule"
    ).get(pk=invoice.pk)
    business, license = invoice.business, invoice.license
    lines = list(invoice.lines.order_by("position"))
    schedule = penalty_schedule_for_year(invoice.year)
    base = sum((line.amount for line in lines if line.penalty_base), ZERO)
    charged = {line.penalty_rule_id: line.amount for line in lines if line.penalty_rule_id}
    projected = []
    running = dict(charged)
    for rule in schedule.rules:
        if rule.id in running:
            continue
        on = date.fromordinal(
            invoice.due_date.toordinal() + max(rule.days_late, schedule.grace_days + 1)
        )
        for charge in penalties_due(
            schedule, due_date=invoice.due_date, as_of=on, base=base, charged=running
        ):
            running[charge.rule_id] = charge.amount
            projected.append({"from": on, "label": rule.label, "amount": charge.amount})
    contact = business.contacts.filter(is_active=True).order_by("-is_primary", "pk").first()
    mailing = [business.legal_name]
    if business.mailing_line1:
        mailing += [business.mailing_line1, business.mailing_line2]
        mailing.append(f"{business.mailing_city} {business.mailing_state} {business.mailing_zip}")
    else:
        mailing += [business.location_line1, business.location_line2]
        mailing.append(
            f"{business.location_city} {business.location_state} {business.location_zip}"
        )
    return {
        "city_name": settings.CITY_NAME,
        "invoice": invoice,
        "business": business,
        "license": license,
        "license_type": license.license_type,
        "contact": contact,
        "attention": contact.name if contact else "",
        "mailing_lines": [line for line in mailing if line and line.strip()],
        "lines": lines,
        "total": invoice.total,
        "paid": invoice.total - invoice.amount_due,
        "amount_due": invoice.amount_due,
        "due_date": invoice.due_date,
        "lapse_date": schedule.lapse_date(invoice.year),
        "expires_on": date(invoice.year - 1, 12, 31),
        "new_expiry": date(invoice.year, 12, 31),
        "penalty_schedule": schedule.name,
        "projected_penalties": projected,
        "pay_reference": invoice.number,
    }


def renewal_runs(*, year: int | None = None) -> QuerySet[RenewalRun]:
    runs = RenewalRun.objects.select_related("started_by", "job")
    if year is not None:
        runs = runs.filter(year=year)
    return runs.order_by("-created_at", "-pk")


def renewal_run_get(*, pk: int) -> RenewalRun:
    return get_object_or_404(RenewalRun.objects.select_related("started_by", "job"), pk=pk)


def delinquent_invoices(*, as_of: date) -> QuerySet[LicenseInvoice]:
    """Renewal invoices unpaid past their due date, most days late first, with `days_late`
    and `penalties`. As selectors.delinquency, but the days late are computed as PostgreSQL
    `date - date` (a whole number): Django's date subtraction there yields an interval,
    which the integer annotation cannot read."""
    days_late = Func(
        Value(as_of, output_field=DateField()),
        F("due_date"),
        template="(%(expressions)s)",
        arg_joiner=" - ",
        output_field=IntegerField(),
    )
    return (
        LicenseInvoice.objects.filter(
            kind=InvoiceKind.RENEWAL, status=LicenseInvoice.Status.OPEN, due_date__lt=as_of
        )
        .annotate(
            days_late=days_late,
            penalties=Sum("lines__amount", filter=Q(lines__kind=LicenseInvoiceLine.PENALTY)),
        )
        .select_related("business", "license__license_type")
        .order_by("due_date", "business__legal_name", "number")
    )
