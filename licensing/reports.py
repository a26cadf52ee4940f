"""Licensing reports: new licenses by month, active licenses, revenue by license type and
by NAICS sector, renewals outstanding and delinquency; their tables as CSV and XLSX, and
the growth workbook with a chart on each sheet.

Every query reads from `reports_db()` (a replica when one is configured) and groups in
SQL, so a report costs the same few queries whatever the number of licenses or years.

Definitions, as the pages state them:
- A *new license* is counted in the month it was first issued (`License.issued_on`).
- A license is *active at a year end* when the last status change in effect on Dec 31
  left it active and good for that year; *active now* is the license's current status.
- *Revenue* is on a cash basis: license payments received, by the receipt's business
  date, with voids and reversals netted on their own dates. Renewals paid in December
  for the next license year count in the year the money came in.
- *Renewals outstanding* are a license year's renewal invoices still open (part-paid
  ones included); *delinquent* ones are open past their due date.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from django.db import connections
from django.db.models import Case, Count, F, IntegerField, Q, Sum, Value, When
from django.db.models.functions import ExtractMonth, ExtractYear, Substr
from django.utils import timezone

from kent_cs.dbrouters import reports_db
from kent_cs.money import ZERO
from kent_cs.reports import (
    DATE,
    INTEGER,
    MONEY,
    TEXT,
    Column,
    Sheet,
    XlsxSheet,
    XlsxWorkbook,
)
from licensing.models import (
    InvoiceKind,
    License,
    LicenseInvoice,
    LicenseInvoiceLine,
    LicensePayment,
    LicenseStatus,
    LicenseStatusChange,
    LicenseType,
)
from licensing.selectors.renewals import DELINQUENCY_BUCKETS
from licensing.selectors.renewals import renewals_outstanding as renewals_outstanding_query
from licensing.validators import NAICS_SECTORS

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MAX_YEARS = 10  # the widest year range a report takes


def _percent_change(current: int | Decimal, previous: int | Decimal) -> Decimal | None:
    if not previous:
        return None
    return (Decimal(current - previous) * 100 / Decimal(previous)).quantize(Decimal("0.1"))


# --- NAICS sectors -------------------------------------------------------------------


@dataclass(frozen=True)
class Sector:
    code: str  # "72", or a range such as "31-33" for a sector spread over several codes
    name: str


def _sectors() -> dict[str, Sector]:
    """Each two-digit NAICS code's sector. The names come from the one NAICS table
    (licensing.validators.NAICS_SECTORS); manufacturing (31-33), retail (44-45) and
    transportation (48-49) each span several codes and are reported as one sector."""
    codes_by_name: dict[str, list[str]] = defaultdict(list)
    for code, name in NAICS_SECTORS.items():
        codes_by_name[name].append(code)
    sectors = {}
    for name, codes in codes_by_name.items():
        label = codes[0] if len(codes) == 1 else f"{codes[0]}-{codes[-1]}"
        for code in codes:
            sectors[code] = Sector(label, name)
    return sectors


SECTORS = _sectors()
UNKNOWN_SECTOR = Sector("??", "Unknown sector")


# --- new licenses by month -------------------------------------------------------------


@dataclass(frozen=True)
class NewLicensesYear:
    """One year's new licenses by month. `months` holds None for months not reached yet;
    `compared_with` is the year before over the same span: the whole year, or for the
    current year, January 1 to the same day; None when the year before has none (the
    records begin later)."""

    year: int
    months: tuple[int | None, ...]
    total: int
    partial: bool
    compared_with: int | None

    @property
    def change(self) -> int | None:
        return None if self.compared_with is None else self.total - self.compared_with

    @property
    def change_percent(self) -> Decimal | None:
        if self.compared_with is None:
            return None
        return _percent_change(self.total, self.compared_with)


def new_licenses_by_month(
    *, first_year: int, last_year: int, as_of: date, using: str | None = None
) -> list[NewLicensesYear]:
    """Licenses first issued in each month of `first_year`..`last_year`, each year with
    the year before for comparison. One grouped query."""
    rows = (
        License.objects.using(using or reports_db())
        .filter(issued_on__gte=date(first_year - 1, 1, 1), issued_on__lte=as_of)
        .annotate(year=ExtractYear("issued_on"), month=ExtractMonth("issued_on"))
        .values("year", "month")
        .annotate(
            count=Count("pk"),
            # Within a month group, those issued no later in the month than as_of's day:
            # what a year-to-date comparison with the year before needs.
            early=Count("pk", filter=Q(issued_on__day__lte=as_of.day)),
        )
        .order_by()
    )
    counts: dict[tuple[int, int], int] = {}
    early: dict[tuple[int, int], int] = {}
    for row in rows:
        counts[row["year"], row["month"]] = row["count"]
        early[row["year"], row["month"]] = row["early"]

    def to_date(year: int) -> int:
        whole = sum(counts.get((year, month), 0) for month in range(1, as_of.month))
        return whole + early.get((year, as_of.month), 0)

    def total(year: int) -> int:
        return sum(counts.get((year, month), 0) for month in range(1, 13))

    result = []
    for year in range(first_year, last_year + 1):
        partial = year == as_of.year
        months = tuple(
            None
            if year > as_of.year or (partial and month > as_of.month)
            else counts.get((year, month), 0)
            for month in range(1, 13)
        )
        if year > as_of.year or not total(year - 1):
            # Nothing issued the year before: the records start later, no comparison.
            compared_with = None
        elif partial:
            compared_with = to_date(year - 1)
        else:
            compared_with = total(year - 1)
        result.append(
            NewLicensesYear(
                year=year,
                months=months,
                total=sum(n or 0 for n in months),
                partial=partial,
                compared_with=compared_with,
            )
        )
    return result


# --- active licenses ------------------------------------------------------------------


@dataclass(frozen=True)
class ActiveCount:
    on: date
    count: int
    now: bool = False  # the report's as-of day (today, unless asked otherwise)

    @property
    def label(self) -> str:
        return f"{self.on:%b} {self.on.day}, {self.on.year}"


# For each day asked about, each license's last status change in effect on that day:
# active and good for that day's year means the license was active then.
_ACTIVE_AT_SQL = """
SELECT ends.day, count(latest.license_id)
FROM unnest(%s::date[]) AS ends(day)
LEFT JOIN LATERAL (
    SELECT DISTINCT ON (change.license_id) change.license_id, change.to_status, change.to_year
    FROM {table} AS change
    WHERE change.effective_on <= ends.day
    ORDER BY change.license_id, change.effective_on DESC, change.changed_at DESC, change.id DESC
) AS latest ON latest.to_status = %s AND latest.to_year >= extract(year FROM ends.day)
GROUP BY ends.day
ORDER BY ends.day
"""


def active_license_counts(
    *, first_year: int, last_year: int, as_of: date, using: str | None = None
) -> list[ActiveCount]:
    """Active licenses at each year end of `first_year`..`last_year` before `as_of`, then
    on `as_of` itself when it falls in the range. Year ends (and a past `as_of`) come from
    the status history in one query; today's count from the licenses' status, which is
    the record of now, in one more."""
    db = using or reports_db()
    days = [date(y, 12, 31) for y in range(first_year, last_year + 1) if date(y, 12, 31) < as_of]
    is_today = as_of == timezone.localdate()
    in_range = first_year <= as_of.year <= last_year
    if in_range and not is_today:
        days.append(as_of)
    counts: list[ActiveCount] = []
    if days:
        sql = _ACTIVE_AT_SQL.format(table=connections[db].ops.quote_name(_change_table()))
        with connections[db].cursor() as cursor:
            cursor.execute(sql, [days, LicenseStatus.ACTIVE.value])
            counts = [
                ActiveCount(on=day, count=count, now=day == as_of)
                for day, count in cursor.fetchall()
            ]
    if in_range and is_today:
        active = License.objects.using(db).filter(status=LicenseStatus.ACTIVE).count()
        counts.append(ActiveCount(on=as_of, count=active, now=True))
    return counts


def with_changes(counts: Sequence[ActiveCount]) -> list[tuple[ActiveCount, int | None]]:
    """Each count with its change from the one before (None for the first)."""
    changes = [None, *(b.count - a.count for a, b in pairwise(counts))]
    return list(zip(counts, changes, strict=True))


def _change_table() -> str:
    return LicenseStatusChange._meta.db_table


# --- revenue --------------------------------------------------------------------------


@dataclass(frozen=True)
class RevenueRow:
    code: str
    name: str
    amounts: tuple[Decimal, ...]  # one per year of the table
    to_date: tuple[Decimal, ...]  # January 1 to as_of's month and day, one per year

    @property
    def total(self) -> Decimal:
        return sum(self.amounts, ZERO)


@dataclass(frozen=True)
class RevenueTable:
    """License payments received by year (cash basis), one row per license type or
    sector. The rows add up to every license payment of the years."""

    years: tuple[int, ...]
    rows: tuple[RevenueRow, ...]
    as_of: date

    @property
    def totals(self) -> tuple[Decimal, ...]:
        return tuple(sum((r.amounts[i] for r in self.rows), ZERO) for i in range(len(self.years)))

    @property
    def totals_to_date(self) -> tuple[Decimal, ...]:
        return tuple(sum((r.to_date[i] for r in self.rows), ZERO) for i in range(len(self.years)))

    @property
    def total(self) -> Decimal:
        return sum(self.totals, ZERO)

    def year_total(self, year: int) -> Decimal:
        return self.totals[self.years.index(year)] if year in self.years else ZERO

    def year_to_date(self, year: int) -> Decimal:
        return self.totals_to_date[self.years.index(year)] if year in self.years else ZERO


def _payments(first_year: int, last_year: int, using: str | None):
    return LicensePayment.objects.using(using or reports_db()).filter(
        business_date__gte=date(first_year, 1, 1), business_date__lte=date(last_year, 12, 31)
    )


def _to_date_filter(as_of: date) -> Q:
    """Payments received from January 1 to as_of's month and day, in whichever year."""
    return Q(business_date__month__lt=as_of.month) | Q(
        business_date__month=as_of.month, business_date__day__lte=as_of.day
    )


