"""Refund requests: ask (technician), verify (another technician), approve or reject
(supervisor, never the requester), export for accounts payable, download documents."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cashiering.errors import CashieringError
from cashiering.models import Receipt
from cashiering.selectors import refunds as refunds_selectors
from cashiering.selectors.counter import receipt_get_for_user
from cashiering.services import refunds as refunds_services
from cashiering.validators import refuse_card_number
from kent_cs.reports import csv_response, xlsx_response

VIEW = "cashiering.view_refundrequest"
REQUEST = "cashiering.request_refund"
VERIFY = "cashiering.verify_refund"
APPROVE = "cashiering.approve_refund"
FORMATS = ("csv", "xlsx")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data]
        return [super().clean(data, initial)] if data else []


class RefundForm(forms.Form):
    payee_name = forms.CharField(label="Pay to", max_length=120, validators=[refuse_card_number])
    payee_address = forms.CharField(
        label="Mailing address",
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[refuse_card_number],
    )
    amount = forms.DecimalField(label="Amount", max_digits=12, decimal_places=2, min_value=0.01)
    reason = forms.CharField(label="Reason", max_length=300, validators=[refuse_card_number])
    documents = MultipleFileField(
        label="Supporting documents",
        required=False,
        help_text="PDF, JPEG or PNG; up to 5 files of 10 MB each.",
    )


class NoteForm(forms.Form):
    note = forms.CharField(label="Note", max_length=300, required=False)


class RejectForm(forms.Form):
    note = forms.CharField(
        label="Why is it rejected?",
        max_length=300,
        error_messages={"required": "Say why the refund is rejected."},
    )


def _apply_errors(form: forms.Form, exc: CashieringError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error.message)
    else:
        form.add_error(None, " ".join(exc.messages))


def _receipt_from(request) -> Receipt | None:
    number = request.GET.get("receipt") or request.POST.get("receipt") or ""
    if not number:
        return None

    if not number.isdigit():
        raise Http404("No such receipt.")
    return receipt_get_for_user(user=request.user, pk=int(number))


@permission_required(VIEW, raise_exception=True)
def refund_list(request):
    return render(
        request, "cashiering/refunds/list.html", {"queue": refunds_selectors.refund_queue()}
    )


@permission_required(REQUEST, raise_exception=True)
def refund_new(request, kind: str, ref: str):
    receipt = _receipt_from(request)
    credit = refunds_selectors.refundable_credit(kind=kind, ref=ref, receipt=receipt)
    if request.method == "POST":
        form = RefundForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                refund = refunds_services.refund_request_create(
                    kind=kind,
                    ref=ref,
                    receipt=receipt,
                    payee_name=form.cleaned_data["payee_name"],
                    payee_address=form.cleaned_data["payee_address"],
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    documents=form.cleaned_data["documents"],
                    user=request.user,
                )
            except CashieringError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(
                    request, f"Refund {refund.number} requested; another technician verifies it."
                )
                return redirect(refund)
    else:
        form = RefundForm(
            initial={
                "payee_name": credit.item.name,
                "payee_address": credit.item.address,
                "amount": credit.available or None,
            }
        )
    return render(
        request,
        "cashiering/refunds/new.html",
        {"form": form, "credit": credit, "receipt": receipt, "kind": kind, "ref": ref},
    )


@permission_required(VIEW, raise_exception=True)
def refund_detail(request, pk: int):
    refund = refunds_selectors.refund_get_for_user(user=request.user, pk=pk)
    return render(
        request,
        "cashiering/refunds/detail.html",
        {
            "refund": refund,
            "documents": list(refund.documents.defer("content")),
            "reject_form": RejectForm(),
            "approve_form": NoteForm(),
        },
    )


@permission_required(VIEW, raise_exception=True)
def refund_document(request, pk: int, document_id: int):
    document = refunds_selectors.refund_document_get_for_user(
        user=request.user, pk=pk, document_id=document_id
    )
    response = HttpResponse(bytes(document.content), content_type=document.content_type)
    safe_name = "".join(c for c in document.file_name if c.isalnum() or c in "._- ") or "document"
    response["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _decide(request, pk: int, action):
    refund = refunds_selectors.refund_get_for_user(user=request.user, pk=pk)
    try:
        done = action(refund)
    except CashieringError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(refund)
    messages.success(request, f"Refund {done.number} {done.get_status_display().lower()}.")
    return redirect(done)


@require_POST
@permission_required(VERIFY, raise_exception=True)
def refund_verify(request, pk: int):
    return _decide(
        request, pk, lambda r: refunds_services.refund_verify(refund=r, user=request.user)
    )


@require_POST
@permission_required(APPROVE, raise_exception=True)
def refund_approve(request, pk: int):
    form = NoteForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    return _decide(
        request,
        pk,
        lambda r: refunds_services.refund_approve(refund=r, user=request.user, note=note),
    )


@require_POST
@permission_required(APPROVE, raise_exception=True)
def refund_reject(request, pk: int):
    form = RejectForm(request.POST)
    if not form.is_valid():
        refund = refunds_selectors.refund_get_for_user(user=request.user, pk=pk)
        messages.error(request, "Say why the refund is rejected.")
        return redirect(refund)
    note = form.cleaned_data["note"]
    return _decide(
        request,
        pk,
        lambda r: refunds_services.refund_reject(refund=r, user=request.user, note=note),
    )


def _file_response(data: bytes, name: str, fmt: str) -> HttpResponse:
    return csv_response(data, name) if fmt == "csv" else xlsx_response(data, name)


@require_POST
@permission_required(APPROVE, raise_exception=True)
def refund_export(request, fmt: str):
    if fmt not in FORMATS:
        raise Http404("No such format.")
    try:
        batch = refunds_services.refund_export(user=request.user)
    except CashieringError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("cashiering:refunds")
    data, name = refunds_selectors.refund_batch_file(batch=batch, fmt=fmt, reexport=False)
    return _file_response(data, name, fmt)


@permission_required(APPROVE, raise_exception=True)
def refund_batch_download(request, batch: str, fmt: str):
    """A batch already sent, downloaded again: every line says it is a re-export."""
    if fmt not in FORMATS:
        raise Http404("No such format.")
    data, name = refunds_selectors.refund_batch_file(batch=batch, fmt=fmt, reexport=True)
    return _file_response(data, name, fmt)
