"""Preparing a bank deposit: the cash and checks of counted sessions, or their card and ACH
settlements, posted from the clearing account to the bank account, numbered without gaps,
once per session and kind, exactly once per submitted form."""

import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from cashiering.denominations import DENOMINATIONS, count_total
from cashiering.errors import CashieringError, DepositError
from cashiering.models import (
    CashierSession,
    Deposit,
    DepositItem,
    DepositSession,
    TenderType,
)
from cashiering.selectors.deposits import (
    COIN_TOTAL_KEY,
    KIND_ORDER,
    SETTLEMENT_KINDS,
    SessionFunds,
    default_bank_account,
    deposit_checks,
    session_funds,
    tenders_of,
    with_funds,
)
from cashiering.services.closing import business_day_ensure_open
from kent_cs.money import ZERO, to_money
from kent_cs.numbering import next_number
from ledger.models import BankAccount, GLAccount, JournalEntry
from ledger.services import LedgerError, LineSpec, journal_entry_post

DEPOSIT_SERIES = "deposit"


MAX_COIN_TOTAL = Decimal("100000.00")


def _error(area: str, message: str) -> DepositError:
    return DepositError({area: [message]})


def _currency(currency_count: dict[str, Any], coin_total: Any) -> tuple[Decimal, Decimal, dict]:
    """(bills, coin, normalized count) from a count by denomination and an optional coin
    total; coin is entered by kind or as a total, not both."""
    try:
        _total, pieces = count_total(dict(currency_count))
    except ValidationError as exc:
        raise DepositError({"currency": exc.messages}) from None
    coin_keys = {key for key, _label, _value, is_coin in DENOMINATIONS if is_coin}
    values = {key: value for key, _label, value, _coin in DENOMINATIONS}
    bills = sum((values[k] * n for k, n in pieces.items() if k not in coin_keys), ZERO)
    coin = sum((values[k] * n for k, n in pieces.items() if k in coin_keys), ZERO)
    normalized: dict[str, Any] = dict(pieces)
    if coin_total not in (None, ""):
        try:
            rolled = to_money(coin_total)
        except (ValueError, ArithmeticError):
            raise _error("currency", "Enter the coin total as an amount, like 12.50.") from None
        if rolled < 0 or rolled > MAX_COIN_TOTAL:
            raise _error("currency", f"Enter a coin total between 0 and {MAX_COIN_TOTAL:,.2f}.")
        if rolled and coin:
            raise _error("currency", "Enter coin either by kind or as a total, not both.")
        if rolled:
            coin = rolled
            normalized[COIN_TOTAL_KEY] = str(rolled)
    return to_money(bills), to_money(coin), normalized


