"""Closing the day's writes: the blind close with over/short and its approval, balancing a
session, and closing and reopening a business day."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from cashiering.denominations import VALUES, count_total
from cashiering.errors import CashieringError
from cashiering.models import (
    BusinessDay,
    CashierSession,
    CounterPolicy,
    SessionCount,
    SessionCountLine,
    TenderType,
)
from cashiering.selectors.balancing import KINDS, Kind, session_expected, session_label
from kent_cs.audit import audit_reason
from kent_cs.money import ZERO, MoneyError, parse_money, to_money
from ledger.models import GLAccount, JournalEntry
from ledger.services import LedgerError, LineSpec, journal_entry_post, net_lines

MAX_CHECKS = 200


MAX_CHECK_NUMBER = 30


MAX_AMOUNT = Decimal("999999999.99")


@dataclass(frozen=True)
class CheckInput:
    """One check or money order listed at close, as typed (strings from the form)."""

    number: str
    amount: Decimal | str


def _clean_cash_count(cash_count: dict[str, Any]) -> tuple[Decimal, dict[str, int]]:
    """Whole numbers of pieces >= 0 by denomination, with the error at the denomination."""
    errors: dict[str, str] = {}
    pieces: dict[str, int] = {}
    for key, raw in cash_count.items():
        if key not in VALUES:
            raise CashieringError(f"Unknown denomination {key!r}.")
        if raw is None or raw == "":
            continue
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            errors[f"cash-{key}"] = "Enter a whole number of pieces (0 or more)."
            continue
        text = str(raw).strip()
        if not text.isdigit():  # refuses "-1", "1.5", "1e3"
            errors[f"cash-{key}"] = "Enter a whole number of pieces (0 or more)."
            continue
        pieces[key] = int(text)
    if errors:
        raise CashieringError(errors)
    try:
        return count_total(pieces)
    except Exception as exc:  # count_total's range check (a ValidationError)
        raise CashieringError(getattr(exc, "messages", [str(exc)])) from None


def _money_input(value: Decimal | str) -> Decimal:
    if isinstance(value, Decimal):
        return to_money(value)
    return parse_money(str(value))


def _clean_checks(checks: list[CheckInput]) -> list[dict[str, str]]:
    """Listed checks as stored ([{number, amount}]); a row with only one of the two is
    refused at that row, an empty row is skipped."""
    errors: dict[str, str] = {}
    cleaned: list[dict[str, str]] = []
    for index, row in enumerate(checks, start=1):
        number = (row.number or "").strip()
        raw_amount = row.amount if isinstance(row.amount, Decimal) else (row.amount or "").strip()
        if not number and raw_amount == "":
            continue
        field = f"check-{index}"
        if not number:
            errors[field] = f"Row {index}: enter the check or money order number."
            continue
        if len(number) > MAX_CHECK_NUMBER:
            errors[field] = f"Row {index}: a number has at most {MAX_CHECK_NUMBER} characters."
            continue
        if raw_amount == "":
            errors[field] = f"Row {index}: enter the amount of check {number}."
            continue
        try:
            amount = _money_input(raw_amount)
        except MoneyError:
            errors[field] = f"Row {index}: {raw_amount!s} is not an amount."
            continue
        if amount <= 0 or amount > MAX_AMOUNT:
            errors[field] = f"Row {index}: the amount must be more than zero."
            continue
        cleaned.append({"number": number, "amount": f"{amount:.2f}"})
    if errors:
        raise CashieringError(errors)
    if len(cleaned) > MAX_CHECKS:
        raise CashieringError({"checks": f"List at most {MAX_CHECKS} checks."})
    return cleaned


def _clean_card_settlement(value: Decimal | str | None) -> Decimal:
    if value is None or (isinstance(value, str) and not value.strip()):
        return ZERO
    try:
        amount = _money_input(value)
    except MoneyError:
        raise CashieringError(
            {"card_settlement": "Enter the settlement total as an amount, e.g. 412.50."}
        ) from None
    if amount < 0:
        raise CashieringError({"card_settlement": "The settlement total cannot be negative."})
    if amount > MAX_AMOUNT:
        raise CashieringError({"card_settlement": "Enter an amount of at most 999,999,999.99."})
    return amount


def _clearing_accounts() -> dict[str, GLAccount]:
    """Where each kind's over/short is booked against: cash and checks on the cash tender
    type's clearing account (undeposited receipts), cards on the card tender types'."""
    types = TenderType.objects.select_related("clearing_account__fund").order_by(
        "-is_active", "sort_order", "code"
    )
    first: dict[str, GLAccount] = {}
    for tender_type in types:
        first.setdefault(tender_type.kind, tender_type.clearing_account)
    cash = first.get(TenderType.Kind.CASH)
    if cash is None:
        raise CashieringError("No cash tender type is set up; ask an administrator.")
    return {Kind.CASH: cash, Kind.CHECKS: cash, Kind.CARDS: first.get(TenderType.Kind.CARD, cash)}


def _over_short_entry(
    *, count: SessionCount, lines: list[SessionCountLine], user
) -> JournalEntry | None:
    """Shortage: Dr over/short, Cr the kind's clearing account; overage the other way."""
    policy = CounterPolicy.current()
    account = policy.over_short_account
    if account is None:
        raise CashieringError(
            "The counter policy has no over/short account; ask an administrator to set it."
        )
    clearing = _clearing_accounts()
    specs: list[LineSpec] = []
    for line in lines:
        if line.over_short < 0:
            short = -line.over_short
            specs.append(LineSpec(account, debit=short, memo=f"{line.get_kind_display()} short"))
            specs.append(LineSpec(clearing[line.kind], credit=short))
        elif line.over_short > 0:
            specs.append(LineSpec(clearing[line.kind], debit=line.over_short))
            specs.append(
                LineSpec(account, credit=line.over_short, memo=f"{line.get_kind_display()} over")
            )
    specs = net_lines(specs)
    if len(specs) < 2:
        return None
    session = count.session
    try:
        return journal_entry_post(
            entry_date=session.business_date,
            memo=(
                f"Over/short drawer {session.drawer.code} "
                f"{session.cashier.get_username()} {session.business_date:%Y-%m-%d}: "
                f"{count.over_short:+.2f}"
            ),
            lines=specs,
            user=user,
            source="over_short",
            source_ref=str(session.pk),
        )
    except LedgerError as exc:
        raise CashieringError(exc.messages) from None


