"""Drawer sessions: opening a cashier session on a drawer for a business date (live or
training) and closing it for counting. A drawer opens for today's business date; an
earlier (still open) date needs a supervisor's approval with a reason; a future date is
refused."""

from contextlib import nullcontext
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from cashiering.denominations import count_total
from cashiering.errors import CashieringError
from cashiering.models import (
    CashierSession,
    Drawer,
)
from cashiering.services.closing import business_day_ensure_open
from cashiering.services.receipt_inputs import check_text, field_error
from kent_cs import dates
from kent_cs.audit import audit_reason

LIVE_SERIES = "R"


TRAINING_SERIES = "T"


def number_series(series: str) -> str:
    return f"receipt-{series}"


def session_open(
    *,
    cashier,
    drawer: Drawer,
    business_date: date,
    opening_count: dict[str, int],
    is_training: bool = False,
    approved_by=None,
    approval_reason: str = "",
) -> CashierSession:
    """Open `drawer` for `cashier` with a float counted by denomination.

    `business_date` is today's unless a supervisor (`approved_by`, who has checked their
    own credentials at the counter) approves an earlier one with `approval_reason`."""
    if not drawer.is_active:
        raise CashieringError(f"Drawer {drawer.code} is out of service.")
    approval_reason = earlier_date_check(
        cashier=cashier,
        business_date=business_date,
        approved_by=approved_by,
        reason=approval_reason,
    )
    opening_float, normalized = count_total(opening_count)
    own_session = "You already have an open session; close it first."
    drawer_taken = f"Drawer {drawer.code} is already open for another cashier."

    audit = (
        f"Drawer opened for the earlier business date {business_date:%Y-%m-%d}, approved by "
        f"{approved_by.get_username()}: {approval_reason}"
        if approval_reason
        else ""
    )
    try:
        with transaction.atomic(), audit_reason(audit) if audit else nullcontext():
            # Refuses a closed business date, and holds the day open (FOR SHARE) until this
            # session is committed: a supervisor's close in flight waits, then sees it.
            business_day_ensure_open(business_date)
            if CashierSession.objects.filter(
                cashier=cashier, status=CashierSession.Status.OPEN
            ).exists():
                raise CashieringError(own_session)
            if CashierSession.objects.filter(
                drawer=drawer, status=CashierSession.Status.OPEN
            ).exists():
                raise CashieringError(drawer_taken)
            return CashierSession.objects.create(
                cashier=cashier,
                drawer=drawer,
                business_date=business_date,
                opening_float=opening_float,
                opening_count=normalized,
                is_training=is_training,
                earlier_date_approved_by=approved_by if approval_reason else None,
                earlier_date_reason=approval_reason,
            )
    except IntegrityError as exc:
        # Two openings at once both pass the checks above; the partial unique constraints
        # refuse the second (its savepoint is rolled back), which gets the same message.
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
        if constraint == "one_open_session_per_cashier":
            raise CashieringError(own_session) from None
        if constraint == "one_open_session_per_drawer":
            raise CashieringError(drawer_taken) from None
        raise


def earlier_date_check(*, cashier, business_date: date, approved_by, reason: str) -> str:
    """Refuse a future business date, and an earlier one without a supervisor's approval
    and reason. Returns the approval's reason ("" for today)."""
    today = dates.business_today()
    if business_date > today:
        raise field_error(
            "business_date",
            f"{business_date:%b %-d, %Y} has not begun: a drawer opens for today's business "
            f"date ({today:%b %-d, %Y}).",
        )
    if business_date == today:
        return ""
    earlier = f"{business_date:%b %-d, %Y} is before today ({today:%b %-d, %Y})"
    if approved_by is None:
        raise field_error(
            "business_date",
            f"{earlier}: opening for an earlier business date needs a supervisor's approval "
            "and a reason.",
        )
    if approved_by.pk == cashier.pk:
        raise field_error("supervisor", "Another person must approve your earlier business date.")
    if not approved_by.has_perm("cashiering.approve_earlier_business_date"):
        raise field_error(
            "supervisor",
            f"{approved_by.get_username()} cannot approve an earlier business date; "
            "ask a supervisor.",
        )
    reason = " ".join(reason.split())
    if not reason:
        raise field_error("approval_reason", f"{earlier}: enter the reason for opening on it.")
    check_text("approval_reason", reason)
    return reason[:300]


def session_close(*, session: CashierSession, user) -> CashierSession:
    """End taking payments on the session (the blind count comes next)."""
    with transaction.atomic():
        locked = CashierSession.objects.select_for_update().get(pk=session.pk)
        if locked.status != CashierSession.Status.OPEN:
            raise CashieringError("This session is not open.")
        if locked.cashier_id != user.pk and not user.has_perm("cashiering.view_all_sessions"):
            raise CashieringError("Only the session's cashier can close it.")
        locked.status = CashierSession.Status.CLOSED
        locked.closed_at = timezone.now()
        locked.save(update_fields=["status", "closed_at"])
    return locked
