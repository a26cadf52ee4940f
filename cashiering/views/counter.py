"""The counter: a cashier's session, payer lookup, receipt entry, receipts and printing."""

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from cashiering.errors import CashieringError, TenderTypesChanged
from cashiering.forms import (
    CARD_BRANDS,
    CorrectionForm,
    ReceiptEntryForm,
    SessionFilterForm,
    SessionOpenForm,
    line_row_for,
)
from cashiering.models import CashierSession, Receipt
from cashiering.selectors import counter as counter_selectors
from cashiering.selectors import payers as payers_selectors
from cashiering.services.receipts import receipt_post, receipt_record_print
from cashiering.services.sessions import session_close, session_open
from cashiering.validators import CARD_NUMBER_MESSAGE, contains_card_number
from kent_cs.reports import pdf_response
from kent_cs.selectors import object_timeline

OPERATE = "cashiering.operate_drawer"
RECEIPT_PDF_TEMPLATE = "reports/receipt.html"
LOOKUP_MIN_CHARS = 2


def _counter_crumbs(session: CashierSession | None = None, *tail) -> list:
    crumbs = []
    if session is not None:
        crumbs.append(
            (
                f"Drawer {session.drawer.code} · {session.business_date:%Y-%m-%d}",
                session.get_absolute_url(),
            )
        )
    crumbs.extend(tail)
    return crumbs


# ---------------------------------------------------------------------------- sessions


def my_session(request):
    """/counter/: straight to receipt entry in the cashier's open session, or to opening
    one. Supervisors, who watch rather than take payments, land on the session list."""
    user = request.user
    if not user.has_perm(OPERATE):
        if user.has_perm("cashiering.view_all_sessions"):
            return redirect("cashiering:sessions")
        raise PermissionDenied
    session = counter_selectors.open_session_for(user)
    if session is None:
        return redirect("cashiering:session-open")
    return redirect("cashiering:receipt-new", pk=session.pk)


@permission_required(OPERATE, raise_exception=True)
def session_open_view(request):
    current = counter_selectors.open_session_for(request.user)
    if current is not None:
        messages.info(request, f"Your session on drawer {current.drawer.code} is open.")
        return redirect("cashiering:receipt-new", pk=current.pk)
    drawers = counter_selectors.drawers_available()
    # ?training=1 (the training course's links) starts the form with "Training session" ticked.
    training = request.GET.get("training") == "1"
    form = SessionOpenForm(request.POST or None, drawers=drawers, initial={"is_training": training})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            session = session_open(
                cashier=request.user,
                drawer=data["drawer"],
                business_date=data["business_date"],
                opening_count=data["opening_count"],
                is_training=data["is_training"],
                approved_by=_approving_supervisor(request, form),
                approval_reason=data["approval_reason"],
            )
        except ValidationError as exc:  # CashieringError, or a count the service refused
            form.add_error(None, exc)
        else:
            kind = "training session" if session.is_training else "session"
            messages.success(
                request,
                f"Drawer {session.drawer.code} open ({kind}) with a float of "
                f"{session.opening_float:,.2f}.",
            )
            return redirect("cashiering:receipt-new", pk=session.pk)
    return render(
        request,
        "cashiering/counter/session_open.html",
        {
            "form": form,
            "no_drawers": not drawers.exists(),
            "breadcrumbs": [("Open a drawer", None)],
        },
    )


def _approving_supervisor(request, form):
    """The supervisor who signed an earlier business date at the counter with their own
    username and password (checked like a sign-in: a wrong one counts as a failure)."""
    data = form.cleaned_data
    if data["business_date"] >= form.today or not data["supervisor"]:
        return None
    try:
        approver = authenticate(
            request, username=data["supervisor"], password=data["supervisor_password"]
        )
    except PermissionDenied as exc:  # the supervisor's sign-ins are locked out
        raise CashieringError({"supervisor_password": [str(exc)]}) from None
    if approver is None:
        raise CashieringError(
            {"supervisor_password": ["That supervisor's username or password is wrong."]}
        )
    return approver


@permission_required("cashiering.view_cashiersession", raise_exception=True)
def session_detail(request, pk: int):
    session = counter_selectors.session_get_for_user(user=request.user, pk=pk)
    receipts = counter_selectors.session_receipts(session)
    user = request.user
    is_own = session.cashier_id == user.pk
    return render(
        request,
        "cashiering/counter/session_detail.html",
        {
            "session": session,
            "receipts": receipts,
            "summary": counter_selectors.session_summary(session, receipts),
            "is_own": is_own,
            "can_take_payments": is_own and session.is_open and user.has_perm(OPERATE),
            # The close is blind: the cashier learns what the drawer should hold only
            # after counting it.
            "show_expected": user.has_perm("cashiering.view_all_sessions")
            or hasattr(session, "count"),
            "can_close": session.is_open
            and user.has_perm(OPERATE)
            and (is_own or user.has_perm("cashiering.view_all_sessions")),
            "breadcrumbs": [
                *(
                    [("Sessions", reverse("cashiering:sessions"))]
                    if user.has_perm("cashiering.view_all_sessions")
                    else []
                ),
                (f"Drawer {session.drawer.code} · {session.business_date:%Y-%m-%d}", None),
            ],
        },
    )


