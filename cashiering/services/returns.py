"""Processing a returned check: the bank's returned item matched to the check tender, the
receipt's credits reversed onto what the payer owes again (or the returned-checks
receivable), the NSF fee, the payer flagged; dismissing a returned item."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from cashiering.errors import CashieringError, ledger_errors
from cashiering.models import (
    CashierSession,
    CounterPolicy,
    DepositItem,
    Receipt,
    ReceiptLine,
    ReturnedCheck,
    ReturnedCheckLine,
    Tender,
    TenderType,
)
from cashiering.selectors.returns import RETURNED_CHECK_KIND, returned_check_number, today
from cashiering.services.closing import business_day_ensure_open
from cashiering.targets import IndexRow, TargetError, TargetItem, get_target_type, index_upsert
from kent_cs.audit import audit_reason
from kent_cs.money import ZERO, to_money
from ledger.models import BankAccount, BankTransaction, GLAccount
from ledger.services import LineSpec, journal_entry_post, net_lines

RETURNED_CHECK_FEE_CODE = "RC-PAY"


def _error(field: str | None, message: str) -> CashieringError:
    return CashieringError({field: [message]} if field else message)


def _index_row(returned_check: ReturnedCheck, *, is_active: bool = True) -> IndexRow:
    tender = returned_check.tender
    check = f"check #{tender.check_number}" if tender is not None else "check"
    return IndexRow(
        kind=RETURNED_CHECK_KIND,
        ref=str(returned_check.pk),
        number=returned_check_number(returned_check),
        name=returned_check.payer_name or "Returned check",
        detail=f"Returned {check} on receipt {returned_check.receipt}",
        is_active=is_active,
    )


def returned_check_index(returned_check: ReturnedCheck, *, balance: Decimal) -> None:
    """Keep the counter's search row: active while something is owed."""
    row = _index_row(returned_check, is_active=balance > 0)
    index_upsert(**row.__dict__)


def _lock_targets(lines: Sequence[ReceiptLine]) -> dict[tuple[str, str], TargetItem]:
    by_kind: dict[str, set[str]] = {}
    for line in lines:
        by_kind.setdefault(line.target_kind, set()).add(line.target_ref)
    items: dict[tuple[str, str], TargetItem] = {}
    for kind in sorted(by_kind):  # the order receipt posting locks in
        try:
            target_type = get_target_type(kind)
        except TargetError:
            continue
        for ref, item in target_type.load(sorted(by_kind[kind]), for_update=True).items():
            items[(kind, ref)] = item
    return items


def allocate(lines: Sequence[ReceiptLine], amount: Decimal, *, skip: Decimal = ZERO):
    """[(line, part)] spreading `amount` over the lines in order, after the first `skip`
    (what earlier returned checks of the receipt already re-opened)."""
    parts = []
    left = amount
    for line in lines:
        available = line.amount
        if skip > 0:
            taken = min(skip, available)
            skip -= taken
            available -= taken
        part = min(left, available)
        if part > 0:
            parts.append((line, part))
            left -= part
        if left <= 0:
            break
    return parts, left


def _bank_gl_account(tender: Tender) -> GLAccount:
    item = DepositItem.objects.filter(tender=tender).select_related(
        "deposit__bank_account__gl_account__fund"
    )
    found = item.first()
    if found is not None:
        return found.deposit.bank_account.gl_account
    bank = BankAccount.objects.filter(is_default=True).select_related("gl_account__fund").first()
    if bank is None:
        raise CashieringError("No default bank account is set up; ask an administrator.")
    return bank.gl_account


