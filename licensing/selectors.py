# ruff: noqa: RUF001, RUF003 - en dashes and × are what users read (25–49 FTE)
"""Licensing reads: lookups that authorize, duplicate detection, renewals outstanding,
delinquency, the renewal notice's data and a business's merged history timeline."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.postgres.search import TrigramSimilarity
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
from django.db.models.functions import Greatest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from kent_cs.money import ZERO
from licensing.models import (
    RENEWAL_DUE_STATUSES,
    Application,
    Business,
    Contact,
    InvoiceKind,
    License,
    LicenseInvoice,
    LicenseInvoiceLine,
    LicensePayment,
    LicenseStatus,
    LicenseStatusChange,
    Review,
    license_display_number,
)
from licensing.penalties import penalties_due, penalty_schedule_for_year
from licensing.validators import address_key, normalise_ubi

SIMILAR_NAME = 0.45  # pg_trgm similarity above which two names at one address look alike


# --- businesses -----------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateMatch:
    business: Business
    reason: str
    blocking: bool  # True: refused outright (an open business with the same UBI)


def business_duplicates(
    *,
    ubi: str,
    legal_name: str,
    trade_name: str = "",
    location_line1: str = "",
    location_zip: str = "",
    exclude_pk: int | None = None,
) -> list[DuplicateMatch]:
    """Businesses a new (or edited) one may duplicate: the same UBI (open: refused; closed:
    a warning, reopen it instead), or a similar name at the same address."""
    matches: list[DuplicateMatch] = []
    others = Business.objects.all()
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    try:
        ubi = normalise_ubi(ubi)
    except Exception:
        ubi = ""
    seen: set[int] = set()
    if ubi:
        for business in others.filter(ubi=ubi).order_by("status", "-opened_on"):
            blocking = business.status == Business.Status.OPEN
            reason = (
                "an open business has the same UBI"
                if blocking
                else f"a business closed on {business.closed_on:%b %-d, %Y} had this UBI; "
                "reopen it instead?"
            )
            matches.append(DuplicateMatch(business, reason, blocking))
            seen.add(business.pk)
    key = address_key(location_line1, location_zip)
    names = [n for n in (legal_name, trade_name) if n and n.strip()]
    if key and names:
        similarity = Greatest(
            *[
                TrigramSimilarity(column, name)
                for name in names
                for column in ("legal_name", "trade_name")
            ],
            Value(0.0),
        )
        similar = (
            others.filter(location_key=key)
            .exclude(pk__in=seen)
            .annotate(similarity=similarity)
            .filter(similarity__gte=SIMILAR_NAME)
            .order_by("-similarity")[:10]
        )
        for business in similar:
            matches.append(
                DuplicateMatch(
                    business,
                    f"a similar name at the same address ({business.get_status_display().lower()})",
                    False,
                )
            )
    return matches


def business_search(*, query: str = "", include_closed: bool = False) -> QuerySet[Business]:
    """Businesses by name (similar), UBI or license number, best match first."""
    businesses = Business.objects.all()
    if not include_closed:
        businesses = businesses.filter(status=Business.Status.OPEN)
    query = query.strip()
    if not query:
        return businesses.order_by("legal_name", "pk")
    digits = "".join(ch for ch in query if ch.isdigit())
    exact = Q()
    if len(digits) == 9 and not any(ch.isalpha() for ch in query):
        exact |= Q(ubi=digits)
    upper = query.upper()
    if upper.startswith("BL") and upper[2:].strip().isdigit():
        exact |= Q(licenses__number=int(upper[2:]))
    text = Q(legal_name__icontains=query) | Q(trade_name__icontains=query)
    similarity = Greatest(
        TrigramSimilarity("legal_name", query), TrigramSimilarity("trade_name", query)
    )
    return (
        businesses.filter(exact | text | Q(legal_name__trigram_similar=query))
        .annotate(similarity=similarity)
        .order_by("-similarity", "legal_name", "pk")
        .distinct()
    )


def business_get(*, pk: int) -> Business:
    return get_object_or_404(Business, pk=pk)


def business_detail(*, pk: int) -> dict[str, Any]:
    """A business page's data in a constant number of queries."""
    business = business_get(pk=pk)
    return {
        "business": business,
        "contacts": list(business.contacts.filter(is_active=True)),
        "licenses": list(business.licenses.select_related("license_type").order_by("-number")),
        "applications": list(
            business.applications.select_related("license_type").prefetch_related("reviews")
        ),
        "open_invoices": list(
            business.invoices.filter(status=LicenseInvoice.Status.OPEN).select_related("license")
        ),
    }


