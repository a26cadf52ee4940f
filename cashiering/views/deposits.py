"""Bank deposits: the technician chooses balanced sessions, counts the currency going to
the bank, and prepares the deposit; its slip prints as a page and as a PDF.

The preparation page works in two steps without JavaScript: choosing sessions is a GET
(`?session=1&session=4`), which shows what those sessions deposit, their checks, and the
currency form; the form posts back to the same URL with the sessions as hidden fields.
"""

import uuid
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from cashiering import deposits
from cashiering.denominations import DENOMINATIONS
from cashiering.forms import denomination_field_name
from cashiering.models import CashierSession, Deposit
from kent_cs.reports import pdf_response, print_response
from ledger.models import BankAccount

PREPARE = "cashiering.prepare_deposit"
VIEW = "cashiering.view_deposit"
SLIP_TEMPLATE = "cashiering/deposits/slip.html"


class DepositForm(forms.Form):
    sessions = forms.ModelMultipleChoiceField(
        queryset=CashierSession.objects.none(),
        widget=forms.MultipleHiddenInput,
        error_messages={"required": "Choose at least one balanced session to deposit."},
    )
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    deposit_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    bank_account = forms.ModelChoiceField(
        queryset=BankAccount.objects.none(),
        empty_label=None,
        error_messages={"required": "Choose the bank account the deposit goes to."},
    )
    coin_total = forms.DecimalField(
        required=False,
        min_value=Decimal("0"),
        max_digits=9,
        decimal_places=2,
        label="Coin as a total (rolled coin)",
        help_text="Leave empty when coin is counted by kind above.",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any session: the service says why one cannot be deposited (already deposited
        # by someone else meanwhile, not balanced) better than "not a valid choice".
        self.fields["sessions"].queryset = CashierSession.objects.all()
        accounts = deposits.bank_accounts_active()
        self.fields["bank_account"].queryset = accounts
        default = deposits.default_bank_account()
        self.fields["bank_account"].initial = default.pk if default else None
        self.fields["deposit_date"].initial = timezone.localdate()
        self.fields["idempotency_key"].initial = uuid.uuid4()
        self.denominations = []
        for key, label, value, is_coin in DENOMINATIONS:
            name = denomination_field_name(key)
            self.fields[name] = forms.IntegerField(
                required=False,
                min_value=0,
                max_value=100_000,
                label=label,
                widget=forms.NumberInput(
                    attrs={
                        "inputmode": "numeric",
                        "min": "0",
                        "step": "1",
                        "data-denomination": str(value),
                        "class": "form-control form-control-sm text-end",
                    }
                ),
            )
            self.denominations.append((key, name, is_coin))

    def bill_rows(self):
        return [self[name] for _key, name, is_coin in self.denominations if not is_coin]

    def coin_rows(self):
        return [self[name] for _key, name, is_coin in self.denominations if is_coin]

    def currency_count(self) -> dict[str, int]:
        data = self.cleaned_data
        return {key: data.get(name) or 0 for key, name, _coin in self.denominations}


def _chosen_ids(values) -> list[int]:
    return sorted({int(v) for v in values if str(v).isdigit()})


def _prepare_context(session_ids: list[int]) -> dict:
    chosen = deposits.sessions_ready_by_ids(session_ids) if session_ids else []
    return {
        "chosen": chosen,
        "chosen_totals": deposits.session_deposit_total(chosen),
        "checks": deposits.deposit_checks([f.session for f in chosen]),
    }


@permission_required(PREPARE, raise_exception=True)
def deposit_prepare(request):
    ready = deposits.sessions_ready_for_deposit()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        session_ids = _chosen_ids(request.POST.getlist("sessions"))
        form = DepositForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                deposit = deposits.deposit_prepare(
                    sessions=list(data["sessions"]),
                    currency_count=form.currency_count(),
                    coin_total=data["coin_total"],
                    idempotency_key=data["idempotency_key"],
                    user=request.user,
                    bank_account=data["bank_account"],
                    deposit_date=data["deposit_date"],
                )
            except deposits.DepositError as exc:
                for area, texts in exc.message_dict.items():
                    if area in ("deposit_date", "bank_account"):
                        for text in texts:
                            form.add_error(area, text)
                    else:
                        errors.setdefault(area, []).extend(texts)
            else:
                messages.success(
                    request,
                    f"Deposit {deposit.number} prepared for {deposit.total:,.2f}. "
                    "Print the slip and take it to the bank with the deposit.",
                )
                return redirect(deposit)
        elif "sessions" in form.errors:
            errors["sessions"] = list(form.errors["sessions"])
    else:
        session_ids = _chosen_ids(request.GET.getlist("session"))
        form = DepositForm(initial={"sessions": session_ids})
    return render(
        request,
        "cashiering/deposits/prepare.html",
        {
            "ready": ready,
            "ready_totals": deposits.session_deposit_total(ready),
            "chosen_ids": session_ids,
            "form": form,
            "errors": errors,
            **_prepare_context(session_ids),
            "breadcrumbs": [("Deposits", reverse("cashiering:deposits")), ("Prepare", None)],
        },
    )


@permission_required(VIEW, raise_exception=True)
def deposit_list(request):
    kind = request.GET.get("kind", "")
    if kind not in Deposit.Kind.values:
        kind = ""
    page = deposits.deposit_list_page(page_number=request.GET.get("page"), kind=kind)
    return render(
        request,
        "cashiering/deposits/list.html",
        {
            "page": page,
            "kind": kind,
            "kinds": Deposit.Kind.choices,
            "breadcrumbs": [("Deposits", None)],
        },
    )


@permission_required(VIEW, raise_exception=True)
def deposit_detail(request, pk: int):
    deposit = deposits.deposit_get(pk=pk)
    return render(
        request,
        "cashiering/deposits/detail.html",
        {
            "detail": deposits.deposit_detail(deposit),
            "deposit": deposit,
            "breadcrumbs": [
                ("Deposits", reverse("cashiering:deposits")),
                (f"Deposit {deposit.number}", None),
            ],
        },
    )


def _slip_context(deposit: Deposit) -> dict:
    return {
        "deposit": deposit,
        "detail": deposits.deposit_detail(deposit),
        "document_title": f"Deposit slip {deposit.number}",
    }


@require_GET
@permission_required(VIEW, raise_exception=True)
def deposit_slip_print(request, pk: int):
    deposit = deposits.deposit_get(pk=pk)
    context = _slip_context(deposit)
    context.update(
        pdf_url=reverse("cashiering:deposit-slip-pdf", args=[deposit.pk]),
        back_url=deposit.get_absolute_url(),
        breadcrumbs=[
            ("Deposits", reverse("cashiering:deposits")),
            (f"Deposit {deposit.number}", deposit.get_absolute_url()),
            ("Slip", None),
        ],
    )
    return print_response(request, SLIP_TEMPLATE, context)


@require_GET
@permission_required(VIEW, raise_exception=True)
def deposit_slip_pdf(request, pk: int):
    deposit = deposits.deposit_get(pk=pk)
    return pdf_response(
        SLIP_TEMPLATE,
        _slip_context(deposit),
        filename=f"deposit-{deposit.number}.pdf",
        request=request,
        inline=True,
    )
