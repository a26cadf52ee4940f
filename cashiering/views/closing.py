"""Closing: the cashier's blind count, its result, supervisor approval of over/short,
the technician's daily balancing page, and closing or reopening a business day.

The rules live in cashiering.closing; these views fetch with the user's scope, call the
services, and say what happened.
"""

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from cashiering.denominations import DENOMINATIONS, VALUES
from cashiering.errors import CashieringError
from cashiering.forms import denomination_field_name
from cashiering.models import CashierSession, SessionCount
from cashiering.selectors import balancing as balancing_selectors
from cashiering.selectors import counter as counter_selectors
from cashiering.selectors import deposits as deposits_selectors
from cashiering.services import closing as closing_services

OPERATE = "cashiering.operate_drawer"
BALANCE = "cashiering.balance_day"
CHECK_ROWS = 5


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Http404("No such business date.") from None


def _error_text(exc: CashieringError) -> str:
    return " ".join(exc.messages)


def _session_crumbs(session: CashierSession, *tail) -> list:
    return [
        (
            f"Drawer {session.drawer.code} · {session.business_date:%Y-%m-%d}",
            session.get_absolute_url(),
        ),
        *tail,
    ]


# ------------------------------------------------------------------------ blind close


def _blind_close_context(request, session, *, errors=None, values=None) -> dict:
    errors = errors or {}
    values = values or {}
    cash_rows = [
        {
            "key": key,
            "name": f"cash-{key}",
            "id": "id_" + denomination_field_name(key),
            "label": label,
            "value": values.get(f"cash-{key}", ""),
            "denomination": str(value),
            "is_coin": is_coin,
            "errors": errors.get(f"cash-{key}", []),
        }
        for key, label, value, is_coin in DENOMINATIONS
    ]
    numbers = values.get("check_number") or []
    amounts = values.get("check_amount") or []
    rows = max(CHECK_ROWS, len(numbers), len(amounts))
    check_rows = [
        {
            "index": index,
            "number": numbers[index - 1] if index <= len(numbers) else "",
            "amount": amounts[index - 1] if index <= len(amounts) else "",
            "errors": errors.get(f"check-{index}", []),
        }
        for index in range(1, rows + 1)
    ]
    known = {f"cash-{key}" for key in VALUES} | {f"check-{i}" for i in range(1, rows + 1)}
    known |= {"card_settlement", "note"}
    general = errors.get("__all__", []) + [
        message
        for key, items in errors.items()
        if key not in known | {"__all__"}
        for message in items
    ]
    return {
        "session": session,
        "cash_rows": cash_rows,
        "check_rows": check_rows,
        "next_check_index": rows + 1,
        "card_settlement": values.get("card_settlement", ""),
        "note": values.get("note", ""),
        "errors": errors,
        "general_errors": general,
        "is_own": session.cashier_id == request.user.pk,
        "handed_back": deposits_selectors.checks_handed_back([session]),
        "breadcrumbs": _session_crumbs(session, ("Close and count", None)),
    }


@never_cache
@permission_required(OPERATE, raise_exception=True)
def blind_close(request, pk: int):
    """The cashier counts the drawer without seeing what is expected, then sees the result."""
    session = counter_selectors.session_get_for_user(user=request.user, pk=pk)
    if SessionCount.objects.filter(session=session).exists():
        if request.method == "POST":
            messages.info(request, "This drawer has already been counted.")
        return redirect("cashiering:session-count", pk=session.pk)
    if session.status not in (CashierSession.Status.OPEN, CashierSession.Status.CLOSED):
        messages.info(request, "This session is already balanced.")
        return redirect(session)
    if request.method != "POST":
        return render(
            request, "cashiering/closing/blind_close.html", _blind_close_context(request, session)
        )
    post = request.POST
    values = {
        **{f"cash-{key}": post.get(f"cash-{key}", "").strip() for key in VALUES},
        "check_number": post.getlist("check_number")[: closing_services.MAX_CHECKS + 1],
        "check_amount": post.getlist("check_amount")[: closing_services.MAX_CHECKS + 1],
        "card_settlement": post.get("card_settlement", "").strip(),
        "note": post.get("note", "").strip(),
    }
    numbers, amounts = values["check_number"], values["check_amount"]
    checks = [
        closing_services.CheckInput(
            number=numbers[i] if i < len(numbers) else "",
            amount=amounts[i] if i < len(amounts) else "",
        )
        for i in range(max(len(numbers), len(amounts)))
    ]
    try:
        count = closing_services.session_blind_close(
            session=session,
            cash_count={key: values[f"cash-{key}"] for key in VALUES},
            checks=checks,
            card_settlement=values["card_settlement"],
            note=values["note"],
            user=request.user,
        )
    except CashieringError as exc:
        if SessionCount.objects.filter(session=session).exists():  # a double submit
            return redirect("cashiering:session-count", pk=session.pk)
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        return render(
            request,
            "cashiering/closing/blind_close.html",
            _blind_close_context(request, session, errors=errors, values=values),
            status=422,
        )
    if count.status == SessionCount.Status.PENDING:
        messages.warning(
            request,
            f"Drawer {session.drawer.code} counted. The over/short of {count.over_short:+,.2f} "
            "is above the limit: a supervisor must approve it.",
        )
    else:
        messages.success(request, f"Drawer {session.drawer.code} closed and counted.")
    return redirect("cashiering:session-count", pk=session.pk)