# --- licenses, applications, invoices --------------------------------------------------


def license_get(*, pk: int) -> License:
    return get_object_or_404(License.objects.select_related("business", "license_type"), pk=pk)


def license_status_history(*, license: License) -> QuerySet[LicenseStatusChange]:
    return license.status_changes.select_related("invoice", "changed_by").order_by(
        "changed_at", "pk"
    )


def application_get(*, pk: int) -> Application:
    return get_object_or_404(
        Application.objects.select_related("business", "license_type").prefetch_related(
            "reviews__reviewer"
        ),
        pk=pk,
    )


def applications_in_review(*, department: str | None = None) -> QuerySet[Application]:
    """Open applications, oldest first; with `department`, those awaiting its review."""
    applications = Application.objects.filter(status=Application.Status.IN_REVIEW)
    if department:
        applications = applications.filter(
            reviews__department=department, reviews__status=Review.Status.PENDING
        )
    return (
        applications.select_related("business", "license_type")
        .prefetch_related("reviews")
        .order_by("received_on", "number")
    )


def invoice_get(*, pk: int) -> LicenseInvoice:
    return get_object_or_404(
        LicenseInvoice.objects.select_related("business", "license__license_type", "schedule"),
        pk=pk,
    )


def invoice_lines(*, invoice: LicenseInvoice) -> list[LicenseInvoiceLine]:
    return list(invoice.lines.order_by("position"))


def invoice_payments(*, invoice: LicenseInvoice) -> list[LicensePayment]:
    return list(invoice.payments.select_related("line").order_by("recorded_at", "pk"))


# --- renewals and delinquency ---------------------------------------------------------


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


def license_counts_by_status(*, year: int | None = None) -> dict[str, int]:
    licenses = License.objects.all()
    if year is not None:
        licenses = licenses.filter(license_year=year)
    counts = dict(licenses.values_list("status").annotate(n=Count("pk")))
    return {status: counts.get(status, 0) for status in LicenseStatus.values}


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


# --- history --------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # business, contact, application, review, license, invoice, payment, status
    subject: str  # "License BL000123", "Invoice L2027-00001", ...
    action: str  # "created", "changed", "issued", "paid $213.93", ...
    changes: tuple[tuple[str, str, str], ...] = ()  # (field, before, after)
    user: str = ""
    reason: str = ""
    detail: str = ""
    object_id: int | None = None


# Fields that change with every edit or are shown by a better entry of their own.
_QUIET_FIELDS = {
    "id",
    "updated_at",
    "created_at",
    "location_key",
    "status_changed_at",
    "amount_due",
    "expires_on",
}
# License status and year changes are told by LicenseStatusChange rows (with the reason).
_LICENSE_STATUS_FIELDS = {"status", "license_year", "issued_on"}
_INVOICE_QUIET = {"total", "license_updated", "prior_status", "prior_year", "paid_receipt"}


def _value_text(model, name: str, value) -> str:
    if value is None or value == "":
        return "—"
    try:
        model_field = model._meta.get_field(name)
    except Exception:
        return str(value)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date) and not isinstance(value, datetime):
        return f"{value:%b %-d, %Y}"
    return str(value)


def _field_label(model, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name)
    except Exception:
        return name.replace("_", " ")


def _diffs(model, event, previous, ignore: set[str]) -> tuple[tuple[str, str, str], ...]:
    changes = []
    for model_field in model._meta.concrete_fields:
        name = model_field.attname
        if name in ignore or model_field.name in ignore:
            continue
        before, after = getattr(previous, name, None), getattr(event, name, None)
        if before != after:
            label_name = model_field.name
            changes.append(
                (
                    _field_label(model, label_name),
                    _value_text(model, label_name, before),
                    _value_text(model, label_name, after),
                )
            )
    return tuple(changes)


def _context_of(event) -> tuple[str, str]:
    context = getattr(event, "pgh_context", None)
    metadata = (context.metadata if context is not None else None) or {}
    user = metadata.get("username") or ("system" if metadata.get("source") else "")
    return user, metadata.get("reason") or ""