def _revenue_rows(
    grouped: Iterable[dict[str, Any]],
    labels: dict[str, str],
    years: tuple[int, ...],
) -> tuple[RevenueRow, ...]:
    """Rows from (key, year, received, to_date) groups, in the order of `labels`."""
    amounts: dict[str, list[Decimal]] = {}
    to_date: dict[str, list[Decimal]] = {}
    for group in grouped:
        key = group["key"]
        amounts.setdefault(key, [ZERO] * len(years))
        to_date.setdefault(key, [ZERO] * len(years))
        index = years.index(group["year"])
        amounts[key][index] += group["received"] or ZERO
        to_date[key][index] += group["to_date"] or ZERO
    return tuple(
        RevenueRow(
            code=key,
            name=name,
            amounts=tuple(amounts.get(key, [ZERO] * len(years))),
            to_date=tuple(to_date.get(key, [ZERO] * len(years))),
        )
        for key, name in labels.items()
    )


def revenue_by_license_type(
    *, first_year: int, last_year: int, as_of: date, using: str | None = None
) -> RevenueTable:
    """Payments received per license type and year: every type, with or without revenue.
    Two queries: the grouped payments and the license types."""
    years = tuple(range(first_year, last_year + 1))
    grouped = (
        _payments(first_year, last_year, using)
        .values(key=F("invoice__license__license_type__code"), year=ExtractYear("business_date"))
        .annotate(received=Sum("amount"), to_date=Sum("amount", filter=_to_date_filter(as_of)))
        .order_by()
    )
    grouped = list(grouped)
    seen = {g["key"] for g in grouped}
    types = LicenseType.objects.using(using or reports_db()).order_by("code")
    labels = {t.code: t.name for t in types if t.is_active or t.code in seen}
    return RevenueTable(years=years, rows=_revenue_rows(grouped, labels, years), as_of=as_of)