@require_GET
@permission_required(OPERATE, raise_exception=True)
def blind_close_check_row(request, pk: int):
    """One more empty check row for the count form (htmx)."""
    session = counter_selectors.session_get_for_user(user=request.user, pk=pk)
    try:
        index = max(1, min(int(request.GET.get("index", "1")), closing_services.MAX_CHECKS))
    except ValueError:
        index = 1
    return render(
        request,
        "cashiering/closing/blind_close.html#check_row_added",
        {
            "session": session,
            "row": {"index": index, "number": "", "amount": "", "errors": []},
            "next_check_index": index + 1,
        },
    )


# ------------------------------------------------------------------- count and approval


@permission_required("cashiering.view_cashiersession", raise_exception=True)
def count_detail(request, pk: int):
    count = balancing_selectors.count_get_for_user(user=request.user, session_pk=pk)
    session = count.session
    user = request.user
    return render(
        request,
        "cashiering/closing/count_detail.html",
        {
            "count": count,
            "session": session,
            "lines": balancing_selectors.count_lines(count),
            "deposit": balancing_selectors.count_deposit_amounts(count),
            "cash_rows": [
                (label, count.cash_count.get(key, 0), value * count.cash_count.get(key, 0))
                for key, label, value, _coin in DENOMINATIONS
                if count.cash_count.get(key)
            ],
            "can_approve": count.status == SessionCount.Status.PENDING
            and user.has_perm("cashiering.approve_over_short")
            and user.pk not in (session.cashier_id, count.counted_by_id),
            "own_pending": count.status == SessionCount.Status.PENDING
            and user.pk in (session.cashier_id, count.counted_by_id),
            "can_balance": user.has_perm(BALANCE)
            and session.status == CashierSession.Status.CLOSED
            and count.status in balancing_selectors.SETTLED,
            "day_url": reverse("cashiering:day-balancing", args=[session.business_date.isoformat()])
            if user.has_perm(BALANCE)
            else None,
            "breadcrumbs": _session_crumbs(session, ("Count", None)),
        },
    )


@require_POST
@permission_required("cashiering.approve_over_short", raise_exception=True)
def over_short_approve(request, pk: int):
    count = balancing_selectors.count_get_for_user(user=request.user, session_pk=pk)
    try:
        approved = closing_services.over_short_approve(
            count=count, explanation=request.POST.get("explanation", ""), user=request.user
        )
    except CashieringError as exc:
        messages.error(request, f"Drawer {count.session.drawer.code}: {_error_text(exc)}")
    else:
        messages.success(
            request,
            f"Over/short of {approved.over_short:+,.2f} on drawer {count.session.drawer.code} "
            "approved and posted.",
        )
    return redirect(_back(request, count.session))


def _back(request, session: CashierSession) -> str:
    """Back to the daily page when the action came from it, else to the count."""
    if request.POST.get("next") == "day":
        return reverse("cashiering:day-balancing", args=[session.business_date.isoformat()])
    return reverse("cashiering:session-count", args=[session.pk])


@require_POST
@permission_required(BALANCE, raise_exception=True)
def session_balance(request, pk: int):
    session = counter_selectors.session_get_for_user(user=request.user, pk=pk)
    try:
        closing_services.session_balance(session=session, user=request.user)
    except CashieringError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, f"Drawer {session.drawer.code} balanced.")
    return redirect(_back(request, session))


# --------------------------------------------------------------------- daily balancing


@permission_required(BALANCE, raise_exception=True)
def day_index(request):
    wanted = request.GET.get("date", "").strip()
    if wanted:
        try:
            day = date.fromisoformat(wanted)
        except ValueError:
            messages.error(request, "Enter the date as YYYY-MM-DD.")
        else:
            return redirect("cashiering:day-balancing", business_date=day.isoformat())
    return render(
        request,
        "cashiering/closing/day_index.html",
        {
            "days": balancing_selectors.recent_days(),
            "pending": list(balancing_selectors.pending_counts()[:50]),
            "today": timezone.localdate(),
            "breadcrumbs": [("Daily balancing", None)],
        },
    )


@permission_required(BALANCE, raise_exception=True)
def day_balancing(request, business_date: str):
    day = _parse_date(business_date)
    user = request.user
    return render(
        request,
        "cashiering/closing/day_balancing.html",
        {
            "report": balancing_selectors.day_balancing(day),
            "kinds": balancing_selectors.KINDS,
            "can_close_day": user.has_perm("cashiering.close_business_day"),
            "can_approve": user.has_perm("cashiering.approve_over_short"),
            "breadcrumbs": [
                ("Daily balancing", reverse("cashiering:balancing")),
                (f"{day:%Y-%m-%d}", None),
            ],
        },
    )


@require_POST
@permission_required("cashiering.close_business_day", raise_exception=True)
def day_close(request, business_date: str):
    day = _parse_date(business_date)
    try:
        closing_services.business_day_close(business_date=day, user=request.user)
    except CashieringError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(
            request, f"Business day {day:%Y-%m-%d} closed: nothing more posts into it."
        )
    return redirect("cashiering:day-balancing", business_date=day.isoformat())


@require_POST
@permission_required("cashiering.close_business_day", raise_exception=True)
def day_reopen(request, business_date: str):
    day = _parse_date(business_date)
    try:
        closing_services.business_day_reopen(
            business_date=day, reason=request.POST.get("reason", ""), user=request.user
        )
    except CashieringError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, f"Business day {day:%Y-%m-%d} reopened.")
    return redirect("cashiering:day-balancing", business_date=day.isoformat())
