"""Renewal reports: renewals outstanding by license type and delinquency by days late,
with their tables and the sheets of the invoices behind them."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Case, Count, F, IntegerField, Q, Sum, Value, When

from kent_cs.dbrouters import reports_db
from kent_cs.money import ZERO
from kent_cs.reports import (
    DATE,
    INTEGER,
    MONEY,
    TEXT,
    Column,
    Sheet,
)
from licensing.models import (
    InvoiceKind,
    LicenseInvoice,
    LicenseInvoiceLine,
)
from licensing.selectors.renewals import DELINQUENCY_BUCKETS
from licensing.selectors.renewals import renewals_outstanding as renewals_outstanding_query


@dataclass(frozen=True)
class RenewalsRow:
    code: str
    name: str
    invoiced: int = 0
    paid: int = 0
    outstanding: int = 0
    part_paid: int = 0
    amount_invoiced: Decimal = ZERO
    amount_outstanding: Decimal = ZERO

    @property
    def percent_paid(self) -> Decimal | None:
        if not self.invoiced:
            return None
        return (Decimal(self.paid) * 100 / self.invoiced).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class RenewalsTable:
    year: int
    rows: tuple[RenewalsRow, ...]

    @property
    def total(self) -> RenewalsRow:
        return RenewalsRow(
            code="",
            name="All license types",
            invoiced=sum(r.invoiced for r in self.rows),
            paid=sum(r.paid for r in self.rows),
            outstanding=sum(r.outstanding for r in self.rows),
            part_paid=sum(r.part_paid for r in self.rows),
            amount_invoiced=sum((r.amount_invoiced for r in self.rows), ZERO),
            amount_outstanding=sum((r.amount_outstanding for r in self.rows), ZERO),
        )


def renewals_outstanding_by_type(
    *, years: Sequence[int], using: str | None = None
) -> dict[int, RenewalsTable]:
    """Each year's renewal invoices (cancelled ones aside) by license type: invoiced,
    paid, still open (part-paid among them) and the amounts. One grouped query."""
    open_ = Q(status=LicenseInvoice.Status.OPEN)
    grouped = (
        LicenseInvoice.objects.using(using or reports_db())
        .filter(kind=InvoiceKind.RENEWAL, year__in=list(years))
        .exclude(status=LicenseInvoice.Status.CANCELLED)
        .values("year", "license__license_type__code", "license__license_type__name")
        .annotate(
            invoiced=Count("pk"),
            paid=Count("pk", filter=Q(status=LicenseInvoice.Status.PAID)),
            outstanding=Count("pk", filter=open_),
            part_paid=Count("pk", filter=open_ & Q(amount_due__lt=F("total"))),
            amount_invoiced=Sum("total"),
            amount_outstanding=Sum("amount_due", filter=open_),
        )
        .order_by("year", "license__license_type__code")
    )
    rows: dict[int, list[RenewalsRow]] = {year: [] for year in years}
    for group in grouped:
        rows[group["year"]].append(
            RenewalsRow(
                code=group["license__license_type__code"],
                name=group["license__license_type__name"],
                invoiced=group["invoiced"],
                paid=group["paid"],
                outstanding=group["outstanding"],
                part_paid=group["part_paid"],
                amount_invoiced=group["amount_invoiced"] or ZERO,
                amount_outstanding=group["amount_outstanding"] or ZERO,
            )
        )
    return {year: RenewalsTable(year=year, rows=tuple(rows[year])) for year in years}


@dataclass(frozen=True)
class DelinquencyBucket:
    label: str
    low: int
    high: int | None
    count: int = 0
    amount_due: Decimal = ZERO


def _bucket_label(low: int, high: int | None) -> str:
    return f"{low}\u2013{high} days" if high else f"over {low - 1} days"


def _delinquent(as_of: date, using: str | None):
    """Renewal invoices still open after their due date, on `as_of`."""
    return LicenseInvoice.objects.using(using or reports_db()).filter(
        kind=InvoiceKind.RENEWAL, status=LicenseInvoice.Status.OPEN, due_date__lt=as_of
    )


def delinquency_by_bucket(*, as_of: date, using: str | None = None) -> list[DelinquencyBucket]:
    """Renewal invoices open past their due date on `as_of`, counted and summed by days
    late: 1-30, 31-60, 61-90, over 90. One grouped query."""
    whens = []
    for index, (low, high) in enumerate(DELINQUENCY_BUCKETS):
        condition = Q(due_date__lte=as_of - timedelta(days=low))
        if high is not None:
            condition &= Q(due_date__gte=as_of - timedelta(days=high))
        whens.append(When(condition, then=Value(index)))
    grouped = (
        _delinquent(as_of, using)
        .annotate(bucket=Case(*whens, output_field=IntegerField()))
        .values("bucket")
        .annotate(count=Count("pk"), amount_due=Sum("amount_due"))
        .order_by()
    )
    found = {g["bucket"]: g for g in grouped}
    buckets = []
    for index, (low, high) in enumerate(DELINQUENCY_BUCKETS):
        group = found.get(index, {})
        buckets.append(
            DelinquencyBucket(
                label=_bucket_label(low, high),
                low=low,
                high=high,
                count=group.get("count", 0),
                amount_due=group.get("amount_due") or ZERO,
            )
        )
    return buckets


def delinquency_total(buckets: Sequence[DelinquencyBucket]) -> DelinquencyBucket:
    return DelinquencyBucket(
        label="All delinquent renewals",
        low=1,
        high=None,
        count=sum(b.count for b in buckets),
        amount_due=sum((b.amount_due for b in buckets), ZERO),
    )


def renewals_sheet(table: RenewalsTable) -> Sheet:
    def cells(row: RenewalsRow) -> list:
        return [
            row.code,
            row.name,
            row.invoiced,
            row.paid,
            row.outstanding,
            row.part_paid,
            row.amount_invoiced,
            row.amount_outstanding,
        ]

    return Sheet(
        title=f"Renewals {table.year}",
        columns=[
            Column("Code", TEXT, width=10),
            Column("License type", TEXT, width=40),
            Column("Invoiced", INTEGER),
            Column("Paid", INTEGER),
            Column("Outstanding", INTEGER, width=12),
            Column("Part paid", INTEGER),
            Column("Amount invoiced", MONEY, width=16),
            Column("Amount outstanding", MONEY, width=18),
        ],
        rows=[cells(row) for row in table.rows],
        title_rows=[
            f"Renewals outstanding for license year {table.year}",
            "Renewal invoices of the year, cancelled ones aside; outstanding: still open.",
        ],
        total=cells(table.total),
    )


def delinquency_sheet(buckets: Sequence[DelinquencyBucket], as_of: date) -> Sheet:
    total = delinquency_total(buckets)
    return Sheet(
        title="Delinquency",
        columns=[
            Column("Days late", TEXT, width=16),
            Column("Invoices", INTEGER),
            Column("Amount due", MONEY),
        ],
        rows=[[b.label, b.count, b.amount_due] for b in buckets],
        title_rows=[
            f"Delinquent renewals as of {as_of:%b} {as_of.day}, {as_of.year}",
            "Renewal invoices still open after their due date, by days late.",
        ],
        total=[total.label, total.count, total.amount_due],
    )


_INVOICE_COLUMNS = [
    Column("Invoice", TEXT, width=14),
    Column("Business", TEXT, width=36),
    Column("Trade name", TEXT, width=28),
    Column("UBI", TEXT, width=12),
    Column("License", TEXT, width=10),
    Column("License type", TEXT, width=28),
]
_MAILING_ADDRESS = Column("Mailing address", TEXT, width=44)


def invoice_columns(*, mailing_address: bool = False) -> list[Column]:
    """The columns naming a renewal invoice in every list of them (sheets and exports)."""
    address = [_MAILING_ADDRESS] if mailing_address else []
    return [*_INVOICE_COLUMNS, *address, Column("Due date", DATE)]


def invoice_cells(invoice: LicenseInvoice, *, mailing_address: bool = False) -> list:
    """The cells under `invoice_columns` for one invoice."""
    business, license = invoice.business, invoice.license
    address = [business.mailing_address] if mailing_address else []
    return [
        invoice.number,
        business.legal_name,
        business.trade_name,
        business.ubi_display,
        license.display_number,
        license.license_type.name,
        *address,
        invoice.due_date,
    ]


def renewal_invoices_sheet(year: int, using: str | None = None) -> Sheet:
    """The open renewal invoices behind the renewals table, for the XLSX. One query."""
    invoices = renewals_outstanding_query(year=year).using(using or reports_db())
    return Sheet(
        title="Invoices outstanding",
        columns=[*invoice_columns(), Column("Total", MONEY), Column("Amount due", MONEY)],
        rows=[[*invoice_cells(i), i.total, i.amount_due] for i in invoices],
    )


def delinquent_invoices_sheet(as_of: date, using: str | None = None) -> Sheet:
    """The invoices behind the delinquency table, most days late first. One query."""
    invoices = (
        _delinquent(as_of, using)
        .annotate(penalties=Sum("lines__amount", filter=Q(lines__kind=LicenseInvoiceLine.PENALTY)))
        .select_related("business", "license__license_type")
        .order_by("due_date", "business__legal_name", "number")
    )
    return Sheet(
        title="Delinquent invoices",
        columns=[
            *invoice_columns(),
            Column("Days late", INTEGER),
            Column("Penalties", MONEY),
            Column("Amount due", MONEY),
        ],
        rows=[
            [*invoice_cells(i), (as_of - i.due_date).days, i.penalties or ZERO, i.amount_due]
            for i in invoices
        ],
    )