def needs_approval(over_short: Decimal, lines: list[SessionCountLine]) -> bool:
    """Above the policy's threshold, in total or on any one kind of tender: a cash
    shortage hidden by a card overage of the same size still needs a supervisor."""
    threshold = CounterPolicy.current().over_short_threshold
    return abs(over_short) > threshold or any(abs(line.over_short) > threshold for line in lines)


def session_blind_close(
    *,
    session: CashierSession,
    cash_count: dict[str, Any],
    checks: list[CheckInput],
    card_settlement: Decimal | str | None,
    note: str = "",
    user,
) -> SessionCount:
    """Close the session (if still open) and record the cashier's blind count.

    Over/short within the policy's threshold posts at once; above it the count waits for
    a supervisor. Training sessions: the count is recorded, nothing is posted.
    """
    cash_total, pieces = _clean_cash_count(cash_count)
    listed = _clean_checks(list(checks))
    cards = _clean_card_settlement(card_settlement)
    note = (note or "").strip()
    if len(note) > 300:
        raise CashieringError({"note": "Keep the note to 300 characters."})
    counted = {
        Kind.CASH: cash_total,
        Kind.CHECKS: sum((Decimal(c["amount"]) for c in listed), ZERO),
        Kind.CARDS: cards,
    }
    with transaction.atomic():
        # FOR UPDATE: a receipt being posted (FOR NO KEY UPDATE on the session) finishes
        # before the count, and two submits of the count do not both pass the checks.
        locked = (
            CashierSession.objects.select_for_update(of=("self",))
            .select_related("drawer", "cashier")
            .get(pk=session.pk)
        )
        if locked.cashier_id != user.pk and not user.has_perm("cashiering.view_all_sessions"):
            raise CashieringError("Only the session's cashier can count this drawer.")
        if SessionCount.objects.filter(session=locked).exists():
            raise CashieringError("This drawer has already been counted.")
        if locked.status == CashierSession.Status.OPEN:
            locked.status = CashierSession.Status.CLOSED
            locked.closed_at = timezone.now()
            locked.save(update_fields=["status", "closed_at"])
        elif locked.status != CashierSession.Status.CLOSED:
            raise CashieringError("This session is already balanced.")
        expected = session_expected(locked)
        lines = [
            SessionCountLine(
                kind=kind,
                expected=expected.of(kind),
                counted=counted[kind],
                over_short=counted[kind] - expected.of(kind),
            )
            for kind in KINDS
        ]
        over_short = sum((line.over_short for line in lines), ZERO)
        if over_short == 0 and all(line.over_short == 0 for line in lines):
            status = SessionCount.Status.BALANCED
        elif locked.is_training or not needs_approval(over_short, lines):
            status = SessionCount.Status.POSTED
        else:
            status = SessionCount.Status.PENDING
        count = SessionCount.objects.create(
            session=locked,
            counted_by=user,
            cash_count=pieces,
            checks=listed,
            card_settlement=cards,
            over_short=over_short,
            status=status,
            cashier_note=note,
        )
        for line in lines:
            line.count = count
        SessionCountLine.objects.bulk_create(lines)
        if status == SessionCount.Status.POSTED and not locked.is_training:
            count.over_short_entry = _over_short_entry(count=count, lines=lines, user=user)
            if count.over_short_entry is not None:
                count.save(update_fields=["over_short_entry"])
    return count


