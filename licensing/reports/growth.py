"""Growth reports: new licenses by month and active licenses at each year end, with
their tables."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise

from django.db import connections
from django.db.models import Count, Q
from django.db.models.functions import ExtractMonth, ExtractYear
from django.utils import timezone

from kent_cs.dbrouters import reports_db
from kent_cs.reports import (
    DATE,
    INTEGER,
    TEXT,
    Column,
    Sheet,
)
from licensing.models import (
    License,
    LicenseStatus,
)
from licensing.reports.common import MONTHS, ReportParams, change_table, percent_change


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
        return percent_change(self.total, self.compared_with)


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


@dataclass(frozen=True)
class ActiveCount:
    on: date
    count: int
    now: bool = False  # the report's as-of day (today, unless asked otherwise)

    @property
    def label(self) -> str:
        return f"{self.on:%b} {self.on.day}, {self.on.year}"


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
        sql = _ACTIVE_AT_SQL.format(table=connections[db].ops.quote_name(change_table()))
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