def revenue_by_sector(
    *, first_year: int, last_year: int, as_of: date, using: str | None = None
) -> RevenueTable:
    """Payments received per NAICS sector (of the paying business) and year; only sectors
    with payments. One grouped query."""
    years = tuple(range(first_year, last_year + 1))
    grouped = [
        {**group, "key": SECTORS.get(group["key"], UNKNOWN_SECTOR).code}
        for group in _payments(first_year, last_year, using)
        .values(
            key=Substr("invoice__business__naics_code", 1, 2), year=ExtractYear("business_date")
        )
        .annotate(received=Sum("amount"), to_date=Sum("amount", filter=_to_date_filter(as_of)))
        .order_by()
    ]
    present = {g["key"] for g in grouped}
    labels = {}
    for sector in sorted({*SECTORS.values(), UNKNOWN_SECTOR}, key=lambda s: s.code):
        if sector.code in present:
            labels[sector.code] = sector.name
    return RevenueTable(years=years, rows=_revenue_rows(grouped, labels, years), as_of=as_of)


# --- renewals outstanding -------------------------------------------------------------


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


# --- delinquency ----------------------------------------------------------------------


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


# --- tables for download --------------------------------------------------------------


@dataclass(frozen=True)
class ReportParams:
    """What a report is asked for; each report reads the fields it needs."""

    first_year: int
    last_year: int
    year: int  # a license year (renewals outstanding)
    as_of: date  # today, or the day delinquency is counted on

    @property
    def years_text(self) -> str:
        if self.first_year == self.last_year:
            return str(self.first_year)
        return f"{self.first_year}-{self.last_year}"


