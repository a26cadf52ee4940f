"""Drawer sessions: opening a cashier session on a drawer for a business date (live or
training) and closing it for counting."""

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
) -> CashierSession:
    """Open `drawer` for `cashier` with a float counted by denomination."""
    if not drawer.is_active:
        raise CashieringError(f"Drawer {drawer.code} is out of service.")
    opening_float, normalized = count_total(opening_count)
    own_session = "You already have an open session; close it first."
    drawer_taken = f"Drawer {drawer.code} is already open for another cashier."

    try:
        with transaction.atomic():
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