@require_POST
@permission_required(OPERATE, raise_exception=True)
def session_close_view(request, pk: int):
    session = counter_selectors.session_get_for_user(user=request.user, pk=pk)
    try:
        session_close(session=session, user=request.user)
    except CashieringError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"Session on drawer {session.drawer.code} closed. No more payments can be taken "
            "in it; count the drawer next.",
        )
        return redirect("cashiering:blind-close", pk=session.pk)
    return redirect(session.get_absolute_url())


@permission_required("cashiering.view_all_sessions", raise_exception=True)
def session_list(request):
    form = SessionFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    page = counter_selectors.session_list_page(
        business_date=filters.get("business_date"),
        status=filters.get("status") or "",
        page_number=request.GET.get("page"),
    )
    return render(
        request,
        "cashiering/counter/session_list.html",
        {"form": form, "page": page, "breadcrumbs": [("Sessions", None)]},
    )


# ------------------------------------------------------------------------------ lookup


@require_GET
@permission_required(OPERATE, raise_exception=True)
def lookup(request):
    """The one search box: payers and payable items of every subsystem.

    An htmx request gets the result list only; otherwise the whole page."""
    q = (request.GET.get("q") or "").strip()[:100]
    mode = "receipt" if request.GET.get("mode") == "receipt" else "page"
    error = ""
    results = []
    if contains_card_number(q):
        error = CARD_NUMBER_MESSAGE
        q = ""  # not echoed back into the page
    elif len(q) >= LOOKUP_MIN_CHARS:
        results = payers_selectors.payer_search(q)
    context = {
        "q": q,
        "results": results,
        "error": error,
        "mode": mode,
        "searched": len(q) >= LOOKUP_MIN_CHARS,
        "open_session": counter_selectors.open_session_for(request.user)
        if mode == "page"
        else None,
        "breadcrumbs": [("Look up a payer", None)],
    }
    template = "cashiering/counter/lookup.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#results"
    return render(request, template, context)


# ---------------------------------------------------------------------- receipt entry


def _operating_session(request, pk: int) -> CashierSession:
    return counter_selectors.session_get_for_operator(user=request.user, pk=pk)


def _closed_redirect(request, session: CashierSession):
    messages.warning(request, "This session is closed; open a new session to take payments.")
    return redirect(session.get_absolute_url())


def _receipt_page(request, session, form: ReceiptEntryForm, *, status: int = 200):
    return render(
        request,
        "cashiering/counter/receipt_new.html",
        {
            "session": session,
            "form": form,
            "tender_types": form.tender_types.values(),
            "card_brands": CARD_BRANDS,
            "breadcrumbs": _counter_crumbs(session, ("New receipt", None)),
        },
        status=status,
    )


@require_GET
@never_cache
@permission_required(OPERATE, raise_exception=True)
def receipt_new(request, pk: int):
    """The receipt entry page. `?add=kind:ref` (repeatable) starts it with those items."""
    session = _operating_session(request, pk)
    if not session.is_open:
        return _closed_redirect(request, session)
    form = ReceiptEntryForm(tender_types=counter_selectors.tender_types_active())
    wanted = []
    for value in request.GET.getlist("add")[:20]:
        kind, _, ref = value.partition(":")
        if kind and ref:
            wanted.append((kind, ref))
    items = payers_selectors.load_items(wanted)
    for index, pair in enumerate((p for p in wanted if p in items), start=1):
        form.lines.append(line_row_for(items[pair], index))
    if form.lines:
        first = next((row for row in form.lines if not row.priced_by_quantity), None)
        form.payer_name = first.item.name if first else ""
        form.tenders[0].amount = f"{form.total:.2f}" if form.total else ""
    return _receipt_page(request, session, form)


@require_GET
@permission_required(OPERATE, raise_exception=True)
def receipt_line(request, pk: int):
    """One line row for (kind, ref), appended to the receipt by htmx."""
    session = _operating_session(request, pk)
    if not session.is_open:
        raise Http404("This session is closed.")
    kind = request.GET.get("kind", "")
    ref = request.GET.get("ref", "")
    item = payers_selectors.load_items([(kind, ref)]).get((kind, ref))
    if item is None:
        raise Http404("No such item.")
    return render(
        request,
        "cashiering/counter/receipt_new.html#line_row",
        {"line": line_row_for(item), "row_id": uuid.uuid4().hex[:8]},
    )


