"""Renewals: a year's renewal runs (started in the background, with progress on the job
page), the notices batch PDF, renewals outstanding and delinquency with their exports,
and the daily expiry/penalty/lapse run started by hand."""

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from kent_cs.jobs import job_start, job_url
from kent_cs.money import ZERO
from kent_cs.reports import (
    INTEGER,
    MONEY,
    Column,
    Sheet,
    csv_bytes,
    csv_response,
    xlsx_bytes,
    xlsx_response,
)
from licensing import documents
from licensing.forms import DelinquencyForm, RenewalYearForm, default_renewal_year
from licensing.notice_runs import notice_run_start
from licensing.penalties import penalty_schedule_for_year
from licensing.renewal_runs import renewal_run_resume, renewal_run_start
from licensing.reports.renewals import invoice_cells, invoice_columns
from licensing.selectors import renewals as renewal_selectors
from licensing.services.common import LicensingError
from licensing.tasks import penalties_assess_job_task
from licensing.views.common import (
    ASSESS_PENALTIES,
    RUN_RENEWALS,
    VIEW_LICENSE,
    paginate,
    renewals_crumb,
)

VIEW_RUNS = "licensing.view_renewalrun"
PENALTIES_JOB_KIND = "licensing.penalties-assess"
EXPORT_FORMATS = ("csv", "xlsx")


def _year(request) -> int:
    """The license year asked for (?year=), else the one renewals are being run for."""
    form = RenewalYearForm(request.GET)
    if "year" in request.GET and form.is_valid():
        return form.cleaned_data["year"]
    return default_renewal_year()


def _renewals_url(year: int) -> str:
    return f"{reverse('licensing:renewals')}?year={year}"


@permission_required(VIEW_RUNS, raise_exception=True)
def renewals(request):
    year = _year(request)
    today = timezone.localdate()
    schedule = penalty_schedule_for_year(year)
    return render(
        request,
        "licensing/renewals/index.html",
        {
            "year": year,
            "years": list(range(today.year + 1, today.year - 4, -1)),
            "can_start": year <= today.year + 1,
            "summary": renewal_selectors.renewals_summary(year=year),
            "notices": documents.notice_invoices(year=year).count(),
            "due_date": schedule.due_date(year),
            "lapse_date": schedule.lapse_date(year),
            "penalty_schedule": schedule.name,
            "page": paginate(renewal_selectors.renewal_runs(year=year), request, per_page=20),
            "today": today,
            "breadcrumbs": [("Renewals", None)],
        },
    )


@require_POST
@permission_required(RUN_RENEWALS, raise_exception=True)
def renewal_run_start_view(request):
    form = RenewalYearForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the license year to renew.")
        return redirect("licensing:renewals")
    year = form.cleaned_data["year"]
    try:
        run = renewal_run_start(year=year, user=request.user)
    except LicensingError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_renewals_url(year))
    return redirect(job_url(run.job))


@permission_required(VIEW_RUNS, raise_exception=True)
def renewal_run_detail(request, pk: int):
    run = renewal_selectors.renewal_run_get(pk=pk)
    return render(
        request,
        "licensing/renewals/run_detail.html",
        {
            "run": run,
            "notices": documents.notice_invoices(run=run).count(),
            "breadcrumbs": [renewals_crumb(run.year), (str(run), None)],
        },
    )


@require_POST
@permission_required(RUN_RENEWALS, raise_exception=True)
def renewal_run_resume_view(request, pk: int):
    run = renewal_selectors.renewal_run_get(pk=pk)
    try:
        run = renewal_run_resume(run=run, user=request.user)
    except LicensingError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(run)
    return redirect(job_url(run.job))


def _start_notices(request, *, year: int, run=None):
    back = run.get_absolute_url() if run is not None else _renewals_url(year)
    try:
        notice_run = notice_run_start(year=year, renewal_run=run, user=request.user)
    except LicensingError as exc:
        messages.info(request, " ".join(exc.messages))
        return redirect(back)
    return redirect(job_url(notice_run.job))


@require_POST
@permission_required(RUN_RENEWALS, raise_exception=True)
def renewal_notices_start(request, year: int):
    return _start_notices(request, year=year)


