"""A business's license history dossier: everything licensing holds about one business,
read once, as a self-contained document that reads the same years later.

The dossier is a list of sections (identity, identity changes, licenses, status history,
applications, reviews, invoices, fees, penalties, payments, renewals, notices, notes,
record changes, people), each a table of plain values. It is exported as a PDF (and its
HTML print view: one template) and as an XLSX workbook, through `kent_cs.reports`.

Users are named by full name and username as they are at the export (a "People" section
lists every user the dossier names). Times are local, with their zone. The document
carries its export time, the system that produced it and the SHA-256 of the canonical
JSON of its data (`canonical_json`: every section's headers and rows; the export time and
exporter are not part of it, so an unchanged history always gives the same digest).

`dossier_for` reads in a fixed number of queries whatever the number of licenses,
invoices and events. `license_history_summary` is the short form the counter's account
inquiry shows (through the license payment target).
"""

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from kent_cs.money import ZERO
from kent_cs.reports import DATE, DATETIME, INTEGER, MONEY, TEXT, Column, Sheet, xlsx_bytes
from licensing.models import (
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
    NoticeChunk,
    Review,
)

DOSSIER_FORMAT = "kent-cs/license-dossier/1"
TEMPLATE = "licensing/dossier/dossier.html"
SUMMARY_CHANGES_SHOWN = 3

# Fields every edit touches, or that a better section tells (status changes, amounts).
_QUIET = {"id", "updated_at", "created_at", "location_key", "status_changed_at", "expires_on"}


def system_name() -> str:
    return f"{settings.CITY_NAME} Customer Services (Kent CS)"


# --- values -----------------------------------------------------------------------------


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


def display_value(column: Column, value: Any) -> str:
    """A value as the PDF prints it."""
    if value is None or value == "":
        return ""
    if column.kind == MONEY:
        return f"{value:,.2f}"
    if column.kind == DATETIME:
        return _local(value)
    if column.kind == DATE:
        return value.isoformat()
    return str(value)


def json_value(value: Any) -> Any:
    """A value as the canonical JSON holds it: money as a 2-place string, times in UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool | int):
        return value
    return str(value)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    columns: tuple[Column, ...]
    rows: list[tuple]
    total: tuple | None = None  # printed last, in bold; part of the data
    note: str = ""

    def display_rows(self) -> list[list[tuple[str, bool]]]:
        """(text, is a number) per cell, for the PDF."""
        numeric = [c.kind in (MONEY, INTEGER) for c in self.columns]
        return [
            [(display_value(c, v), n) for c, v, n in zip(self.columns, row, numeric, strict=True)]
            for row in self.rows
        ]

    def display_total(self) -> list[tuple[str, bool]] | None:
        if self.total is None:
            return None
        return [
            (display_value(c, v), c.kind in (MONEY, INTEGER))
            for c, v in zip(self.columns, self.total, strict=True)
        ]

    def as_data(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "columns": [c.header for c in self.columns],
            "rows": [[json_value(v) for v in row] for row in self.rows],
            "total": [json_value(v) for v in self.total] if self.total is not None else None,
        }


@dataclass
class Dossier:
    business: Business
    sections: list[Section]
    invoiced: Decimal
    paid: Decimal
    due: Decimal
    exported_at: datetime
    exported_by: str
    system: str = field(default_factory=system_name)

    @property
    def title(self) -> str:
        return f"License history dossier: {self.business.legal_name}"

    def canonical_json(self) -> bytes:
        """The dossier's data, canonical: sorted keys, no spaces, UTF-8."""
        data = {
            "format": DOSSIER_FORMAT,
            "business_id": self.business.pk,
            "sections": [s.as_data() for s in self.sections],
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8"
        )

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json()).hexdigest()

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)


def filename(business: Business, extension: str) -> str:
    return f"license-dossier-{business.ubi}-{business.pk}.{extension}"


# --- people -----------------------------------------------------------------------------


class People:
    """Every user the dossier names, read in one query, named as they are now."""

    def __init__(self, ids: Iterable[int | None]):
        wanted = {i for i in ids if i}
        self.users = {
            u.pk: u for u in get_user_model().objects.filter(pk__in=wanted).order_by("pk")
        }

    def name(self, user_id: int | None, *, fallback: str = "system") -> str:
        user = self.users.get(user_id) if user_id else None
        if user is None:
            return fallback
        full = user.get_full_name().strip()
        return f"{full} ({user.get_username()})" if full else user.get_username()