def _year_columns(years: Sequence[int]) -> list[Column]:
    return [Column(str(year), MONEY) for year in years]


def new_licenses_sheet(rows: Sequence[NewLicensesYear], params: ReportParams) -> Sheet:
    """Years down, months across, with the comparison with the year before."""
    columns = [
        Column("Year", INTEGER, width=8),
        *(Column(month, INTEGER, width=7) for month in MONTHS),
        Column("Total", INTEGER),
        Column("Year before, same span", INTEGER, width=22),
        Column("Change", INTEGER),
    ]
    return Sheet(
        title="New licenses by month",
        columns=columns,
        rows=[[row.year, *row.months, row.total, row.compared_with, row.change] for row in rows],
        title_rows=[
            f"New business licenses by month first issued, {params.years_text}",
            f"Counted to {params.as_of:%b} {params.as_of.day}, {params.as_of.year}; "
            "a year still running is compared with the same span of the year before.",
        ],
    )


def active_licenses_sheet(counts: Sequence[ActiveCount], params: ReportParams) -> Sheet:
    rows = [[count.label, count.on, count.count, change] for count, change in with_changes(counts)]
    return Sheet(
        title="Active licenses",
        columns=[
            Column("As of", TEXT, width=20),
            Column("Date", DATE),
            Column("Active licenses", INTEGER, width=16),
            Column("Change", INTEGER),
        ],
        rows=rows,
        title_rows=[
            f"Active business licenses at each year end, {params.years_text}, and on "
            f"{params.as_of:%b} {params.as_of.day}, {params.as_of.year}",
            "From the license status history; today's count from each license's status.",
        ],
    )


def _revenue_sheet(
    table: RevenueTable, *, title: str, key_header: str, name_header: str, heading: str
) -> Sheet:
    return Sheet(
        title=title,
        columns=[
            Column(key_header, TEXT, width=10),
            Column(name_header, TEXT, width=44),
            *_year_columns(table.years),
            Column("Total", MONEY),
        ],
        rows=[[row.code, row.name, *row.amounts, row.total] for row in table.rows],
        title_rows=[
            heading,
            "Cash basis: license payments received, by the receipt's business date; "
            "voids and reversals are netted on their own dates.",
        ],
        total=["", "Total", *table.totals, table.total],
    )


def revenue_by_type_sheet(table: RevenueTable, params: ReportParams) -> Sheet:
    return _revenue_sheet(
        table,
        title="Revenue by type",
        key_header="Code",
        name_header="License type",
        heading=f"License revenue by license type, {params.years_text}",
    )


def revenue_by_sector_sheet(table: RevenueTable, params: ReportParams) -> Sheet:
    return _revenue_sheet(
        table,
        title="Revenue by sector",
        key_header="NAICS sector",
        name_header="Sector",
        heading=f"License revenue by NAICS sector of the business, {params.years_text}",
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
    Column("Due date", DATE),
]


def _invoice_cells(invoice: LicenseInvoice) -> list:
    business, license = invoice.business, invoice.license
    return [
        invoice.number,
        business.legal_name,
        business.trade_name,
        business.ubi_display,
        license.display_number,
        license.license_type.name,
        invoice.due_date,
    ]


def renewal_invoices_sheet(year: int, using: str | None = None) -> Sheet:
    """The open renewal invoices behind the renewals table, for the XLSX. One query."""
    invoices = renewals_outstanding_query(year=year).using(using or reports_db())
    return Sheet(
        title="Invoices outstanding",
        columns=[*_INVOICE_COLUMNS, Column("Total", MONEY), Column("Amount due", MONEY)],
        rows=[[*_invoice_cells(i), i.total, i.amount_due] for i in invoices],
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
            *_INVOICE_COLUMNS,
            Column("Days late", INTEGER),
            Column("Penalties", MONEY),
            Column("Amount due", MONEY),
        ],
        rows=[
            [*_invoice_cells(i), (as_of - i.due_date).days, i.penalties or ZERO, i.amount_due]
            for i in invoices
        ],
    )


