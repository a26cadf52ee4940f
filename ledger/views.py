"""The ledger's pages: chart of accounts, account detail, journal entries and their reversal,
trial balance (page, XLSX, PDF, print, export) and accounting periods."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from kent_cs.jobs import job_start, job_url
from kent_cs.money import ZERO
from kent_cs.reports import pdf_response, print_response, xlsx_response
from kent_cs.selectors import object_timeline
from ledger import reports, selectors
from ledger.forms import (
    DateRangeForm,
    PeriodChoiceForm,
    PeriodCloseForm,
    PeriodReopenForm,
    ReverseEntryForm,
)
from ledger.services import LedgerError, journal_entry_reverse, period_close, period_reopen
from ledger.tasks import TRIAL_BALANCE_EXPORT, export_trial_balance

TRIAL_BALANCE_DOCUMENT = "ledger/trial_balance_document.html"


def _trial_balance_url(period) -> str:
    return f"{reverse('ledger:trial-balance')}?period={period.pk}"


# ---------------------------------------------------------------------------- accounts


@permission_required("ledger.view_glaccount", raise_exception=True)
def chart_of_accounts(request):
    return render(
        request,
        "ledger/chart.html",
        {
            "funds": selectors.chart_of_accounts(),
            "breadcrumbs": [("Chart of accounts", None)],
        },
    )


@permission_required("ledger.view_glaccount", raise_exception=True)
def account_detail(request, pk: int):
    account = selectors.account_get(pk=pk)
    form = DateRangeForm(request.GET or None)
    dates = form.cleaned_data if form.is_bound and form.is_valid() else {}
    ledger = selectors.account_ledger(
        account=account,
        date_from=dates.get("date_from"),
        date_to=dates.get("date_to"),
        page_number=request.GET.get("page"),
    )
    return render(
        request,
        "ledger/account_detail.html",
        {
            "account": account,
            "form": form,
            "ledger": ledger,
            "page": ledger.page,
            "timeline": object_timeline(account),
            "breadcrumbs": [
                ("Chart of accounts", reverse("ledger:chart")),
                (account.full_code, None),
            ],
        },
    )


# ----------------------------------------------------------------------------- entries


def _entry_page(request, entry, reverse_form=None):
    lines = selectors.entry_lines(entry)
    may_reverse = request.user.has_perm("ledger.post_journalentry")
    refusal = selectors.entry_reversal_refusal(entry)
    can_reverse = may_reverse and refusal is None
    return render(
        request,
        "ledger/entry_detail.html",
        {
            "entry": entry,
            "lines": lines,
            "total_debit": sum((line.debit for line in lines), ZERO),
            "total_credit": sum((line.credit for line in lines), ZERO),
            "reversed_by": selectors.entry_reversed_by(entry),
            "can_reverse": can_reverse,
            "reversal_refusal": refusal if may_reverse else None,
            "reverse_form": reverse_form or (ReverseEntryForm() if can_reverse else None),
            "timeline": object_timeline(entry),
            "breadcrumbs": [
                (f"Trial balance {entry.period}", _trial_balance_url(entry.period)),
                (str(entry), None),
            ],
        },
    )


@permission_required("ledger.view_journalentry", raise_exception=True)
def entry_detail(request, number: int):
    return _entry_page(request, selectors.entry_get(number=number))


@require_POST
@permission_required("ledger.post_journalentry", raise_exception=True)
def entry_reverse(request, number: int):
    entry = selectors.entry_get(number=number)
    form = ReverseEntryForm(request.POST)
    refusal = selectors.entry_reversal_refusal(entry)
    if refusal is not None:
        form.add_error(None, refusal)
    if form.is_valid():
        try:
            reversal = journal_entry_reverse(
                entry=entry,
                user=request.user,
                reason=form.cleaned_data["reason"],
                entry_date=form.cleaned_data["entry_date"],
            )
        except LedgerError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Posted {reversal}, reversing {entry}.")
            return redirect(reversal)
    return _entry_page(request, entry, reverse_form=form)


# ----------------------------------------------------------------------- trial balance


@permission_required("kent_cs.view_reports", raise_exception=True)
def trial_balance(request):
    periods = selectors.period_choices()
    form = PeriodChoiceForm(request.GET if "period" in request.GET else None, periods=periods)
    period = form.cleaned_data["period"] if form.is_bound and form.is_valid() else None
    if period is None:
        period = selectors.period_default()
        if not form.is_bound and period is not None:
            form = PeriodChoiceForm(initial={"period": period}, periods=periods)
    tb = selectors.trial_balance(period=period) if period is not None else None
    return render(
        request,
        "ledger/trial_balance.html",
        {
            "form": form,
            "period": period,
            "tb": tb,
            "breadcrumbs": [("Trial balance", None)],
        },
    )


def _period_trial_balance(period_id: int):
    period = selectors.period_get(pk=period_id)
    return period, selectors.trial_balance(period=period)


@permission_required("kent_cs.view_reports", raise_exception=True)
def trial_balance_xlsx(request, period_id: int):
    period, tb = _period_trial_balance(period_id)
    return xlsx_response(
        reports.trial_balance_xlsx(tb), reports.trial_balance_filename(period, "xlsx")
    )


@permission_required("kent_cs.view_reports", raise_exception=True)
def trial_balance_pdf(request, period_id: int):
    period, tb = _period_trial_balance(period_id)
    return pdf_response(
        TRIAL_BALANCE_DOCUMENT,
        reports.trial_balance_document(tb),
        filename=reports.trial_balance_filename(period, "pdf"),
        request=request,
    )


@permission_required("kent_cs.view_reports", raise_exception=True)
def trial_balance_print(request, period_id: int):
    period, tb = _period_trial_balance(period_id)
    context = reports.trial_balance_document(tb)
    context.update(
        pdf_url=reverse("ledger:trial-balance-pdf", args=[period.pk]),
        back_url=_trial_balance_url(period),
        breadcrumbs=[
            ("Trial balance", _trial_balance_url(period)),
            ("Print view", None),
        ],
    )
    return print_response(request, TRIAL_BALANCE_DOCUMENT, context)


@require_POST
@permission_required("kent_cs.view_reports", raise_exception=True)
def trial_balance_export(request, period_id: int):
    period = selectors.period_get(pk=period_id)
    job = job_start(
        kind=TRIAL_BALANCE_EXPORT,
        title=f"{reports.trial_balance_title(period)} with journal lines (XLSX)",
        user=request.user,
        task=export_trial_balance,
        params={"period": period.pk},
    )
    return redirect(job_url(job))


# ----------------------------------------------------------------------------- periods


def _periods_page(request, failed=None):
    """The period list; `failed` is (period id, bound form) for a refused close/reopen."""
    may_close = request.user.has_perm("ledger.close_accountingperiod")
    rows = []
    for period in selectors.periods_with_counts():
        form = None
        if may_close:
            if failed and failed[0] == period.pk:
                form = failed[1]
            else:
                form = PeriodCloseForm() if period.is_open else PeriodReopenForm()
            form.prefix = f"p{period.pk}"
        rows.append((period, form))
    return render(
        request,
        "ledger/periods.html",
        {"rows": rows, "may_close": may_close, "breadcrumbs": [("Accounting periods", None)]},
    )


@permission_required("ledger.view_accountingperiod", raise_exception=True)
def periods(request):
    return _periods_page(request)


def _change_period(request, pk: int, form_class, service, done: str):
    period = selectors.period_get(pk=pk)
    form = form_class(request.POST, prefix=f"p{period.pk}")
    if not form.is_valid():
        return _periods_page(request, failed=(period.pk, form))
    try:
        service(period=period, user=request.user, reason=form.cleaned_data["reason"])
    except LedgerError as exc:
        # The period changed state meanwhile (closed or reopened by someone else).
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{period} {done}.")
    return redirect("ledger:periods")


@require_POST
@permission_required("ledger.close_accountingperiod", raise_exception=True)
def period_close_view(request, pk: int):
    return _change_period(request, pk, PeriodCloseForm, period_close, "is closed")


@require_POST
@permission_required("ledger.close_accountingperiod", raise_exception=True)
def period_reopen_view(request, pk: int):
    return _change_period(request, pk, PeriodReopenForm, period_reopen, "is open again")
