"""Licensing reports: the dashboard with its charts, one page per report, each report's
table as CSV or XLSX, and the growth workbook. Reading only; every page needs
kent_cs.view_reports (technicians, supervisors and administrators hold it; licensing has
no report permission of its own)."""

from datetime import date
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import permission_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from kent_cs.reports import csv_bytes, csv_response, xlsx_bytes, xlsx_response
from licensing import charts
from licensing.forms import DelinquencyForm, RenewalYearForm, YearRangeForm, default_renewal_year
from licensing.reports import common as report_common
from licensing.reports import downloads as report_downloads
from licensing.reports import growth as growth_reports
from licensing.reports import renewals as renewal_reports
from licensing.reports import revenue as revenue_reports

VIEW_REPORTS = "kent_cs.view_reports"
DEFAULT_YEARS = 3  # this year and the two before


def _report_params(request) -> tuple[report_common.ReportParams, dict[str, forms.Form]]:
    """The report's years, license year and as-of day from the query string; what is
    missing or refused (the form then shows why) takes its default."""
    today = timezone.localdate()
    first, last = today.year - DEFAULT_YEARS + 1, today.year
    years_form = YearRangeForm(
        request.GET if {"first_year", "last_year"} & set(request.GET) else None,
        initial={"first_year": first, "last_year": last},
    )
    if years_form.is_bound and years_form.is_valid():
        first, last = years_form.cleaned_data["first_year"], years_form.cleaned_data["last_year"]
    year = default_renewal_year(today)
    year_form = RenewalYearForm(
        request.GET if "year" in request.GET else None, initial={"year": year}
    )
    if year_form.is_bound and year_form.is_valid():
        year = year_form.cleaned_data["year"]
    as_of = today
    as_of_form = DelinquencyForm(
        request.GET if "as_of" in request.GET else None, initial={"as_of": today}
    )
    if as_of_form.is_bound and as_of_form.is_valid() and as_of_form.cleaned_data["as_of"]:
        as_of = as_of_form.cleaned_data["as_of"]
    params = report_common.ReportParams(first_year=first, last_year=last, year=year, as_of=as_of)
    return params, {"years_form": years_form, "year_form": year_form, "as_of_form": as_of_form}


def _query(table: report_downloads.ReportTable, params: report_common.ReportParams) -> str:
    """The query string that asks a download for what the page shows."""
    if table.uses == "years":
        values: dict[str, object] = {"first_year": params.first_year, "last_year": params.last_year}
    elif table.uses == "year":
        values = {"year": params.year}
    else:
        values = {"as_of": params.as_of.isoformat()}
    return urlencode(values)


def _downloads(slug: str, params: report_common.ReportParams) -> dict[str, str]:
    table = report_downloads.REPORT_TABLES[slug]
    query = _query(table, params)
    return {
        "title": table.title,
        "csv": f"{reverse('licensing:report-csv', args=[slug])}?{query}",
        "xlsx": f"{reverse('licensing:report-xlsx', args=[slug])}?{query}",
    }


def _growth_url(params: report_common.ReportParams) -> str:
    query = urlencode({"first_year": params.first_year, "last_year": params.last_year})
    return f"{reverse('licensing:report-growth-xlsx')}?{query}"


def _crumbs(title: str) -> list[tuple[str, str | None]]:
    return [("Licensing reports", reverse("licensing:report-dashboard")), (title, None)]


def _day(day: date) -> str:
    return f"{day:%b} {day.day}"


# --- dashboard ------------------------------------------------------------------------


@permission_required(VIEW_REPORTS, raise_exception=True)
def dashboard(request):
    today = timezone.localdate()
    this_year, last_year = today.year, today.year - 1
    params = report_common.ReportParams(
        first_year=today.year - DEFAULT_YEARS + 1,
        last_year=today.year,
        year=default_renewal_year(today),
        as_of=today,
    )
    new = growth_reports.new_licenses_by_month(
        first_year=last_year, last_year=this_year, as_of=today
    )
    active = growth_reports.active_license_counts(
        first_year=params.first_year, last_year=params.last_year, as_of=today
    )
    revenue = revenue_reports.revenue_by_license_type(
        first_year=last_year, last_year=this_year, as_of=today
    )
    renewal_years = sorted({this_year, params.year})
    renewals = renewal_reports.renewals_outstanding_by_type(years=renewal_years)
    buckets = renewal_reports.delinquency_by_bucket(as_of=today)
    delinquent = renewal_reports.delinquency_total(buckets)
    new_this = new[-1]
    span = f"Jan 1 to {_day(today)}"

    new_chart = charts.column_chart(
        chart_id="chart-new-licenses",
        title=f"New licenses by month, {last_year} and {this_year}",
        description=(
            f"Licenses first issued each month. {this_year} to {_day(today)}: "
            f"{new_this.total:,}; {last_year}: {new[0].total:,} in the whole year, "
            f"{new_this.compared_with or 0:,} to {_day(today)}."
        ),
        categories=report_common.MONTHS,
        series=[charts.Series(str(row.year), row.months) for row in new],
    )
    revenue_chart = charts.bar_chart(
        chart_id="chart-revenue-by-type",
        title=f"Revenue by license type, {span}, {last_year} and {this_year}",
        description=(
            f"License payments received from {span}: {last_year} "
            f"{charts.money_text(revenue.year_to_date(last_year))}, {this_year} "
            f"{charts.money_text(revenue.year_to_date(this_year))}."
        ),
        categories=[row.name for row in revenue.rows],
        series=[
            charts.Series(f"{year} {span}", [row.to_date[index] for row in revenue.rows])
            for index, year in enumerate(revenue.years)
        ],
        value_text=charts.money_text,
        tick_text=charts.money_tick,
    )
    active_chart = charts.column_chart(
        chart_id="chart-active-licenses",
        title="Active licenses at each year end and now",
        description="; ".join(f"{count.label}: {count.count:,}" for count in active) + ".",
        categories=[count.label for count in active],
        series=[charts.Series("Active licenses", [count.count for count in active])],
        height=260,
    )
    return render(
        request,
        "licensing/reports/dashboard.html",
        {
            "today": today,
            "this_year": this_year,
            "last_year": last_year,
            "span": span,
            "new": new,
            "new_this": new_this,
            "active_rows": growth_reports.with_changes(active),
            "years_count": DEFAULT_YEARS,
            "active_now": active[-1] if active and active[-1].now else None,
            "revenue": revenue,
            "revenue_this": revenue.year_to_date(this_year),
            "revenue_last": revenue.year_to_date(last_year),
            "renewals": [renewals[year] for year in renewal_years],
            "buckets": buckets,
            "delinquent": delinquent,
            "new_chart": new_chart,
            "revenue_chart": revenue_chart,
            "active_chart": active_chart,
            "growth_url": _growth_url(params),
            "months": report_common.MONTHS,
            "breadcrumbs": [("Licensing reports", None)],
        },
    )


