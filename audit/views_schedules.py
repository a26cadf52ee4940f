"""Scheduled reports: the schedules list, create and edit, deactivate and activate, one
schedule's delivery log with the kept copies, and "Send now"."""

import hashlib

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit import schedule_selectors as selectors
from audit.forms_schedules import ReportScheduleForm
from audit.report_catalog import catalog_report
from audit.schedule_runs import report_send_now
from audit.schedules import (
    ScheduleError,
    allowed_domains,
    period_current,
    report_schedule_create,
    report_schedule_set_active,
    report_schedule_update,
)
from kent_cs.reports import download_response

MANAGE = "audit.manage_report_schedules"
FORM_TEMPLATE = "audit/schedules/form.html"


def _crumbs(*more) -> list:
    return [("Scheduled reports", reverse("audit:schedule-list")), *more]


@require_GET
@permission_required(MANAGE, raise_exception=True)
def schedule_list(request):
    schedules = list(selectors.schedule_list())
    for schedule in schedules:
        schedule.report = catalog_report(schedule.report_key)
    return render(
        request,
        "audit/schedules/list.html",
        {
            "schedules": schedules,
            "domains": allowed_domains(),
            "breadcrumbs": [("Scheduled reports", None)],
        },
    )


def _save(request, form, schedule=None):
    data = form.cleaned_data
    fields = {
        "name": data["name"],
        "report_key": data["report_key"],
        "format": data["format"],
        "frequency": data["frequency"],
        "recipients": data["recipients"],
        "send_at": data["send_at"],
    }
    try:
        if schedule is None:
            return report_schedule_create(user=request.user, **fields)
        return report_schedule_update(schedule=schedule, user=request.user, **fields)
    except ScheduleError as error:
        form.add_error(error.field, error.message)
        return None


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE, raise_exception=True)
def schedule_create(request):
    form = ReportScheduleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        schedule = _save(request, form)
        if schedule is not None:
            messages.success(request, f'Schedule "{schedule}" saved.')
            return redirect(schedule)
    return render(
        request,
        FORM_TEMPLATE,
        {
            "form": form,
            "title": "New report schedule",
            "breadcrumbs": _crumbs(("New schedule", None)),
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE, raise_exception=True)
def schedule_edit(request, pk: int):
    schedule = selectors.schedule_get(pk=pk)
    form = ReportScheduleForm(
        request.POST or None, initial=ReportScheduleForm.initial_for(schedule)
    )
    if request.method == "POST" and form.is_valid() and _save(request, form, schedule):
        messages.success(request, f'Schedule "{schedule}" saved.')
        return redirect(schedule)
    return render(
        request,
        FORM_TEMPLATE,
        {
            "form": form,
            "schedule": schedule,
            "title": f"Edit {schedule}",
            "breadcrumbs": _crumbs((str(schedule), schedule.get_absolute_url()), ("Edit", None)),
        },
    )


@require_GET
@permission_required(MANAGE, raise_exception=True)
def schedule_detail(request, pk: int):
    schedule = selectors.schedule_get(pk=pk)
    page = Paginator(selectors.deliveries_of(schedule=schedule), selectors.DELIVERY_PAGE_SIZE)
    start, end = period_current(schedule, timezone.now())
    return render(
        request,
        "audit/schedules/detail.html",
        {
            "schedule": schedule,
            "report": catalog_report(schedule.report_key),
            "page": page.get_page(request.GET.get("page")),
            "current_period": (start, end),
            "breadcrumbs": _crumbs((str(schedule), None)),
        },
    )


def _set_active(request, pk: int, active: bool):
    schedule = selectors.schedule_get(pk=pk)
    report_schedule_set_active(schedule=schedule, user=request.user, active=active)
    state = "active again" if active else "inactive: nothing more is sent"
    messages.success(request, f'Schedule "{schedule}" is {state}.')
    return redirect(schedule)


@require_POST
@permission_required(MANAGE, raise_exception=True)
def schedule_deactivate(request, pk: int):
    return _set_active(request, pk, False)


@require_POST
@permission_required(MANAGE, raise_exception=True)
def schedule_activate(request, pk: int):
    return _set_active(request, pk, True)


@require_POST
@permission_required(MANAGE, raise_exception=True)
def schedule_send_now(request, pk: int):
    schedule = selectors.schedule_get(pk=pk)
    try:
        report_send_now(schedule=schedule, user=request.user)
    except ScheduleError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, "The report is queued; the worker sends it within a minute. See the log."
        )
    return redirect(schedule)


@require_GET
@permission_required(MANAGE, raise_exception=True)
def delivery_download(request, pk: int):
    delivery = selectors.delivery_get(pk=pk)
    data = bytes(delivery.content)
    if hashlib.sha256(data).hexdigest() != delivery.sha256:
        raise Http404("The kept copy does not match its recorded SHA-256.")
    return download_response(data, delivery.file_name, delivery.content_type)
