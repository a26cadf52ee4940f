"""The day's reports: the daily cash report (print view and PDF) for those who balance
the day, and the audit report (page, print view, CSV) for supervisors."""

from datetime import date

from django import forms
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from cashiering import reports_daily
from kent_cs.reports import csv_response, pdf_response, print_response

DAILY = "cashiering.balance_day"
AUDIT = "cashiering.view_audit_report"
DAILY_TEMPLATE = "cashiering/reports/daily_cash.html"
AUDIT_TEMPLATE = "cashiering/reports/audit_document.html"
AUDIT_PAGE_SIZE = 200


class DayForm(forms.Form):
    business_date = forms.DateField(
        label="Business date", widget=forms.DateInput(attrs={"type": "date"})
    )


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Http404("Not a date.") from None


def _reports_crumb() -> tuple[str, str]:
    return ("Daily reports", reverse("cashiering:daily-reports"))


@require_GET
def daily_reports(request):
    """Choose a business date; then the report links for it."""
    user = request.user
    if not (user.has_perm(DAILY) or user.has_perm(AUDIT)):
        raise PermissionDenied
    form = DayForm(request.GET or None, initial={"business_date": timezone.localdate()})
    day = form.cleaned_data["business_date"] if form.is_valid() else None
    return render(
        request,
        "cashiering/reports/index.html",
        {
            "form": form,
            "day": day,
            "urls": reports_daily.daily_report_urls(day) if day else None,
            "breadcrumbs": [("Daily reports", None)],
        },
    )


def _daily_context(day: date) -> dict:
    return {
        "report": reports_daily.daily_cash_report(day),
        "document_title": f"Daily cash report {day:%Y-%m-%d}",
        "page_class": "landscape",
    }


@require_GET
@permission_required(DAILY, raise_exception=True)
def daily_cash_print(request, business_date: str):
    day = _day(business_date)
    context = _daily_context(day)
    context.update(
        pdf_url=reverse("cashiering:daily-cash-report-pdf", args=[day.isoformat()]),
        back_url=reverse("cashiering:daily-reports") + f"?business_date={day.isoformat()}",
        breadcrumbs=[_reports_crumb(), (f"Daily cash report {day:%Y-%m-%d}", None)],
    )
    return print_response(request, DAILY_TEMPLATE, context)


@require_GET
@permission_required(DAILY, raise_exception=True)
def daily_cash_pdf(request, business_date: str):
    day = _day(business_date)
    return pdf_response(
        DAILY_TEMPLATE,
        _daily_context(day),
        filename=f"daily-cash-report-{day.isoformat()}.pdf",
        request=request,
        inline=True,
    )


@require_GET
@permission_required(AUDIT, raise_exception=True)
def audit_report(request, business_date: str):
    day = _day(business_date)
    events = reports_daily.audit_events(day)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "cashiering/reports/audit.html",
        {
            "day": day,
            "page": page,
            "event_count": len(events),
            "urls": reports_daily.daily_report_urls(day),
            "breadcrumbs": [_reports_crumb(), (f"Audit report {day:%Y-%m-%d}", None)],
        },
    )


@require_GET
@permission_required(AUDIT, raise_exception=True)
def audit_report_print(request, business_date: str):
    day = _day(business_date)
    return print_response(
        request,
        AUDIT_TEMPLATE,
        {
            "day": day,
            "events": reports_daily.audit_events(day),
            "document_title": f"Audit report {day:%Y-%m-%d}",
            "back_url": reverse("cashiering:audit-report", args=[day.isoformat()]),
            "breadcrumbs": [
                _reports_crumb(),
                (
                    f"Audit report {day:%Y-%m-%d}",
                    reverse("cashiering:audit-report", args=[day.isoformat()]),
                ),
                ("Print view", None),
            ],
        },
    )


@require_GET
@permission_required(AUDIT, raise_exception=True)
def audit_report_csv(request, business_date: str):
    day = _day(business_date)
    data = reports_daily.audit_csv(day, reports_daily.audit_events(day))
    return csv_response(data, f"audit-report-{day.isoformat()}.csv")