def _event_entries(
    model,
    events: Iterable,
    *,
    kind: str,
    subject,
    ignore: set[str],
    created_detail=None,
) -> list[TimelineEntry]:
    entries = []
    last_by_object: dict[int, Any] = {}
    for event in events:  # ordered by object, then pgh_id
        previous = last_by_object.get(event.pgh_obj_id)
        last_by_object[event.pgh_obj_id] = event
        user, reason = _context_of(event)
        changes: tuple[tuple[str, str, str], ...] = ()
        if previous is None:
            action = "created"
            detail = created_detail(event) if created_detail else ""
        else:
            changes = _diffs(model, event, previous, ignore)
            if not changes:
                continue
            action, detail = "changed", ""
        entries.append(
            TimelineEntry(
                at=event.pgh_created_at,
                kind=kind,
                subject=subject(event),
                action=action,
                changes=changes,
                user=user,
                reason=reason,
                detail=detail,
                object_id=event.pgh_obj_id,
            )
        )
    return entries


def _events(model_name: str, condition: Q) -> QuerySet:
    event_model = apps.get_model("licensing", model_name)
    return (
        event_model.objects.filter(condition)
        .select_related("pgh_context")
        .order_by("pgh_obj_id", "pgh_id")
    )


def business_history(business: Business, *, newest_first: bool = True) -> list[TimelineEntry]:
    """One readable timeline of a business and everything under it: its details and
    contacts, applications and reviews, licenses (every status change with actor and
    reason), invoices, penalties and payments. From the append-only history tables."""
    pk = business.pk
    applications = dict(Application.objects.filter(business_id=pk).values_list("pk", "number"))
    invoices = dict(LicenseInvoice.objects.filter(business_id=pk).values_list("pk", "number"))
    entries: list[TimelineEntry] = []
    entries += _event_entries(
        Business,
        _events("BusinessEvent", Q(pgh_obj_id=pk)),
        kind="business",
        subject=lambda e: "Business",
        ignore=_QUIET_FIELDS,
        created_detail=lambda e: f"{e.legal_name}, UBI {e.ubi}, opened {e.opened_on:%b %-d, %Y}",
    )
    entries += _event_entries(
        Contact,
        _events("ContactEvent", Q(business_id=pk)),
        kind="contact",
        subject=lambda e: f"Contact {e.name}",
        ignore=_QUIET_FIELDS | {"business"},
        created_detail=lambda e: ", ".join(p for p in (e.role, e.phone, e.email) if p),
    )
    entries += _event_entries(
        Application,
        _events("ApplicationEvent", Q(business_id=pk)),
        kind="application",
        subject=lambda e: f"Application {e.number}",
        ignore=_QUIET_FIELDS | {"business", "submitted_by", "decided_by", "decided_at"},
    )
    review_names = dict(Review.Department.choices)
    entries += _event_entries(
        Review,
        _events("ReviewEvent", Q(application_id__in=list(applications))),
        kind="review",
        subject=lambda e: (
            f"{review_names.get(e.department, e.department)} review, "
            f"application {applications.get(e.application_id, '')}"
        ),
        ignore=_QUIET_FIELDS | {"application", "reviewer", "decided_at"},
    )
    entries += _event_entries(
        License,
        _events("LicenseEvent", Q(business_id=pk)),
        kind="license",
        subject=lambda e: f"License {license_display_number(e.number)}",
        ignore=_QUIET_FIELDS | _LICENSE_STATUS_FIELDS | {"business"},
        created_detail=lambda e: f"{LicenseStatus(e.status).label}, license year {e.license_year}",
    )
    entries += _event_entries(
        LicenseInvoice,
        _events("LicenseInvoiceEvent", Q(business_id=pk)),
        kind="invoice",
        subject=lambda e: f"Invoice {e.number}",
        ignore=_QUIET_FIELDS | _INVOICE_QUIET | {"business", "license", "schedule", "renewal_run"},
        created_detail=lambda e: (
            f"{dict(InvoiceKind.choices).get(e.kind, e.kind)} {e.year}, total ${e.total:,.2f}"
        ),
    )
    # Invoice lines: penalties added later are worth a line each; payments have their own.
    line_events = _events(
        "LicenseInvoiceLineEvent", Q(invoice_id__in=list(invoices), kind="penalty")
    )
    for event in line_events:
        if event.pgh_label != "insert":
            continue
        user, reason = _context_of(event)
        entries.append(
            TimelineEntry(
                at=event.pgh_created_at,
                kind="invoice",
                subject=f"Invoice {invoices.get(event.invoice_id, '')}",
                action=f"late penalty ${event.amount:,.2f} added",
                user=user or "system",
                reason=reason,
                detail=event.rule,
                object_id=event.invoice_id,
            )
        )
    for change in LicenseStatusChange.objects.filter(license__business_id=pk).select_related(
        "license", "changed_by", "invoice"
    ):
        if change.from_status == change.to_status:
            what = f"{change.action}: license year {change.from_year} → {change.to_year}"
        elif change.from_status:
            what = (
                f"{change.action}: {LicenseStatus(change.from_status).label} → "
                f"{LicenseStatus(change.to_status).label}"
            )
        else:
            what = f"{change.action}: {LicenseStatus(change.to_status).label}"
        entries.append(
            TimelineEntry(
                at=change.changed_at,
                kind="status",
                subject=f"License {change.license.display_number}",
                action=what,
                user=change.changed_by.get_username() if change.changed_by else "system",
                reason=change.reason,
                detail=f"effective {change.effective_on:%b %-d, %Y}"
                + (f", receipt {change.receipt}" if change.receipt else ""),
                object_id=change.license_id,
            )
        )
    payments: dict[tuple, list[LicensePayment]] = defaultdict(list)
    for payment in LicensePayment.objects.filter(invoice_id__in=list(invoices)).order_by("pk"):
        key = (payment.invoice_id, payment.receipt_number, payment.amount > 0, payment.source)
        payments[key].append(payment)
    for (invoice_id, receipt, positive, source), rows in payments.items():
        total = sum((p.amount for p in rows), ZERO)
        parts: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for p in rows:
            parts[p.fee_code] += p.amount
        on = receipt or dict(LicensePayment.Source.choices).get(source, source)
        entries.append(
            TimelineEntry(
                at=rows[-1].recorded_at,
                kind="payment",
                subject=f"Invoice {invoices.get(invoice_id, '')}",
                action=f"paid ${total:,.2f}" if positive else f"payment undone ${-total:,.2f}",
                detail=f"{on}: " + ", ".join(f"{c} ${a:,.2f}" for c, a in parts.items()),
                object_id=invoice_id,
            )
        )
    entries.sort(key=lambda e: (e.at, e.kind), reverse=newest_first)
    return entries


