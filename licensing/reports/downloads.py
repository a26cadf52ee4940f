"""The report downloads: each report's table as CSV or XLSX (REPORT_TABLES), and the
growth workbook with a chart on each sheet."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from kent_cs.reports import (
    INTEGER,
    TEXT,
    Column,
    Sheet,
    XlsxSheet,
    XlsxWorkbook,
)
from licensing.reports.common import MONTHS, ReportParams
from licensing.reports.growth import (
    active_license_counts,
    active_licenses_sheet,
    new_licenses_by_month,
    new_licenses_sheet,
)
from licensing.reports.renewals import (
    delinquency_by_bucket,
    delinquency_sheet,
    delinquent_invoices_sheet,
    renewal_invoices_sheet,
    renewals_outstanding_by_type,
    renewals_sheet,
)
from licensing.reports.revenue import (
    revenue_by_license_type,
    revenue_by_sector,
    revenue_by_sector_sheet,
    revenue_by_type_sheet,
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