def over_short_approve(*, count: SessionCount, explanation: str, user) -> SessionCount:
    """A supervisor approves an over/short above the threshold; its entry posts now."""
    explanation = (explanation or "").strip()
    if not user.has_perm("cashiering.approve_over_short"):
        raise CashieringError("Only a supervisor can approve an over/short.")
    if not explanation:
        raise CashieringError({"explanation": "Explain the over/short before approving it."})
    if len(explanation) > 300:
        raise CashieringError({"explanation": "Keep the explanation to 300 characters."})
    with transaction.atomic(), audit_reason(explanation):
        locked = (
            SessionCount.objects.select_for_update(of=("self",))
            .select_related("session__drawer", "session__cashier")
            .get(pk=count.pk)
        )
        if user.pk in (locked.session.cashier_id, locked.counted_by_id):
            raise CashieringError(
                "You cannot approve the over/short of your own drawer; another supervisor must."
            )
        if locked.status != SessionCount.Status.PENDING:
            raise CashieringError("This over/short is not waiting for approval.")
        lines = list(locked.lines.all())
        locked.over_short_entry = _over_short_entry(count=locked, lines=lines, user=user)
        locked.status = SessionCount.Status.APPROVED
        locked.decided_by = user
        locked.decided_at = timezone.now()
        locked.explanation = explanation
        locked.save(
            update_fields=["over_short_entry", "status", "decided_by", "decided_at", "explanation"]
        )
    return locked


def session_balance(*, session: CashierSession, user) -> CashierSession:
    """The technician marks a counted session balanced once its over/short is settled."""
    if not user.has_perm("cashiering.balance_day"):
        raise CashieringError("You may not balance drawers.")
    with transaction.atomic():
        locked = (
            CashierSession.objects.select_for_update(of=("self",))
            .select_related("drawer")
            .get(pk=session.pk)
        )
        if locked.status == CashierSession.Status.OPEN:
            raise CashieringError(f"Drawer {locked.drawer.code} is still open; count it first.")
        if locked.status != CashierSession.Status.CLOSED:
            raise CashieringError(f"Drawer {locked.drawer.code} is already balanced.")
        count = SessionCount.objects.filter(session=locked).first()
        if count is None:
            raise CashieringError(f"Drawer {locked.drawer.code} has not been counted yet.")
        if count.status == SessionCount.Status.PENDING:
            raise CashieringError(
                f"The over/short of drawer {locked.drawer.code} is waiting for a supervisor's "
                "approval."
            )
        locked.status = CashierSession.Status.BALANCED
        locked.save(update_fields=["status"])
    return locked


