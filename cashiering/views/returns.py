"""Returned (NSF) checks: record one from the check's tender, confirm or dismiss the bank's
returned items, and read what was processed. Technicians with process_returned_check act;
the back office (view_returnedcheck) reads."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cashiering.errors import CashieringError
from cashiering.models import ReturnedCheck
from cashiering.selectors import returns as returns_selectors
from cashiering.services import returns as returns_services
from cashiering.validators import refuse_card_number

PROCESS = "cashiering.process_returned_check"
VIEW = "cashiering.view_returnedcheck"


class FindForm(forms.Form):
    check_number = forms.CharField(label="Check number", max_length=20, required=False)
    receipt_number = forms.CharField(
        label="Receipt number", max_length=20, required=False, help_text="For example R-1042"
    )
    amount = forms.DecimalField(
        label="Amount", max_digits=12, decimal_places=2, min_value=0, required=False
    )


class ProcessForm(forms.Form):
    reason = forms.ChoiceField(label="Why the bank returned it", choices=ReturnedCheck.Reason)
    returned_on = forms.DateField(
        label="Returned on",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": "Enter the date the bank returned the check."},
    )
    fee = forms.BooleanField(label="Charge the NSF fee", required=False, initial=True)
    note = forms.CharField(
        label="Note", max_length=300, required=False, validators=[refuse_card_number]
    )


class DismissForm(forms.Form):
    note = forms.CharField(
        label="Why is it dismissed?",
        max_length=300,
        validators=[refuse_card_number],
        error_messages={"required": "Say why this bank line is dismissed."},
    )


def _errors(exc: forms.ValidationError) -> str:
    return " ".join(exc.messages)


def _apply_errors(form: forms.Form, exc: CashieringError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error.message)
    else:
        form.add_error(None, _errors(exc))


@permission_required(VIEW, raise_exception=True)
def returned_check_list(request):
    return render(
        request,
        "cashiering/returns/list.html",
        {
            "checks": returns_selectors.returned_checks_recent(),
            "proposal_count": len(returns_selectors.unmatched_returned_items()),
        },
    )


@permission_required(VIEW, raise_exception=True)
def returned_check_detail(request, pk: int):
    returned_check = returns_selectors.returned_check_get(pk=pk)
    return render(
        request,
        "cashiering/returns/detail.html",
        {"rc": returned_check, "lines": list(returned_check.lines.order_by("pk"))},
    )


@permission_required(PROCESS, raise_exception=True)
def returned_check_find(request):
    form = FindForm(request.GET or None)
    tenders = []
    if form.is_bound and form.is_valid():
        tenders = returns_selectors.check_tender_search(
            check_number=form.cleaned_data["check_number"],
            receipt_number=form.cleaned_data["receipt_number"],
            amount=form.cleaned_data["amount"],
        )
    return render(request, "cashiering/returns/find.html", {"form": form, "tenders": tenders})


@permission_required(PROCESS, raise_exception=True)
def returned_check_new(request, tender_id: int):
    tender = returns_selectors.check_tender_get(pk=tender_id)
    if request.method == "POST":
        form = ProcessForm(request.POST)
        if form.is_valid():
            try:
                returned = returns_services.returned_check_process(
                    tender=tender,
                    reason=form.cleaned_data["reason"],
                    returned_on=form.cleaned_data["returned_on"],
                    fee=form.cleaned_data["fee"],
                    note=form.cleaned_data["note"],
                    user=request.user,
                )
            except CashieringError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(
                    request,
                    f"Returned check #{tender.check_number} processed: {returned.amount} "
                    f"re-opened, NSF fee {returned.fee_amount}.",
                )
                return redirect(returned)
    else:
        form = ProcessForm(initial={"returned_on": returns_selectors.today(), "fee": True})
    return render(request, "cashiering/returns/new.html", {"form": form, "tender": tender})


@permission_required(PROCESS, raise_exception=True)
def returned_item_list(request):
    return render(
        request,
        "cashiering/returns/proposals.html",
        {
            "proposals": returns_selectors.returned_item_proposals(),
            "reasons": ReturnedCheck.Reason.choices,
        },
    )


@require_POST
@permission_required(PROCESS, raise_exception=True)
def returned_item_process(request, pk: int):
    line = returns_selectors.bank_transaction_get_unmatched(pk=pk)
    form = ProcessForm(request.POST)
    tender_id = request.POST.get("tender", "")
    if not form.is_valid() or not tender_id.isdigit():
        problems = [e for errors in form.errors.values() for e in errors]
        if not tender_id.isdigit():
            problems.insert(0, "Choose the check that was returned.")
        messages.error(request, " ".join(problems))
        return redirect("cashiering:returned-items")
    tender = returns_selectors.check_tender_get(pk=int(tender_id))
    try:
        returned = returns_services.returned_check_process(
            tender=tender,
            bank_transaction=line,
            reason=form.cleaned_data["reason"],
            returned_on=form.cleaned_data["returned_on"],
            fee=form.cleaned_data["fee"],
            note=form.cleaned_data["note"],
            user=request.user,
        )
    except CashieringError as exc:
        messages.error(request, _errors(exc))
        return redirect("cashiering:returned-items")
    messages.success(request, f"Returned check #{tender.check_number} processed.")
    return redirect(returned)


@require_POST
@permission_required(PROCESS, raise_exception=True)
def returned_item_dismiss(request, pk: int):
    line = returns_selectors.bank_transaction_get_unmatched(pk=pk)
    form = DismissForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("cashiering:returned-items")
    try:
        returns_services.returned_check_dismiss(
            bank_transaction=line, note=form.cleaned_data["note"], user=request.user
        )
    except CashieringError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, f"Bank line of {abs(line.amount)} dismissed.")
    return redirect("cashiering:returned-items")