@require_POST
@permission_required(OPERATE, raise_exception=True)
def receipt_post_view(request, pk: int):
    # Posting needs only the session's id: the service locks the row and refuses anyone
    # but its cashier. The page shown again on an error fetches the session through the
    # user's scope, so another cashier's session answers 404.
    session = CashierSession(pk=pk)
    paid_with = [code for code in request.POST.getlist("tender_type") if code][:20]
    # The tender types come from the process's copy, which posting checks: when it is out
    # of date, nothing was posted, and the form is read again with the types as they are.
    for attempt in (1, 2):
        form = ReceiptEntryForm(
            request.POST, tender_types=counter_selectors.tender_types_for_posting(paid_with)
        )
        if not form.is_valid():
            break
        try:
            receipt = receipt_post(
                session=session,
                payer_name=form.payer_name,
                lines=form.line_inputs,
                tenders=form.tender_inputs,
                idempotency_key=form.idempotency_key,
                user=request.user,
                memo=form.memo,
            )
        except TenderTypesChanged as exc:
            counter_selectors.forget_tender_types()
            if attempt == 2:
                form.add_service_error(exc)
        except CashieringError as exc:
            form.add_service_error(exc)
            break
        else:
            return redirect("cashiering:receipt-print", pk=receipt.pk)
    form.attach_items(payers_selectors.load_items((row.kind, row.ref) for row in form.lines))
    form.offer_tender_types(counter_selectors.tender_types_active())  # the page lists them all
    return _receipt_page(request, _operating_session(request, pk), form)


# ---------------------------------------------------------------------------- receipts


def _city_address() -> list[str]:
    """Address lines under the city's name on printed receipts."""
    return list(settings.KENT_CITY_ADDRESS_LINES)


def receipt_context(receipt: Receipt) -> dict:
    return {
        "receipt": receipt,
        "city_address": _city_address(),
        "session": receipt.session,
        "lines": counter_selectors.receipt_lines(receipt),
        "tenders": counter_selectors.receipt_tenders(receipt),
    }


@permission_required("cashiering.view_receipt", raise_exception=True)
def receipt_detail(request, pk: int):
    user = request.user
    receipt = counter_selectors.receipt_get_for_user(user=user, pk=pk)
    session = receipt.session
    corrections = counter_selectors.receipt_corrections(receipt)
    reversed_by = counter_selectors.receipt_reversed_by(receipt)
    pending = any(c.status == "pending" for c in corrections)
    correctable = (
        receipt.status == Receipt.Status.POSTED
        and receipt.reverses_id is None
        and reversed_by is None
        and not pending
    )
    own_open = counter_selectors.open_session_for(user) if user.has_perm(OPERATE) else None
    return render(
        request,
        "cashiering/counter/receipt_detail.html",
        {
            **receipt_context(receipt),
            "corrections": corrections,
            "reversed_by": reversed_by,
            "pending_correction": pending,
            "can_request_void": correctable and session.is_open,
            "can_request_reversal": correctable and not session.is_open,
            "reversal_session": own_open,
            "void_form": CorrectionForm(auto_id="void_%s"),
            "reversal_form": CorrectionForm(auto_id="reversal_%s"),
            "print_count": counter_selectors.receipt_print_count(receipt),
            "timeline": object_timeline(receipt),
            "breadcrumbs": _counter_crumbs(session, (f"Receipt {receipt}", None)),
        },
    )


@require_GET
@never_cache
@permission_required("cashiering.view_receipt", raise_exception=True)
def receipt_print(request, pk: int):
    """The 80 mm thermal copy. Every view is recorded; all but the first say REPRINT."""
    receipt = counter_selectors.receipt_get_for_user(user=request.user, pk=pk)
    printed = receipt_record_print(receipt=receipt, user=request.user, format="thermal")
    new_receipt_url = None
    open_session = counter_selectors.open_session_for(request.user)
    if open_session is not None and request.user.has_perm(OPERATE):
        new_receipt_url = reverse("cashiering:receipt-new", args=[open_session.pk])
    return render(
        request,
        "cashiering/counter/receipt_print.html",
        {
            **receipt_context(receipt),
            "is_reprint": printed.is_reprint,
            "printed": printed,
            "new_receipt_url": new_receipt_url,
            "printed_at": timezone.localtime(printed.printed_at),
        },
    )


@require_GET
@permission_required("cashiering.view_receipt", raise_exception=True)
def receipt_pdf(request, pk: int) -> HttpResponse:
    receipt = counter_selectors.receipt_get_for_user(user=request.user, pk=pk)
    printed = receipt_record_print(receipt=receipt, user=request.user, format="pdf")
    return pdf_response(
        RECEIPT_PDF_TEMPLATE,
        {
            **receipt_context(receipt),
            "is_reprint": printed.is_reprint,
            "printed": printed,
            "printed_at": timezone.localtime(printed.printed_at),
            "document_title": f"Receipt {receipt}",
        },
        filename=f"receipt-{receipt.series}-{receipt.number}.pdf",
        request=request,
        inline=True,
    )