# --- report pages ---------------------------------------------------------------------


@permission_required(VIEW_REPORTS, raise_exception=True)
def new_licenses(request):
    params, forms_ = _report_params(request)
    rows = growth_reports.new_licenses_by_month(
        first_year=params.first_year, last_year=params.last_year, as_of=params.as_of
    )
    return render(
        request,
        "licensing/reports/new_licenses.html",
        {
            **forms_,
            "params": params,
            "rows": rows,
            "months": report_common.MONTHS,
            "downloads": [_downloads("new-licenses", params)],
            "growth_url": _growth_url(params),
            "breadcrumbs": _crumbs("New licenses by month"),
        },
    )


@permission_required(VIEW_REPORTS, raise_exception=True)
def active_licenses(request):
    params, forms_ = _report_params(request)
    counts = growth_reports.active_license_counts(
        first_year=params.first_year, last_year=params.last_year, as_of=params.as_of
    )
    return render(
        request,
        "licensing/reports/active_licenses.html",
        {
            **forms_,
            "params": params,
            "rows": growth_reports.with_changes(counts),
            "downloads": [_downloads("active-licenses", params)],
            "growth_url": _growth_url(params),
            "breadcrumbs": _crumbs("Active licenses"),
        },
    )


@permission_required(VIEW_REPORTS, raise_exception=True)
def revenue(request):
    params, forms_ = _report_params(request)
    years = {"first_year": params.first_year, "last_year": params.last_year}
    return render(
        request,
        "licensing/reports/revenue.html",
        {
            **forms_,
            "params": params,
            "by_type": revenue_reports.revenue_by_license_type(**years, as_of=params.as_of),
            "by_sector": revenue_reports.revenue_by_sector(**years, as_of=params.as_of),
            "downloads": [
                _downloads("revenue-by-type", params),
                _downloads("revenue-by-sector", params),
            ],
            "growth_url": _growth_url(params),
            "breadcrumbs": _crumbs("Revenue"),
        },
    )


@permission_required(VIEW_REPORTS, raise_exception=True)
def renewals(request):
    params, forms_ = _report_params(request)
    table = renewal_reports.renewals_outstanding_by_type(years=[params.year])[params.year]
    return render(
        request,
        "licensing/reports/renewals.html",
        {
            **forms_,
            "params": params,
            "table": table,
            "total": table.total,
            "downloads": [_downloads("renewals", params)],
            "list_url": f"{reverse('licensing:renewals-outstanding')}?year={params.year}",
            "breadcrumbs": _crumbs("Renewals outstanding"),
        },
    )


@permission_required(VIEW_REPORTS, raise_exception=True)
def delinquency(request):
    params, forms_ = _report_params(request)
    buckets = renewal_reports.delinquency_by_bucket(as_of=params.as_of)
    return render(
        request,
        "licensing/reports/delinquency.html",
        {
            **forms_,
            "params": params,
            "buckets": buckets,
            "total": renewal_reports.delinquency_total(buckets),
            "downloads": [_downloads("delinquency", params)],
            "list_url": f"{reverse('licensing:delinquency')}?as_of={params.as_of.isoformat()}",
            "breadcrumbs": _crumbs("Delinquency"),
        },
    )


# --- downloads ------------------------------------------------------------------------


def _table(slug: str) -> report_downloads.ReportTable:
    try:
        return report_downloads.REPORT_TABLES[slug]
    except KeyError:
        raise Http404("No such report.") from None


@permission_required(VIEW_REPORTS, raise_exception=True)
def table_csv(request, table: str):
    report = _table(table)
    params, _ = _report_params(request)
    sheet = report.sheets(params)[0]
    rows = [*sheet.rows, *([sheet.total] if sheet.total is not None else [])]
    return csv_response(csv_bytes(sheet.columns, rows, bom=True), report.filename(params, "csv"))


@permission_required(VIEW_REPORTS, raise_exception=True)
def table_xlsx(request, table: str):
    report = _table(table)
    params, _ = _report_params(request)
    data = xlsx_bytes(report.sheets(params, detail=True), title=report.title)
    return xlsx_response(data, report.filename(params, "xlsx"))


@permission_required(VIEW_REPORTS, raise_exception=True)
def growth_xlsx(request):
    params, _ = _report_params(request)
    data = report_downloads.growth_workbook(
        first_year=params.first_year, last_year=params.last_year, as_of=params.as_of
    )
    return xlsx_response(
        data, report_downloads.growth_filename(params.first_year, params.last_year)
    )