def _business_day_row(business_date: date, *, lock: str) -> BusinessDay:
    """The date's row, created (open) if missing, then locked.

    Creating it first gives a concurrent close and a concurrent session opening a row
    to meet on: with no row, neither would wait for the other.
    """
    BusinessDay.objects.bulk_create(
        [BusinessDay(business_date=business_date)], ignore_conflicts=True
    )
    clause = "FOR UPDATE" if lock == "update" else "FOR SHARE"
    return BusinessDay.objects.raw(
        f"SELECT * FROM cashiering_businessday WHERE business_date = %s {clause}",
        [business_date],
    )[0]


def business_day_ensure_open(business_date: date) -> None:
    """Inside the caller's transaction: refuse a closed business date, and hold the day
    open (FOR SHARE) until the caller commits, so a close in flight waits for it."""
    day = _business_day_row(business_date, lock="share")
    if day.is_closed:
        raise CashieringError(
            f"Business day {business_date:%Y-%m-%d} is closed; nothing can be taken into it. "
            "A supervisor can reopen it."
        )


def business_day_close(*, business_date: date, user) -> BusinessDay:
    if not user.has_perm("cashiering.close_business_day"):
        raise CashieringError("Only a supervisor can close a business day.")
    with transaction.atomic(), audit_reason("Business day closed"):
        # FOR UPDATE waits for session openings in flight (they hold FOR SHARE).
        day = _business_day_row(business_date, lock="update")
        if day.is_closed:
            raise CashieringError(f"Business day {business_date:%Y-%m-%d} is already closed.")
        sessions = list(
            CashierSession.objects.filter(business_date=business_date)
            .select_related("drawer", "cashier", "count")
            .order_by("drawer__code", "opened_at")
        )
        problems = []
        still_open = [s for s in sessions if s.status == CashierSession.Status.OPEN]
        if still_open:
            problems.append("still open: " + ", ".join(session_label(s) for s in still_open))
        pending = [
            s
            for s in sessions
            if getattr(s, "count", None) is not None
            and s.count.status == SessionCount.Status.PENDING
        ]
        if pending:
            problems.append(
                "over/short waiting for approval: " + ", ".join(session_label(s) for s in pending)
            )
        unbalanced = [
            s
            for s in sessions
            if s.status == CashierSession.Status.CLOSED and not s.is_training and s not in pending
        ]
        if unbalanced:
            problems.append("not yet balanced: " + ", ".join(session_label(s) for s in unbalanced))
        if problems:
            raise CashieringError(
                f"Business day {business_date:%Y-%m-%d} cannot be closed. Drawers "
                + "; ".join(problems)
                + "."
            )
        day.status = BusinessDay.Status.CLOSED
        day.closed_by = user
        day.closed_at = timezone.now()
        day.save(update_fields=["status", "closed_by", "closed_at"])
    return day


def business_day_reopen(*, business_date: date, reason: str, user) -> BusinessDay:
    reason = (reason or "").strip()
    if not user.has_perm("cashiering.close_business_day"):
        raise CashieringError("Only a supervisor can reopen a business day.")
    if not reason:
        raise CashieringError({"reason": "Enter the reason for reopening the day."})
    if len(reason) > 300:
        raise CashieringError({"reason": "Keep the reason to 300 characters."})
    with transaction.atomic(), audit_reason(reason):
        day = BusinessDay.objects.select_for_update().filter(business_date=business_date).first()
        if day is None or not day.is_closed:
            raise CashieringError(f"Business day {business_date:%Y-%m-%d} is not closed.")
        day.status = BusinessDay.Status.OPEN
        day.reopened_by = user
        day.reopened_at = timezone.now()
        day.reopen_reason = reason
        day.save(update_fields=["status", "reopened_by", "reopened_at", "reopen_reason"])
    return day