def _context_of(event) -> tuple[int | None, str, str]:
    """(user id, username recorded then, reason) from a pghistory event's context."""
    context = getattr(event, "pgh_context", None)
    metadata = (context.metadata if context is not None else None) or {}
    user_id = metadata.get("user")
    return (
        user_id if isinstance(user_id, int) else None,
        metadata.get("username") or (metadata.get("source") or ""),
        metadata.get("reason") or "",
    )


def _events(model_name: str, condition: Q) -> QuerySet:
    return (
        apps.get_model("licensing", model_name)
        .objects.filter(condition)
        .select_related("pgh_context")
        .order_by("pgh_obj_id", "pgh_id")
    )


def _text_of(model, name: str, value) -> str:
    if value is None or value == "":
        return ""
    model_field = model._meta.get_field(name)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return _local(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class _Change:
    at: datetime
    subject: str
    action: str
    field: str
    before: str
    after: str
    user_id: int | None
    recorded_user: str
    reason: str


def _changes(model, events: Iterable, *, subject, ignore: set[str]) -> list[_Change]:
    """One row per field changed (one "created" row per record), oldest first."""
    found: list[_Change] = []
    previous_of: dict[int, Any] = {}
    fields = [f for f in model._meta.concrete_fields if f.name not in ignore]
    for event in events:
        previous = previous_of.get(event.pgh_obj_id)
        previous_of[event.pgh_obj_id] = event
        user_id, recorded, reason = _context_of(event)
        common = {
            "at": event.pgh_created_at,
            "subject": subject(event),
            "user_id": user_id,
            "recorded_user": recorded,
            "reason": reason,
        }
        if previous is None:
            found.append(_Change(action="created", field="", before="", after="", **common))
            continue
        for model_field in fields:
            before = getattr(previous, model_field.attname, None)
            after = getattr(event, model_field.attname, None)
            if before != after:
                found.append(
                    _Change(
                        action="changed",
                        field=str(model_field.verbose_name),
                        before=_text_of(model, model_field.name, before),
                        after=_text_of(model, model_field.name, after),
                        **common,
                    )
                )
    return found


# --- the dossier ------------------------------------------------------------------------

CHANGE_COLUMNS = (
    Column("When", DATETIME),
    Column("Record", TEXT, width=28),
    Column("Action", TEXT, width=10),
    Column("Field", TEXT, width=18),
    Column("Before", TEXT, width=24),
    Column("After", TEXT, width=24),
    Column("By", TEXT, width=26),
    Column("Reason", TEXT, width=30),
)


def _change_rows(changes: list[_Change], people: People) -> list[tuple]:
    changes = sorted(changes, key=lambda c: (c.at, c.subject))
    return [
        (
            c.at,
            c.subject,
            c.action,
            c.field,
            c.before,
            c.after,
            people.name(c.user_id, fallback=c.recorded_user or "system"),
            c.reason,
        )
        for c in changes
    ]


def _status_label(value: str) -> str:
    return LicenseStatus(value).label if value else ""


def dossier_for(*, business: Business, user: Any) -> Dossier:
    """The dossier of one business (fetched by the caller, with its 404), in a fixed
    number of queries (seventeen) whatever the number of licenses and events."""
    business_id = business.pk
    contacts = list(Contact.objects.filter(business_id=business_id).order_by("pk"))
    licenses = list(
        License.objects.filter(business_id=business_id)
        .select_related("license_type", "application")
        .order_by("number")
    )
    license_numbers = {lic.pk: lic.display_number for lic in licenses}
    changes = list(
        LicenseStatusChange.objects.filter(license__business_id=business_id)
        .select_related("invoice")
        .order_by("changed_at", "pk")
    )
    applications = list(
        Application.objects.filter(business_id=business_id)
        .select_related("license_type")
        .order_by("number")
    )
    application_numbers = {a.pk: a.number for a in applications}
    reviews = list(
        Review.objects.filter(application__business_id=business_id).order_by(
            "application_id", "department", "pk"
        )
    )
    invoices = list(
        LicenseInvoice.objects.filter(business_id=business_id)
        .select_related("renewal_run")
        .order_by("year", "number")
    )
    invoice_numbers = {i.pk: i.number for i in invoices}
    lines = list(
        LicenseInvoiceLine.objects.filter(invoice__business_id=business_id).order_by(
            "invoice_id", "position"
        )
    )
    payments = list(
        LicensePayment.objects.filter(invoice__business_id=business_id).order_by(
            "recorded_at", "pk"
        )
    )
    line_events = list(_events("LicenseInvoiceLineEvent", Q(invoice__business_id=business_id)))
    notice_chunks = list(
        NoticeChunk.objects.filter(invoice_ids__overlap=list(invoice_numbers) or [0])
        .select_related("run")
        .order_by("run_id", "number")
    )
    history = {
        "business": list(_events("BusinessEvent", Q(pgh_obj_id=business_id))),
        "contact": list(_events("ContactEvent", Q(business_id=business_id))),
        "application": list(_events("ApplicationEvent", Q(business_id=business_id))),
        "review": list(_events("ReviewEvent", Q(application__business_id=business_id))),
        "license": list(_events("LicenseEvent", Q(business_id=business_id))),
        "invoice": list(_events("LicenseInvoiceEvent", Q(business_id=business_id))),
    }
    event_users = [_context_of(e)[0] for events in [*history.values(), line_events] for e in events]
    people = People(
        [
            *(c.changed_by_id for c in changes),
            *(a.submitted_by_id for a in applications),
            *(a.decided_by_id for a in applications),
            *(r.reviewer_id for r in reviews),
            *(i.created_by_id for i in invoices),
            *(i.renewal_run.started_by_id for i in invoices if i.renewal_run is not None),
            *(chunk.run.started_by_id for chunk in notice_chunks),
            *event_users,
        ]
    )
    # Who recorded a payment: the user of the invoice line's change made in the same
    # transaction (the event and the payment carry the transaction's time).
    line_change_user = {
        (e.pgh_obj_id, e.pgh_created_at): _context_of(e)[0]
        for e in line_events
        if e.pgh_label != "insert"
    }
    # Failing that (a change outside any request), the user of the status change the
    # same receipt caused: the cashier who posted it.
    receipt_user = {c.receipt: c.changed_by_id for c in changes if c.receipt}
    kinds = dict(InvoiceKind.choices)
    sources = dict(LicensePayment.Source.choices)
    departments = dict(Review.Department.choices)
    review_statuses = dict(Review.Status.choices)

    sections: list[Section] = []
    identity = [
        ("Legal name", business.legal_name),
        ("Trade name (DBA)", business.trade_name),
        ("UBI", business.ubi_full_display),
        ("Ownership", business.get_ownership_type_display()),
        ("NAICS", f"{business.naics_code} ({business.naics_sector_name})"),
        ("Location", business.location_address),
        (
            "City limits",
            "inside city limits" if business.inside_city_limits else "outside city limits",
        ),
        ("Mailing address", business.mailing_address),
        ("FTE employees", f"{business.fte_employees:.2f}"),
        ("Status", business.get_status_display()),
        ("Opened", business.opened_on.isoformat()),
        ("Closed", business.closed_on.isoformat() if business.closed_on else ""),
        ("Closed because", business.closed_reason),
        ("Record number", str(business.pk)),
    ]
    identity += [
        (
            f"Contact: {c.name}",
            ", ".join(
                p
                for p in (
                    c.get_role_display(),
                    c.phone,
                    c.email,
                    "primary" if c.is_primary else "",
                    "current" if c.is_active else "removed",
                )
                if p
            ),
        )
        for c in contacts
    ]
    sections.append(
        Section(
            "identity",
            "Business as it is now",
            (Column("Field", TEXT, width=22), Column("Value", TEXT, width=60)),
            identity,
        )
    )
    sections.append(
        Section(
            "identity_changes",
            "Business and contact changes over time",
            CHANGE_COLUMNS,
            _change_rows(
                _changes(Business, history["business"], subject=lambda e: "Business", ignore=_QUIET)
                + _changes(
                    Contact,
                    history["contact"],
                    subject=lambda e: f"Contact {e.name}",
                    ignore=_QUIET | {"business"},
                ),
                people,
            ),
        )
    )
    sections.append(
        Section(
            "licenses",
            "Licenses",
            (
                Column("License", TEXT, width=12),
                Column("Type", TEXT, width=26),
                Column("Status", TEXT),
                Column("License year", INTEGER),
                Column("Expires", DATE),
                Column("First issued", DATE),
                Column("Units", INTEGER),
                Column("Legacy number", TEXT),
                Column("Application", INTEGER),
                Column("Recorded", DATETIME),
            ),
            [
                (
                    lic.display_number,
                    lic.license_type.name,
                    lic.get_status_display(),
                    lic.license_year,
                    lic.expires_on,
                    lic.issued_on,
                    lic.units,
                    lic.legacy_number,
                    lic.application.number if lic.application else None,
                    lic.created_at,
                )
                for lic in licenses
            ],
        )
    )
    sections.append(
        Section(
            "status_history",
            "License status history",
            (
                Column("When", DATETIME),
                Column("License", TEXT, width=12),
                Column("Action", TEXT, width=14),
                Column("From", TEXT),
                Column("To", TEXT),
                Column("Year from", INTEGER),
                Column("Year to", INTEGER),
                Column("Effective", DATE),
                Column("Reason", TEXT, width=34),
                Column("Receipt", TEXT),
                Column("Invoice", TEXT),
                Column("By", TEXT, width=26),
            ),
            [
                (
                    c.changed_at,
                    license_numbers.get(c.license_id, ""),
                    c.action,
                    _status_label(c.from_status),
                    _status_label(c.to_status),
                    c.from_year,
                    c.to_year,
                    c.effective_on,
                    c.reason,
                    c.receipt,
                    c.invoice.number if c.invoice else "",
                    people.name(c.changed_by_id),
                )
                for c in changes
            ],
        )
    )
    sections.append(
        Section(
            "applications",
            "Applications",
            (
                Column("Application", INTEGER),
                Column("Type", TEXT, width=26),
                Column("Received", DATE),
                Column("Requested start", DATE),
                Column("Status", TEXT),
                Column("Submitted by", TEXT, width=26),
                Column("Submitted", DATETIME),
                Column("Decided by", TEXT, width=26),
                Column("Decided", DATETIME),
                Column("Decision reason", TEXT, width=30),
            ),
            [
                (
                    a.number,
                    a.license_type.name,
                    a.received_on,
                    a.requested_start,
                    a.get_status_display(),
                    people.name(a.submitted_by_id),
                    a.created_at,
                    people.name(a.decided_by_id, fallback="") if a.decided_by_id else "",
                    a.decided_at,
                    a.decision_reason,
                )
                for a in applications
            ],
        )
    )
    sections.append(
        Section(
            "reviews",
            "Department reviews",
            (
                Column("Application", INTEGER),
                Column("Department", TEXT),
                Column("Status", TEXT),
                Column("Reviewer", TEXT, width=26),
                Column("Decided", DATETIME),
                Column("Notes", TEXT, width=40),
            ),
            [
                (
                    application_numbers.get(r.application_id),
                    departments.get(r.department, r.department),
                    review_statuses.get(r.status, r.status),
                    people.name(r.reviewer_id, fallback="") if r.reviewer_id else "",
                    r.decided_at,
                    r.notes,
                )
                for r in reviews
            ],
        )
    )
    invoiced = sum((i.total for i in invoices if i.status != "cancelled"), ZERO)
    due = sum((i.amount_due for i in invoices if i.status == "open"), ZERO)
    sections.append(
        Section(
            "invoices",
            "Invoices",
            (
                Column("Invoice", TEXT, width=14),
                Column("Kind", TEXT),
                Column("Year", INTEGER),
                Column("License", TEXT, width=12),
                Column("Issued", DATE),
                Column("Due", DATE),
                Column("Status", TEXT),
                Column("Total", MONEY),
                Column("Amount due", MONEY),
                Column("Paid on", DATE),
                Column("Paid by receipt", TEXT),
                Column("Created by", TEXT, width=26),
                Column("Created", DATETIME),
                Column("Cancelled because", TEXT, width=30),
            ),
            [
                (
                    i.number,
                    kinds.get(i.kind, i.kind),
                    i.year,
                    license_numbers.get(i.license_id, ""),
                    i.issue_date,
                    i.due_date,
                    i.get_status_display(),
                    i.total,
                    i.amount_due if i.status == "open" else ZERO,
                    i.paid_on,
                    i.paid_receipt,
                    people.name(i.created_by_id),
                    i.created_at,
                    i.cancelled_reason,
                )
                for i in invoices
            ],
            total=("Total (not cancelled)", *[None] * 6, invoiced, due, *[None] * 5),
        )
    )
    sections.append(
        Section(
            "fees",
            "Fees and penalties by invoice line",
            (
                Column("Invoice", TEXT, width=14),
                Column("Line", INTEGER),
                Column("Kind", TEXT),
                Column("Label", TEXT, width=26),
                Column("Fee code", TEXT),
                Column("Amount", MONEY),
                Column("Amount due", MONEY),
                Column("How it was worked out", TEXT, width=40),
            ),
            [
                (
                    invoice_numbers.get(line.invoice_id, ""),
                    line.position,
                    line.kind,
                    line.label,
                    line.fee_code,
                    line.amount,
                    line.amount_due,
                    line.rule,
                )
                for line in lines
            ],
            total=(
                "Total",
                None,
                None,
                None,
                None,
                sum((line.amount for line in lines), ZERO),
                sum((line.amount_due for line in lines), ZERO),
                None,
            ),
        )
    )
    penalty_rows = []
    for event in line_events:
        if event.pgh_label != "insert" or event.kind != LicenseInvoiceLine.PENALTY:
            continue
        user_id, recorded, reason = _context_of(event)
        penalty_rows.append(
            (
                event.pgh_created_at,
                invoice_numbers.get(event.invoice_id, ""),
                event.label,
                event.amount,
                event.rule,
                people.name(user_id, fallback=recorded or "system"),
                reason,
            )
        )
    penalty_rows.sort(key=lambda row: (row[0], row[1]))
    sections.append(
        Section(
            "penalties",
            "Late penalties assessed",
            (
                Column("When", DATETIME),
                Column("Invoice", TEXT, width=14),
                Column("Penalty", TEXT, width=26),
                Column("Amount", MONEY),
                Column("Rule", TEXT, width=36),
                Column("By", TEXT, width=26),
                Column("Reason", TEXT, width=30),
            ),
            penalty_rows,
            total=(None, "Total", None, sum((r[3] for r in penalty_rows), ZERO), None, None, None),
        )
    )
    paid = sum((p.amount for p in payments), ZERO)
    sections.append(
        Section(
            "payments",
            "Payments (receipts that paid the invoices; undone payments are negative)",
            (
                Column("Recorded", DATETIME),
                Column("Invoice", TEXT, width=14),
                Column("Fee code", TEXT),
                Column("Amount", MONEY),
                Column("Source", TEXT),
                Column("Receipt", TEXT),
                Column("Receipt line", INTEGER),
                Column("Business date", DATE),
                Column("Recorded by", TEXT, width=26),
            ),
            [
                (
                    p.recorded_at,
                    invoice_numbers.get(p.invoice_id, ""),
                    p.fee_code,
                    p.amount,
                    sources.get(p.source, p.source),
                    p.receipt_number,
                    p.receipt_line_no,
                    p.business_date,
                    people.name(
                        line_change_user.get((p.line_id, p.recorded_at))
                        or receipt_user.get(p.receipt_number)
                    ),
                )
                for p in payments
            ],
            total=(None, "Net paid", None, paid, None, None, None, None, None),
        )
    )
    renewal_invoices = [i for i in invoices if i.kind == "renewal"]
    sections.append(
        Section(
            "renewals",
            "Renewals",
            (
                Column("Invoice", TEXT, width=14),
                Column("License", TEXT, width=12),
                Column("Year", INTEGER),
                Column("Status", TEXT),
                Column("Renewal run", INTEGER),
                Column("Run started by", TEXT, width=26),
                Column("Run started", DATETIME),
                Column("Invoiced by", TEXT, width=26),
            ),
            [
                (
                    i.number,
                    license_numbers.get(i.license_id, ""),
                    i.year,
                    i.get_status_display(),
                    i.renewal_run_id,
                    people.name(i.renewal_run.started_by_id) if i.renewal_run else "",
                    (i.renewal_run.started_at or i.renewal_run.created_at)
                    if i.renewal_run
                    else None,
                    people.name(i.created_by_id),
                )
                for i in renewal_invoices
            ],
        )
    )
    notice_rows = []
    for chunk in notice_chunks:
        for invoice_id in chunk.invoice_ids:
            if invoice_id in invoice_numbers:
                notice_rows.append(
                    (
                        chunk.run.created_at,
                        invoice_numbers[invoice_id],
                        chunk.run.year,
                        chunk.run_id,
                        people.name(chunk.run.started_by_id),
                        chunk.finished_at,
                    )
                )
    sections.append(
        Section(
            "notices",
            "Renewal notices printed",
            (
                Column("Started", DATETIME),
                Column("Invoice", TEXT, width=14),
                Column("Year", INTEGER),
                Column("Notice run", INTEGER),
                Column("Started by", TEXT, width=26),
                Column("Printed", DATETIME),
            ),
            notice_rows,
        )
    )
    notes: list[tuple] = []
    for a in applications:
        if a.notes:
            notes.append(
                (a.created_at, f"Application {a.number}", a.notes, people.name(a.submitted_by_id))
            )
        if a.decision_reason and a.decided_at:
            notes.append(
                (
                    a.decided_at,
                    f"Application {a.number} decision",
                    a.decision_reason,
                    people.name(a.decided_by_id),
                )
            )
    for r in reviews:
        if r.notes:
            notes.append(
                (
                    r.decided_at,
                    f"{departments.get(r.department, r.department)} review, "
                    f"application {application_numbers.get(r.application_id)}",
                    r.notes,
                    people.name(r.reviewer_id),
                )
            )
    for c in changes:
        notes.append(
            (
                c.changed_at,
                f"License {license_numbers.get(c.license_id, '')} {c.action}",
                c.reason,
                people.name(c.changed_by_id),
            )
        )
    notes.sort(key=lambda row: (row[0] or business.created_at, row[1]))
    sections.append(
        Section(
            "notes",
            "Notes and reasons",
            (
                Column("When", DATETIME),
                Column("On", TEXT, width=30),
                Column("Note", TEXT, width=50),
                Column("By", TEXT, width=26),
            ),
            notes,
        )
    )
    record_changes = (
        _changes(
            Application,
            history["application"],
            subject=lambda e: f"Application {e.number}",
            ignore=_QUIET | {"business"},
        )
        + _changes(
            Review,
            history["review"],
            subject=lambda e: (
                f"{departments.get(e.department, e.department)} review, "
                f"application {application_numbers.get(e.application_id)}"
            ),
            ignore=_QUIET | {"application"},
        )
        + _changes(
            License,
            history["license"],
            subject=lambda e: f"License {license_numbers.get(e.pgh_obj_id, e.number)}",
            ignore=_QUIET | {"business"},
        )
        + _changes(
            LicenseInvoice,
            history["invoice"],
            subject=lambda e: f"Invoice {e.number}",
            ignore=_QUIET | {"business", "license", "schedule", "renewal_run"},
        )
    )
    sections.append(
        Section(
            "record_changes",
            "Every recorded change to applications, reviews, licenses and invoices",
            CHANGE_COLUMNS,
            _change_rows(record_changes, people),
        )
    )
    sections.append(
        Section(
            "people",
            "People named in this dossier, as of the export",
            (
                Column("User number", INTEGER),
                Column("Username", TEXT, width=18),
                Column("Full name", TEXT, width=26),
                Column("Active account", TEXT),
            ),
            [
                (u.pk, u.get_username(), u.get_full_name(), "yes" if u.is_active else "no")
                for u in people.users.values()
            ],
        )
    )
    return Dossier(
        business=business,
        sections=sections,
        invoiced=invoiced,
        paid=paid,
        due=due,
        exported_at=timezone.now(),
        exported_by=_user_name(user),
    )


def _user_name(user: Any) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "system"
    full = user.get_full_name().strip()
    return f"{full} ({user.get_username()})" if full else user.get_username()


# --- files ------------------------------------------------------------------------------


def header_lines(dossier: Dossier) -> list[str]:
    business = dossier.business
    return [
        dossier.title,
        f"UBI {business.ubi_full_display} · record {business.pk}",
        f"Exported {_local(dossier.exported_at)} by {dossier.exported_by}",
        f"System: {dossier.system}",
        f"SHA-256 of the data (canonical JSON, {DOSSIER_FORMAT}): {dossier.sha256}",
    ]


def dossier_xlsx(dossier: Dossier) -> bytes:
    """The workbook: a cover sheet with the export's facts and totals, then one sheet per
    section (money, dates and counts typed; text escaped against formulas)."""
    cover = Sheet(
        "Dossier",
        (Column("Item", TEXT, width=34), Column("Value", TEXT, width=80)),
        [
            ("Business", dossier.business.legal_name),
            ("Exported at", _local(dossier.exported_at)),
            ("Exported by", dossier.exported_by),
            ("System", dossier.system),
            ("Data format", DOSSIER_FORMAT),
            ("SHA-256 of the data", dossier.sha256),
            ("Invoiced (not cancelled)", f"{dossier.invoiced:.2f}"),
            ("Paid (net)", f"{dossier.paid:.2f}"),
            ("Still due", f"{dossier.due:.2f}"),
            *((s.title, f"{len(s.rows)} rows") for s in dossier.sections),
        ],
        title_rows=header_lines(dossier),
    )
    sheets = [cover]
    for section in dossier.sections:
        sheets.append(
            Sheet(
                _SHEET_NAMES.get(section.key, section.title),
                section.columns,
                section.rows,
                title_rows=(section.title,),
                total=section.total,
            )
        )
    return xlsx_bytes(sheets, title=dossier.title)


_SHEET_NAMES = {
    "identity": "Business",
    "identity_changes": "Business changes",
    "licenses": "Licenses",
    "status_history": "Status history",
    "applications": "Applications",
    "reviews": "Reviews",
    "invoices": "Invoices",
    "fees": "Fees",
    "penalties": "Penalties",
    "payments": "Payments",
    "renewals": "Renewals",
    "notices": "Notices",
    "notes": "Notes",
    "record_changes": "Record changes",
    "people": "People",
}


def document_context(dossier: Dossier) -> dict[str, Any]:
    return {
        "document_title": dossier.title,
        "page_class": "landscape",  # the invoice and change tables are wide
        "dossier": dossier,
        "dossier_format": DOSSIER_FORMAT,
        # The PDF's subject: the digest, readable by any PDF tool without the pages.
        "document_description": f"SHA-256 {dossier.sha256} ({DOSSIER_FORMAT})",
        "header_lines": header_lines(dossier),
        "sections": [
            {
                "section": s,
                "headers": [(c.header, c.kind in (MONEY, INTEGER)) for c in s.columns],
                "rows": s.display_rows(),
                "total": s.display_total(),
            }
            for s in dossier.sections
        ],
    }


# --- the counter's summary --------------------------------------------------------------


@dataclass(frozen=True)
class LicenseSummary:
    license: License
    changes: list[tuple[datetime, str, str, str]]  # (when, what, by, reason), newest first


def license_history_summary(*, business_id: int) -> list[LicenseSummary]:
    """Each license of the business with its last status changes: two queries."""
    licenses = list(
        License.objects.filter(business_id=business_id)
        .select_related("license_type")
        .order_by("-number")
    )
    recent: dict[int, list[tuple[datetime, str, str, str]]] = defaultdict(list)
    changes = (
        LicenseStatusChange.objects.filter(license__business_id=business_id)
        .select_related("changed_by")
        .order_by("-changed_at", "-pk")
    )
    for change in changes:
        shown = recent[change.license_id]
        if len(shown) >= SUMMARY_CHANGES_SHOWN:
            continue
        what = change.action
        if change.from_status and change.from_status != change.to_status:
            what += f": {_status_label(change.from_status)} → {_status_label(change.to_status)}"
        elif change.from_year and change.from_year != change.to_year:
            what += f": license year {change.from_year} → {change.to_year}"
        else:
            what += f": {_status_label(change.to_status)}"
        shown.append((change.changed_at, what, _user_name(change.changed_by), change.reason))
    return [LicenseSummary(license=lic, changes=recent[lic.pk]) for lic in licenses]


def section_keys() -> Sequence[str]:
    return tuple(_SHEET_NAMES)