def returned_check_process(
    *,
    returned_check: ReturnedCheck | None = None,
    tender: Tender | None = None,
    bank_transaction: BankTransaction | None = None,
    reason: str,
    returned_on: date,
    user: Any,
    fee: bool = True,
    note: str = "",
) -> ReturnedCheck:
    """Process a returned check: re-open its targets, post the reversal and the NSF fee."""
    if reason not in ReturnedCheck.Reason.values:
        raise _error("reason", "Choose why the bank returned the check.")
    if not isinstance(returned_on, date):
        raise _error("returned_on", "Enter the date the bank returned the check.")
    if not user.has_perm("cashiering.process_returned_check"):
        raise CashieringError("Only an accounting technician can process returned checks.")
    note = note.strip()[:300]
    reason_label = ReturnedCheck.Reason(reason).label
    with transaction.atomic(), audit_reason(f"Returned check: {reason_label}"):
        if returned_check is not None:
            returned_check = ReturnedCheck.objects.select_for_update().get(pk=returned_check.pk)
            if returned_check.status != ReturnedCheck.Status.PROPOSED:
                raise CashieringError(
                    "This returned check was already "
                    f"{returned_check.get_status_display().lower()}."
                )
            tender = tender or returned_check.tender
            if bank_transaction is None and returned_check.bank_transaction_id:
                bank_transaction = returned_check.bank_transaction
        if tender is None:
            raise _error("tender", "Choose the check that was returned.")
        if bank_transaction is not None:
            # Two technicians confirming the same bank line: the one-to-one refuses the
            # second; this gives the message.
            taken = ReturnedCheck.objects.filter(bank_transaction=bank_transaction)
            if returned_check is not None:
                taken = taken.exclude(pk=returned_check.pk)
            if taken.exists():
                raise CashieringError("This bank line was already processed or dismissed.")
        receipt = (
            Receipt.objects.select_for_update(of=("self",))
            .select_related("session")
            .get(pk=tender.receipt_id)
        )
        tender = Tender.objects.select_related("tender_type").get(pk=tender.pk)
        if tender.tender_type.kind != TenderType.Kind.CHECK:
            raise _error(
                "tender", f"{tender.tender_type} is not a check; only checks are returned."
            )
        if receipt.is_training:
            raise _error("tender", "Training receipts took no real money.")
        if receipt.status != Receipt.Status.POSTED:
            raise _error("tender", f"Receipt {receipt} is void; its check was never deposited.")
        if receipt.reverses_id is not None or Receipt.objects.filter(reverses=receipt).exists():
            raise _error(
                "tender", f"Receipt {receipt} was reversed; its payment is already undone."
            )
        if receipt.session.status != CashierSession.Status.DEPOSITED:
            raise _error(
                "tender",
                f"Receipt {receipt}'s session has not been deposited yet, so the bank cannot "
                "have returned the check; request a void or reversal instead.",
            )
        already = ReturnedCheck.objects.filter(tender=tender)
        if returned_check is not None:
            already = already.exclude(pk=returned_check.pk)
        if already.filter(status=ReturnedCheck.Status.PROCESSED).exists():
            raise _error("tender", f"Check #{tender.check_number} was already returned.")
        if already.exists():
            raise _error("tender", f"Check #{tender.check_number} is already proposed as returned.")
        if returned_on < receipt.business_date:
            raise _error(
                "returned_on",
                f"The check was taken on {receipt.business_date:%Y-%m-%d}; it cannot come back "
                "before that.",
            )
        if returned_on > today():
            raise _error("returned_on", "The return date cannot be in the future.")
        if bank_transaction is not None and to_money(abs(bank_transaction.amount)) != tender.amount:
            raise _error(
                "tender",
                f"The bank line is for {abs(bank_transaction.amount)}, the check for "
                f"{tender.amount}; choose the check of the same amount.",
            )

        policy = CounterPolicy.current()
        lines = list(receipt.lines.select_related("fee_code").order_by("line_no"))
        earlier = ReturnedCheckLine.objects.filter(
            returned_check__receipt=receipt,
            returned_check__status=ReturnedCheck.Status.PROCESSED,
        ).aggregate(total=Coalesce(Sum("amount"), ZERO))["total"]
        parts, left = allocate(lines, tender.amount, skip=earlier)
        if left > 0:
            raise _error("tender", f"Receipt {receipt} has no payment left to re-open.")
        items = _lock_targets(lines)
        fee_code = policy.nsf_fee_code if fee else None
        fee_amount = to_money(fee_code.default_amount or ZERO) if fee_code is not None else ZERO
        receivable = policy.returned_checks_receivable
        bank_gl = _bank_gl_account(tender)

        specs: list[LineSpec] = []
        rc_lines = []
        receivable_part = ZERO
        for line, part in parts:
            item = items.get((line.target_kind, line.target_ref))
            if item is not None and item.balance is not None:
                try:
                    get_target_type(line.target_kind).apply_payment(
                        ref=line.target_ref, amount=-part, receipt=receipt, line=line
                    )
                except TargetError as exc:
                    raise _error("tender", str(exc)) from None
                specs.extend(
                    LineSpec(account, debit=amount)
                    for account, amount in line.fee_code.distribute(part)
                )
            else:
                receivable_part += part
            rc_lines.append(
                ReturnedCheckLine(
                    target_kind=line.target_kind,
                    target_ref=line.target_ref,
                    fee_code=line.fee_code.code,
                    amount=part,
                )
            )
        if receivable is None:
            if receivable_part or fee_amount:
                raise CashieringError(
                    "The counter policy has no returned-checks receivable account; ask an "
                    "administrator."
                )
            receivable = bank_gl  # never used: nothing is owed on the check
        if receivable_part:
            specs.append(LineSpec(receivable, debit=receivable_part))
        specs.append(LineSpec(bank_gl, credit=tender.amount))

        fields = {
            "tender": tender,
            "receipt": receipt,
            "bank_transaction": bank_transaction,
            "amount": tender.amount,
            "returned_on": returned_on,
            "reason": reason,
            "status": ReturnedCheck.Status.PROCESSED,
            "payer_name": (tender.check_payer or receipt.payer_name)[:120],
            "fee_amount": fee_amount,
            "note": note,
            "decided_by": user,
            "decided_at": timezone.now(),
        }
        if returned_check is None:
            returned_check = ReturnedCheck.objects.create(created_by=user, **fields)
        else:
            for name, value in fields.items():
                setattr(returned_check, name, value)
            returned_check.save()
        number = returned_check_number(returned_check)
        business_day_ensure_open(returned_on)  # nothing posts into a closed day
        with ledger_errors():
            returned_check.reversal_entry = journal_entry_post(
                entry_date=returned_on,
                memo=(
                    f"Returned check #{tender.check_number} on receipt {receipt} "
                    f"({reason_label}) {returned_check.payer_name}"
                )[:300],
                lines=net_lines(specs),
                user=user,
                source="returned_check",
                source_ref=number,
            )
            if fee_amount and fee_code is not None:
                fee_specs = [LineSpec(receivable, debit=fee_amount)] + [
                    LineSpec(account, credit=amount)
                    for account, amount in fee_code.distribute(fee_amount)
                ]
                returned_check.fee_entry = journal_entry_post(
                    entry_date=returned_on,
                    memo=f"NSF fee on returned check {number} {returned_check.payer_name}"[:300],
                    lines=net_lines(fee_specs),
                    user=user,
                    source="returned_check",
                    source_ref=number,
                )
        returned_check.save(update_fields=["reversal_entry", "fee_entry"])
        for rc_line in rc_lines:
            rc_line.returned_check = returned_check
        ReturnedCheckLine.objects.bulk_create(rc_lines)
        owed = receivable_part + fee_amount
        if owed:
            returned_check_index(returned_check, balance=owed)
    return returned_check


