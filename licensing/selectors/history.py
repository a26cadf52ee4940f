# ruff: noqa: RUF003 - en dashes and × are what users read (25–49 FTE)
"""A business's merged history timeline: its own changes, its contacts', licenses', status
changes', applications' and invoices', read from the pghistory events."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db.models import (
    Q,
    QuerySet,
)

from kent_cs.money import ZERO
from licensing.models import (
    Application,
    Business,
    Contact,
    InvoiceKind,
    License,
    LicenseInvoice,
    LicensePayment,
    LicenseStatus,
    LicenseStatusChange,
    Review,
    license_display_number,
)


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