@require_POST
@permission_required(RUN_RENEWALS, raise_exception=True)
def renewal_run_notices(request, pk: int):
    run = renewal_selectors.renewal_run_get(pk=pk)
    return _start_notices(request, year=run.year, run=run)


@require_POST
@permission_required(ASSESS_PENALTIES, raise_exception=True)
def penalties_assess_start(request):
    today = timezone.localdate()
    job = job_start(
        kind=PENALTIES_JOB_KIND,
        title=f"Expiry, late penalties and lapse as of {today:%b %-d, %Y}",
        user=request.user,
        task=penalties_assess_job_task,
        params={"as_of": today.isoformat()},
    )
    return redirect(job_url(job))


# --- outstanding and delinquency ------------------------------------------------------


OUTSTANDING_COLUMNS = [
    *invoice_columns(mailing_address=True),
    Column("Total", MONEY),
    Column("Amount due", MONEY),
]
DELINQUENCY_COLUMNS = [
    *invoice_columns(mailing_address=True),
    Column("Days late", INTEGER),
    Column("Penalties", MONEY),
    Column("Total", MONEY),
    Column("Amount due", MONEY),
]


def _export(fmt: str, columns, rows, *, title: str, filename: str):
    if fmt == "csv":
        return csv_response(csv_bytes(columns, rows, bom=True), f"{filename}.csv")
    data = xlsx_bytes([Sheet(title[:31], columns, rows, title_rows=[title])], title=title)
    return xlsx_response(data, f"{filename}.xlsx")


def _check_format(fmt: str) -> None:
    if fmt not in EXPORT_FORMATS:
        raise Http404("Exports are CSV or XLSX.")


@permission_required(VIEW_LICENSE, raise_exception=True)
def renewals_outstanding(request):
    year = _year(request)
    invoices = renewal_selectors.renewals_outstanding(year=year)
    return render(
        request,
        "licensing/renewals/outstanding.html",
        {
            "year": year,
            "summary": renewal_selectors.renewals_summary(year=year),
            "page": paginate(invoices, request),
            "breadcrumbs": [renewals_crumb(year), (f"Outstanding {year}", None)],
        },
    )


@permission_required(VIEW_LICENSE, raise_exception=True)
def renewals_outstanding_export(request, fmt: str):
    _check_format(fmt)
    year = _year(request)
    rows = (
        [*invoice_cells(i, mailing_address=True), i.total, i.amount_due]
        for i in renewal_selectors.renewals_outstanding(year=year).iterator(chunk_size=2000)
    )
    return _export(
        fmt,
        OUTSTANDING_COLUMNS,
        rows,
        title=f"Renewals outstanding {year}",
        filename=f"renewals-outstanding-{year}",
    )


def _as_of(request) -> date:
    form = DelinquencyForm(request.GET)
    if form.is_valid() and form.cleaned_data["as_of"]:
        return form.cleaned_data["as_of"]
    return timezone.localdate()


@permission_required(VIEW_LICENSE, raise_exception=True)
def delinquency(request):
    as_of = _as_of(request)
    form = DelinquencyForm(request.GET or None, initial={"as_of": as_of})
    return render(
        request,
        "licensing/renewals/delinquency.html",
        {
            "form": form,
            "as_of": as_of,
            "buckets": renewal_selectors.delinquency_summary(as_of=as_of),
            "page": paginate(renewal_selectors.delinquent_invoices(as_of=as_of), request),
            "breadcrumbs": [renewals_crumb(), ("Delinquency", None)],
        },
    )


@permission_required(VIEW_LICENSE, raise_exception=True)
def delinquency_export(request, fmt: str):
    _check_format(fmt)
    as_of = _as_of(request)
    rows = (
        [
            *invoice_cells(i, mailing_address=True),
            i.days_late,
            i.penalties or ZERO,
            i.total,
            i.amount_due,
        ]
        for i in renewal_selectors.delinquent_invoices(as_of=as_of).iterator(chunk_size=2000)
    )
    return _export(
        fmt,
        DELINQUENCY_COLUMNS,
        rows,
        title=f"Delinquent renewals as of {as_of:%Y-%m-%d}",
        filename=f"delinquency-{as_of:%Y-%m-%d}",
    )