def _years(p: ReportParams) -> dict[str, Any]:
    return {"first_year": p.first_year, "last_year": p.last_year, "as_of": p.as_of}


def _new_licenses_sheets(p: ReportParams, detail: bool) -> list[Sheet]:
    return [new_licenses_sheet(new_licenses_by_month(**_years(p)), p)]


def _active_sheets(p: ReportParams, detail: bool) -> list[Sheet]:
    return [active_licenses_sheet(active_license_counts(**_years(p)), p)]


def _revenue_by_type_sheets(p: ReportParams, detail: bool) -> list[Sheet]:
    return [revenue_by_type_sheet(revenue_by_license_type(**_years(p)), p)]


def _revenue_by_sector_sheets(p: ReportParams, detail: bool) -> list[Sheet]:
    return [revenue_by_sector_sheet(revenue_by_sector(**_years(p)), p)]


def _renewals_sheets(p: ReportParams, detail: bool) -> list[Sheet]:
    sheets = [renewals_sheet(renewals_outstanding_by_type(years=[p.year])[p.year])]
    return sheets + ([renewal_invoices_sheet(p.year)] if detail else [])


def _delinquency_sheets(p: ReportParams, detail: bool) -> list[Sheet]:
    sheets = [delinquency_sheet(delinquency_by_bucket(as_of=p.as_of), p.as_of)]
    return sheets + ([delinquent_invoices_sheet(p.as_of)] if detail else [])


@dataclass(frozen=True)
class ReportTable:
    """A report's table as a download: CSV holds the table; XLSX adds, for renewals and
    delinquency, a sheet of the invoices behind it (`detail`)."""

    slug: str
    title: str
    uses: str  # the parameters it takes: "years", "year" or "as_of"
    build: Callable[[ReportParams, bool], list[Sheet]]

    def sheets(self, params: ReportParams, *, detail: bool = False) -> list[Sheet]:
        return self.build(params, detail)

    def filename(self, params: ReportParams, extension: str) -> str:
        suffix = {
            "years": params.years_text,
            "year": str(params.year),
            "as_of": params.as_of.isoformat(),
        }[self.uses]
        return f"licensing-{self.slug}-{suffix}.{extension}"


REPORT_TABLES = {
    table.slug: table
    for table in (
        ReportTable("new-licenses", "New licenses by month", "years", _new_licenses_sheets),
        ReportTable("active-licenses", "Active licenses", "years", _active_sheets),
        ReportTable("revenue-by-type", "Revenue by license type", "years", _revenue_by_type_sheets),
        ReportTable(
            "revenue-by-sector", "Revenue by NAICS sector", "years", _revenue_by_sector_sheets
        ),
        ReportTable("renewals", "Renewals outstanding", "year", _renewals_sheets),
        ReportTable("delinquency", "Delinquency", "as_of", _delinquency_sheets),
    )
}


# --- growth workbook ------------------------------------------------------------------


def _header_row(sheet: Sheet) -> int:
    """The row XlsxSheet writes the header on: after the title rows and a blank row."""
    return len(sheet.title_rows) + 2 if sheet.title_rows else 1


def _chart_style(chart, *, title: str, x_title: str, y_title: str, number_format: str) -> None:
    chart.title = title
    chart.x_axis.title = x_title
    chart.y_axis.title = y_title
    chart.y_axis.numFmt = number_format
    # openpyxl 3.1 marks axes deleted unless told otherwise; Excel then hides them.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.width = 24
    chart.height = 12