__all__ = [
    "DuplicateMatch",
    "RenewalSummary",
    "TimelineEntry",
    "application_get",
    "applications_in_review",
    "business_detail",
    "business_duplicates",
    "business_get",
    "business_history",
    "business_search",
    "dashboard_cards",
    "delinquency",
    "delinquency_summary",
    "invoice_get",
    "invoice_lines",
    "invoice_payments",
    "license_counts_by_status",
    "license_get",
    "license_status_history",
    "licenses_due_for_renewal",
    "live_invoice_for_year",
    "renewal_notice_context",
    "renewals_outstanding",
    "renewals_pending_count",
    "renewals_summary",
]


def dashboard_cards(user) -> list[dict]:
    """Home page cards for licensing staff: this year's renewals and the review queue."""
    if not user.has_perm("licensing.view_license"):
        return []
    year = timezone.localdate().year
    summary = renewals_summary(year=year)
    in_review = Application.objects.filter(status=Application.Status.IN_REVIEW)
    reviews = Review.objects.filter(
        application__status=Application.Status.IN_REVIEW, status=Review.Status.PENDING
    ).count()
    return [
        {
            "title": f"{year} renewals outstanding",
            "value": f"{summary.outstanding:,}",
            "note": (
                f"${summary.amount_outstanding:,.2f} due; {summary.percent_paid}% of "
                f"{summary.invoiced:,} paid"
            ),
            "url": f"{reverse('licensing:renewals-outstanding')}?year={year}",
            "link_text": "Renewals outstanding",
        },
        {
            "title": "Applications in review",
            "value": f"{in_review.count():,}",
            "note": f"{reviews:,} department reviews pending",
            "url": reverse("licensing:application-list"),
            "link_text": "Applications in review",
        },
    ]