def returned_check_dismiss(
    *,
    user: Any,
    note: str,
    bank_transaction: BankTransaction | None = None,
    returned_check: ReturnedCheck | None = None,
) -> ReturnedCheck:
    """A returned-item bank line that is not one of our checks (or was handled another
    way): recorded as dismissed with the reason, so it leaves the list."""
    note = note.strip()
    if not note:
        raise _error("note", "Say why this bank line is dismissed.")
    if not user.has_perm("cashiering.process_returned_check"):
        raise CashieringError("Only an accounting technician can dismiss returned items.")
    with transaction.atomic(), audit_reason(f"Returned item dismissed: {note}"):
        if returned_check is not None:
            locked = ReturnedCheck.objects.select_for_update().get(pk=returned_check.pk)
            if locked.status != ReturnedCheck.Status.PROPOSED:
                raise CashieringError(
                    f"This returned check was already {locked.get_status_display().lower()}."
                )
            locked.status = ReturnedCheck.Status.DISMISSED
            locked.tender = None  # the check may still be returned on its own later
            locked.note = note[:300]
            locked.decided_by = user
            locked.decided_at = timezone.now()
            locked.save()
            return locked
        if bank_transaction is None:
            raise CashieringError("Choose the bank line to dismiss.")
        if ReturnedCheck.objects.filter(bank_transaction=bank_transaction).exists():
            raise CashieringError("This bank line was already processed or dismissed.")
        return ReturnedCheck.objects.create(
            bank_transaction=bank_transaction,
            amount=to_money(abs(bank_transaction.amount)),
            returned_on=bank_transaction.booked_date,
            status=ReturnedCheck.Status.DISMISSED,
            note=note[:300],
            created_by=user,
            decided_by=user,
            decided_at=timezone.now(),
        )
