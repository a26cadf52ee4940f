"""Voids and reversals: a cashier asks with a reason, a supervisor approves or rejects.

The receipt page (the counter's) posts "Request void" / "Request reversal" here with a
`reason` (and, for a reversal, `session`: the requester's open session, which takes the
negative receipt). The rules live in the services; these views fetch with the user's
scope, call them, and say what happened.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cashiering import inquiry
from cashiering.errors import CashieringError
from cashiering.models import CorrectionRequest
from cashiering.selectors.counter import receipt_get_for_user
from cashiering.services.corrections import (
    correction_approve,
    correction_reject,
    correction_request,
)
from cashiering.validators import refuse_card_number


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        validators=[refuse_card_number],
        error_messages={"required": "Enter the reason."},
    )


class RejectForm(forms.Form):
    note = forms.CharField(
        label="Why is it rejected?",
        max_length=300,
        validators=[refuse_card_number],
        error_messages={"required": "Say why the request is rejected."},
    )


def _error_text(error: forms.ValidationError) -> str:
    return " ".join(error.messages)


def _form_error_text(form: forms.Form) -> str:
    return " ".join(message for messages_ in form.errors.values() for message in messages_)


def _request_correction(request, pk: int, kind: str):
    receipt = receipt_get_for_user(user=request.user, pk=pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error_text(form))
        return redirect(receipt)
    session = None
    if kind == CorrectionRequest.Kind.REVERSAL:
        session = inquiry.reversal_session_for_user(
            user=request.user, session_id=request.POST.get("session")
        )
    try:
        correction = correction_request(
            receipt=receipt,
            kind=kind,
            reason=form.cleaned_data["reason"],
            user=request.user,
            target_session=session,
        )
    except CashieringError as exc:
        messages.error(request, _error_text(exc))
        return redirect(receipt)
    messages.success(
        request,
        f"{correction.get_kind_display()} of receipt {receipt} requested; "
        "it takes effect when a supervisor approves it.",
    )
    return redirect("cashiering:corrections")


@require_POST
@permission_required("cashiering.operate_drawer", raise_exception=True)
def void_request(request, pk: int):
    return _request_correction(request, pk, CorrectionRequest.Kind.VOID)


@require_POST
@permission_required("cashiering.operate_drawer", raise_exception=True)
def reversal_request(request, pk: int):
    return _request_correction(request, pk, CorrectionRequest.Kind.REVERSAL)


@permission_required("cashiering.view_correctionrequest", raise_exception=True)
def correction_list(request):
    queue = inquiry.correction_queue(user=request.user, page_number=request.GET.get("page"))
    return render(
        request,
        "cashiering/office/corrections.html",
        {
            "queue": queue,
            "page": queue.decided,
            "breadcrumbs": [("Voids and reversals", None)],
        },
    )


@require_POST
@permission_required("cashiering.approve_correction", raise_exception=True)
def approve(request, pk: int):
    correction = inquiry.correction_get_for_decision(pk=pk)
    try:
        decided = correction_approve(correction=correction, user=request.user)
    except CashieringError as exc:
        messages.error(request, f"Receipt {correction.receipt}: {_error_text(exc)}")
        return redirect("cashiering:corrections")
    receipt = decided.receipt
    if decided.kind == CorrectionRequest.Kind.VOID:
        text = f"Void of receipt {receipt} approved: the receipt is VOID and its entry reversed."
    else:
        text = (
            f"Reversal of receipt {receipt} approved: receipt {decided.reversal_receipt} "
            f"for {decided.reversal_receipt.total} posted in the requester's session."
        )
    messages.success(request, text)
    return redirect("cashiering:corrections")


@require_POST
@permission_required("cashiering.approve_correction", raise_exception=True)
def reject(request, pk: int):
    correction = inquiry.correction_get_for_decision(pk=pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Receipt {correction.receipt}: {_form_error_text(form)}")
        return redirect("cashiering:corrections")
    try:
        decided = correction_reject(
            correction=correction, user=request.user, note=form.cleaned_data["note"]
        )
    except CashieringError as exc:
        messages.error(request, f"Receipt {correction.receipt}: {_error_text(exc)}")
        return redirect("cashiering:corrections")
    messages.success(
        request, f"{decided.get_kind_display()} of receipt {decided.receipt} rejected."
    )
    return redirect("cashiering:corrections")