def _write_with_chart(
    book: XlsxWorkbook,
    sheet: Sheet,
    *,
    chart,
    data_columns: tuple[int, int],
    category_column: int,
    data_rows: int,
) -> XlsxSheet:
    """Write `sheet` through the shared XLSX helper (frozen header, number formats, every
    text cell formula-escaped), then chart its data: columns `data_columns` (first, last;
    1-based, header row included for the series names) of the first `data_rows` rows."""
    from openpyxl.chart import Reference
    from openpyxl.utils import get_column_letter

    written = book.add_sheet(sheet.title, sheet.columns, title_rows=sheet.title_rows)
    written.write_rows(sheet.rows)
    if sheet.total is not None:
        written.write_row(sheet.total, bold=True)
    # The sheet just added; XlsxSheet keeps its worksheet to itself.
    worksheet = book.workbook.worksheets[-1]
    header = _header_row(sheet)
    first, last = data_columns
    chart.add_data(
        Reference(
            worksheet, min_col=first, max_col=last, min_row=header, max_row=header + data_rows
        ),
        titles_from_data=True,
    )
    chart.set_categories(
        Reference(
            worksheet,
            min_col=category_column,
            min_row=header + 1,
            max_row=header + max(data_rows, 1),
        )
    )
    # Write-only worksheets take charts too: they are written when the sheet is closed.
    worksheet.add_chart(chart, f"{get_column_letter(len(sheet.columns) + 2)}{header}")
    return written


def growth_workbook(
    *, first_year: int, last_year: int, as_of: date, using: str | None = None
) -> bytes:
    """The growth workbook: new licenses by month (years as columns), active licenses,
    revenue by license type and by NAICS sector, each sheet with its chart. Six queries
    at most: one per table, two for active licenses and for revenue by type."""
    from openpyxl.chart import BarChart, LineChart

    params = ReportParams(first_year=first_year, last_year=last_year, year=last_year, as_of=as_of)
    years = list(range(first_year, last_year + 1))
    new = new_licenses_by_month(
        first_year=first_year, last_year=last_year, as_of=as_of, using=using
    )
    active = active_license_counts(
        first_year=first_year, last_year=last_year, as_of=as_of, using=using
    )
    by_type = revenue_by_license_type(
        first_year=first_year, last_year=last_year, as_of=as_of, using=using
    )
    by_sector = revenue_by_sector(
        first_year=first_year, last_year=last_year, as_of=as_of, using=using
    )

    with XlsxWorkbook(title=f"Business license growth {params.years_text}") as book:
        # Months down and years across, so that each year is one series of the chart.
        monthly = Sheet(
            title="New licenses by month",
            columns=[Column("Month", TEXT, width=10), *(Column(str(y), INTEGER) for y in years)],
            rows=[
                [month, *(row.months[index] for row in new)] for index, month in enumerate(MONTHS)
            ],
            title_rows=[
                f"New business licenses by month first issued, {params.years_text}",
                f"Counted to {as_of:%b} {as_of.day}, {as_of.year}; the change row compares a "
                "year still running with the same span of the year before.",
            ],
            total=["Total", *(row.total for row in new)],
        )
        chart = BarChart()
        chart.type = "col"
        chart.grouping = "clustered"
        _chart_style(
            chart,
            title="New licenses by month",
            x_title="Month",
            y_title="Licenses",
            number_format="#,##0",
        )
        written = _write_with_chart(
            book,
            monthly,
            chart=chart,
            data_columns=(2, 1 + len(years)),
            category_column=1,
            data_rows=12,
        )
        written.write_row(["Change from the year before", *(row.change for row in new)])

        active_sheet = active_licenses_sheet(active, params)
        line = LineChart()
        _chart_style(
            line,
            title="Active licenses",
            x_title="Year end",
            y_title="Licenses",
            number_format="#,##0",
        )
        _write_with_chart(
            book,
            active_sheet,
            chart=line,
            data_columns=(3, 3),
            category_column=1,
            data_rows=len(active),
        )

        for sheet, table, horizontal in (
            (revenue_by_type_sheet(by_type, params), by_type, False),
            (revenue_by_sector_sheet(by_sector, params), by_sector, True),
        ):
            bars = BarChart()
            bars.type = "bar" if horizontal else "col"
            bars.grouping = "clustered"
            _chart_style(
                bars,
                title=sheet.title,
                x_title="License type" if not horizontal else "NAICS sector",
                y_title="Payments received ($)",
                number_format="#,##0",
            )
            _write_with_chart(
                book,
                sheet,
                chart=bars,
                data_columns=(3, 2 + len(years)),
                category_column=2,
                data_rows=len(table.rows),
            )
        return book.to_bytes()


def growth_filename(first_year: int, last_year: int) -> str:
    span = str(first_year) if first_year == last_year else f"{first_year}-{last_year}"
    return f"licensing-growth-{span}.xlsx"