def _lock_sessions(sessions: Sequence[CashierSession]) -> list[SessionFunds]:
    """Lock the chosen sessions and read what each deposits.

    The race this guards: two technicians depositing the same session at once. FOR
    UPDATE in id order makes the second wait, then see the session deposited and refuse;
    the unique (session, kind) constraint on DepositSession backs it up.
    """
    ids = sorted({s.pk for s in sessions})
    if not ids:
        raise _error("sessions", "Choose at least one balanced session to deposit.")
    locked = list(
        CashierSession.objects.select_for_update(of=("self",))
        .select_related("drawer", "cashier")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    problems = []
    for session in locked:
        name = f"{session.drawer.code} {session.cashier.get_username()} {session.business_date}"
        if session.is_training:
            problems.append(f"Session {name} is a training session; it is never deposited.")
        elif session.status == CashierSession.Status.DEPOSITED:
            problems.append(f"Session {name} has already been deposited.")
        elif session.status != CashierSession.Status.BALANCED:
            problems.append(
                f"Session {name} is {session.get_status_display().lower()}, not balanced; "
                "balance it before depositing."
            )
    if len(locked) != len(ids):
        problems.append("A chosen session no longer exists.")
    if problems:
        raise DepositError({"sessions": problems})
    funds = [session_funds(s) for s in with_funds(CashierSession.objects.filter(pk__in=ids))]
    by_pk = {f.session.pk: f for f in funds}
    result = []
    for session in locked:
        entry = by_pk[session.pk]
        if not entry.has_count:
            raise _error("sessions", f"Session {session} has no cash count; balance it first.")
        result.append(entry)
    return result


def _settlement_keys(key: uuid.UUID) -> dict[str, uuid.UUID]:
    return {
        Deposit.Kind.CASH_CHECK: key,
        Deposit.Kind.CARD: uuid.uuid5(key, "card"),
        Deposit.Kind.ACH: uuid.uuid5(key, "ach"),
    }


def _first_of(keys: dict[str, uuid.UUID]) -> Deposit | None:
    found = {d.kind: d for d in Deposit.objects.filter(idempotency_key__in=list(keys.values()))}
    for kind in KIND_ORDER:
        if kind in found:
            return found[kind]
    return None


def _post(
    *,
    kind: str,
    number: int,
    bank_account: BankAccount,
    clearing: GLAccount,
    amount: Decimal,
    deposit_date: date,
    user: Any,
    sessions_text: str,
) -> JournalEntry:
    label = dict(Deposit.Kind.choices)[kind]
    try:
        return journal_entry_post(
            entry_date=deposit_date,
            memo=f"Deposit {number} ({label.lower()}) to {bank_account.name}: {sessions_text}",
            lines=[
                LineSpec(bank_account.gl_account, debit=amount, memo=f"Deposit {number}"),
                LineSpec(clearing, credit=amount, memo=f"Deposit {number}"),
            ],
            user=user,
            source="deposit",
            source_ref=str(number),
        )
    except LedgerError as exc:
        raise DepositError({"deposit_date": exc.messages}) from None


def _clearing_account(kinds: Iterable[str]) -> GLAccount:
    account = (
        GLAccount.objects.select_related("fund")
        .filter(pk__in=TenderType.objects.filter(kind__in=list(kinds)).values("clearing_account"))
        .first()
    )
    if account is None:
        raise _error(
            "sessions", "No tender type is set up for these payments; ask an administrator."
        )
    return account


def deposit_prepare(
    *,
    sessions: Sequence[CashierSession],
    currency_count: dict[str, Any],
    idempotency_key: uuid.UUID | str,
    user: Any,
    bank_account: BankAccount | None = None,
    deposit_date: date | None = None,
    coin_total: Decimal | str | None = None,
) -> Deposit:
    """Deposit the chosen balanced sessions: the cash-and-check deposit with its slip, and
    the card and ACH settlements as deposits of their own; the sessions become deposited.

    `currency_count` is the currency going to the bank by denomination (bills, and coin by
    kind), or coin as `coin_total`. It must equal the sessions' counted cash less their
    opening floats; the checks listed must equal the counted checks. Returns the
    cash-and-check deposit (or the first settlement when there is no cash or check). The
    same idempotency key returns the deposit it first made.
    """
    key = uuid.UUID(str(idempotency_key))
    keys = _settlement_keys(key)
    existing = _first_of(keys)
    if existing is not None:
        return existing
    bills, coin, normalized = _currency(currency_count, coin_total)
    deposit_date = deposit_date or timezone.localdate()
    bank = bank_account or default_bank_account()
    if bank is None:
        raise _error("bank_account", "No default bank account is set up; ask an administrator.")
    if not bank.is_active:
        raise _error("bank_account", f"Bank account {bank} is closed; choose another.")

    with transaction.atomic():
        # A double submit waits here for the first to commit, then finds its deposit
        # (instead of finding the sessions deposited and refusing).
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 11))", [str(key)])
        existing = _first_of(keys)
        if existing is not None:
            return existing
        funds = _lock_sessions(sessions)
        locked = [f.session for f in funds]
        latest = max(s.business_date for s in locked)
        try:
            business_day_ensure_open(deposit_date)  # nothing posts into a closed day
        except CashieringError as exc:
            raise _error("deposit_date", " ".join(exc.messages)) from None
        if deposit_date < latest:
            raise _error(
                "deposit_date",
                f"The deposit date {deposit_date:%Y-%m-%d} is before the business date "
                f"{latest:%Y-%m-%d} of a chosen session.",
            )
        cash_due = sum((f.cash for f in funds), ZERO)
        checks_counted = sum((f.checks for f in funds), ZERO)
        if bills + coin != cash_due:
            raise _error(
                "currency",
                f"The currency and coin entered total {bills + coin:,.2f}, but the sessions' "
                f"counted cash less their opening floats is {cash_due:,.2f}. Recount the "
                "deposit.",
            )
        checks = deposit_checks(locked)
        check_total = sum((c.amount for c in checks), ZERO)
        if check_total != checks_counted:
            raise _error(
                "checks",
                f"The checks and money orders taken total {check_total:,.2f}, but the "
                f"sessions' counted checks total {checks_counted:,.2f}. The count differs "
                "from the receipts; correct the count before depositing.",
            )
        sessions_text = ", ".join(
            f"{s.drawer.code} {s.cashier.get_username()} {s.business_date:%m/%d}" for s in locked
        )[:200]
        deposits: dict[str, Deposit] = {}
        cash_total = bills + coin + check_total
        if cash_total < 0:
            raise _error("checks", "The deposit comes to less than zero; it cannot be made.")
        if cash_total > 0:
            number = next_number(DEPOSIT_SERIES)
            deposits[Deposit.Kind.CASH_CHECK] = Deposit.objects.create(
                number=number,
                kind=Deposit.Kind.CASH_CHECK,
                bank_account=bank,
                deposit_date=deposit_date,
                total=cash_total,
                currency_total=bills,
                coin_total=coin,
                check_total=check_total,
                currency_count=normalized,
                journal_entry=_post(
                    kind=Deposit.Kind.CASH_CHECK,
                    number=number,
                    bank_account=bank,
                    clearing=_clearing_account([TenderType.Kind.CASH]),
                    amount=cash_total,
                    deposit_date=deposit_date,
                    user=user,
                    sessions_text=sessions_text,
                ),
                idempotency_key=keys[Deposit.Kind.CASH_CHECK],
                prepared_by=user,
            )
            DepositItem.objects.bulk_create(
                DepositItem(
                    deposit=deposits[Deposit.Kind.CASH_CHECK], tender=c.tender, amount=c.amount
                )
                for c in checks
            )
        settlement_tenders = {
            kind: tenders_of(locked, [tender_kind])
            for kind, tender_kind in SETTLEMENT_KINDS.items()
        }
        for kind, tenders in settlement_tenders.items():
            if kind == Deposit.Kind.CARD:  # what the terminal settled, over/short included
                amount = sum((f.card for f in funds), ZERO)
            else:
                amount = sum((t.amount for t in tenders), ZERO)
            if amount < 0:
                raise _error(
                    "sessions",
                    f"The {dict(Deposit.Kind.choices)[kind].lower()} comes to less than zero.",
                )
            if amount == 0:
                continue
            number = next_number(DEPOSIT_SERIES)
            deposit = Deposit.objects.create(
                number=number,
                kind=kind,
                bank_account=bank,
                deposit_date=deposit_date,
                total=amount,
                journal_entry=_post(
                    kind=kind,
                    number=number,
                    bank_account=bank,
                    clearing=_clearing_account([SETTLEMENT_KINDS[kind]]),
                    amount=amount,
                    deposit_date=deposit_date,
                    user=user,
                    sessions_text=sessions_text,
                ),
                idempotency_key=keys[kind],
                prepared_by=user,
            )
            DepositItem.objects.bulk_create(
                DepositItem(deposit=deposit, tender=t, amount=t.amount) for t in tenders
            )
            deposits[kind] = deposit
        if not deposits:
            raise _error("sessions", "The chosen sessions have nothing to deposit.")
        links = []
        for f in funds:
            portions: dict[str, Decimal] = {
                Deposit.Kind.CASH_CHECK: f.cash_and_checks,
                Deposit.Kind.CARD: f.card,
                Deposit.Kind.ACH: f.ach,
            }
            for made_kind, deposit in deposits.items():
                if made_kind == Deposit.Kind.CASH_CHECK or portions[made_kind]:
                    links.append(
                        DepositSession(
                            deposit=deposit,
                            session=f.session,
                            kind=made_kind,
                            amount=portions[made_kind],
                        )
                    )
        DepositSession.objects.bulk_create(links)
        CashierSession.objects.filter(pk__in=[s.pk for s in locked]).update(
            status=CashierSession.Status.DEPOSITED
        )
        for kind in KIND_ORDER:
            if kind in deposits:
                return deposits[kind]
    raise AssertionError("unreachable")  # pragma: no cover
