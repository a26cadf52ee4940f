"""The audit reports: an index, and each report as a page (also its print view), a PDF
and a workbook, filtered by date range and staff member. Anyone holding
kent_cs.view_reports (technicians, supervisors, administrators) may read them."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import permission_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from audit.forms_reports import ReportFilterForm
from audit.reports_audit import (
    DOCUMENT_TEMPLATE,
    REPORTS,
    AuditReport,
    document_context,
)
from audit.reports_audit import report_xlsx as workbook_bytes
from kent_cs.reports import pdf_response, print_response, xlsx_response

VIEW_REPORTS = "kent_cs.view_reports"


def _report(key: str) -> AuditReport:
    try:
        return REPORTS[key]
    except KeyError:
        raise Http404("No such report.") from None


def _form(request) -> ReportFilterForm:
    if request.GET:
        return ReportFilterForm(request.GET)
    today = timezone.localdate()
    return ReportFilterForm({"date_from": today.replace(day=1), "date_to": today})


def _filename(report: AuditReport, form: ReportFilterForm, ext: str) -> str:
    params = form.params()
    return f"{report.key}-{params.date_from:%Y%m%d}-{params.date_to:%Y%m%d}.{ext}"


@require_GET
@permission_required(VIEW_REPORTS, raise_exception=True)
def report_index(request):
    return render(
        request,
        "audit/reports/index.html",
        {"reports": REPORTS.values(), "breadcrumbs": [("Audit reports", None)]},
    )


@require_GET
@permission_required(VIEW_REPORTS, raise_exception=True)
def report_page(request, key: str):
    spec = _report(key)
    form = _form(request)
    context = {
        "form": form,
        "spec": spec,
        "document_title": spec.title,
        "breadcrumbs": [("Audit reports", reverse("audit:reports")), (spec.title, None)],
    }
    if form.is_valid():
        context.update(document_context(spec.run(form.params())))
        query = _query(form)
        context["pdf_url"] = reverse("audit:report-pdf", args=[key]) + f"?{query}"
        context["xlsx_url"] = reverse("audit:report-xlsx", args=[key]) + f"?{query}"
    return print_response(request, DOCUMENT_TEMPLATE, context)


def _query(form: ReportFilterForm) -> str:
    params = form.params()
    values = {"date_from": params.date_from.isoformat(), "date_to": params.date_to.isoformat()}
    if params.cashier:
        values["cashier"] = str(params.cashier.pk)
    return urlencode(values)


def _valid_form_or_page(request, key: str):
    form = _form(request)
    if not form.is_valid():
        return form, report_page(request, key)
    return form, None


@require_GET
@permission_required(VIEW_REPORTS, raise_exception=True)
def report_pdf(request, key: str):
    spec = _report(key)
    form, page = _valid_form_or_page(request, key)
    if page is not None:
        return page
    return pdf_response(
        DOCUMENT_TEMPLATE,
        document_context(spec.run(form.params())),
        filename=_filename(spec, form, "pdf"),
        request=request,
    )


@require_GET
@permission_required(VIEW_REPORTS, raise_exception=True)
def report_xlsx(request, key: str):
    spec = _report(key)
    form, page = _valid_form_or_page(request, key)
    if page is not None:
        return page
    return xlsx_response(workbook_bytes(spec.run(form.params())), _filename(spec, form, "xlsx"))
