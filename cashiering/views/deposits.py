"""Bank deposits: the technician chooses balanced sessions, counts the currency going to
the bank, and prepares the deposit; its slip prints as a page and as a PDF.

The preparation page works in two steps without JavaScript: choosing sessions is a GET
(`?session=1&session=4`), which shows what those sessions deposit, their checks, and the
currency form; the form posts back to the same URL with the sessions as hidden fields.
"""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from cashiering.errors import DepositError
from cashiering.forms import DepositForm
from cashiering.models import Deposit
from cashiering.selectors import deposits as deposits_selectors
from cashiering.services import deposits as deposits_services
from kent_cs.reports import pdf_response, print_response

PREPARE = "cashiering.prepare_deposit"
VIEW = "cashiering.view_deposit"
SLIP_TEMPLATE = "cashiering/deposits/slip.html"


def _chosen_ids(values) -> list[int]:
    return sorted({int(v) for v in values if str(v).isdigit()})


def _prepare_context(session_ids: list[int]) -> dict:
    chosen = deposits_selectors.sessions_ready_by_ids(session_ids) if session_ids else []
    sessions = [f.session for f in chosen]
    return {
        "chosen": chosen,
        "chosen_totals": deposits_selectors.session_deposit_total(chosen),
        "checks": deposits_selectors.deposit_checks(sessions) if sessions else [],
        "handed_back": deposits_selectors.checks_handed_back(sessions) if sessions else [],
    }


@permission_required(PREPARE, raise_exception=True)
def deposit_prepare(request):
    ready = deposits_selectors.sessions_ready_for_deposit()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        session_ids = _chosen_ids(request.POST.getlist("sessions"))
        form = DepositForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                deposit = deposits_services.deposit_prepare(
                    sessions=list(data["sessions"]),
                    currency_count=form.currency_count(),
                    coin_total=data["coin_total"],
                    idempotency_key=data["idempotency_key"],
                    user=request.user,
                    bank_account=data["bank_account"],
                    deposit_date=data["deposit_date"],
                )
            except DepositError as exc:
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
            "ready_totals": deposits_selectors.session_deposit_total(ready),
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
    page = deposits_selectors.deposit_list_page(page_number=request.GET.get("page"), kind=kind)
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
    deposit = deposits_selectors.deposit_get(pk=pk)
    return render(
        request,
        "cashiering/deposits/detail.html",
        {
            "detail": deposits_selectors.deposit_detail(deposit),
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
        "detail": deposits_selectors.deposit_detail(deposit),
        "document_title": f"Deposit slip {deposit.number}",
    }


@require_GET
@permission_required(VIEW, raise_exception=True)
def deposit_slip_print(request, pk: int):
    deposit = deposits_selectors.deposit_get(pk=pk)
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
    deposit = deposits_selectors.deposit_get(pk=pk)
    return pdf_response(
        SLIP_TEMPLATE,
        _slip_context(deposit),
        filename=f"deposit-{deposit.number}.pdf",
        request=request,
        inline=True,
    )
