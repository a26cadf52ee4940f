"""Revenue reports, on a cash basis: license payments by license type and by NAICS
sector, with their tables."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import F, Q, Sum
from django.db.models.functions import ExtractYear, Substr

from kent_cs.dbrouters import reports_db
from kent_cs.money import ZERO
from kent_cs.reports import (
    MONEY,
    TEXT,
    Column,
    Sheet,
)
from licensing.models import (
    LicensePayment,
    LicenseType,
)
from licensing.reports.common import SECTORS, UNKNOWN_SECTOR, ReportParams, year_columns


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


def _revenue_sheet(
    table: RevenueTable, *, title: str, key_header: str, name_header: str, heading: str
) -> Sheet:
    return Sheet(
        title=title,
        columns=[
            Column(key_header, TEXT, width=10),
            Column(name_header, TEXT, width=44),
            *year_columns(table.years),
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
