"""Returned (NSF) checks: services and selectors.

A check the bank sent back is processed from the tender that took it, in one transaction:

- The check amount is re-opened on the receipt's payment targets in line order (after
  what earlier returned checks of the same receipt re-opened). A target that carries a
  balance (a utility account, an AR invoice, a license invoice) gets the amount back on
  its balance through the registry's ``apply_payment`` with a negative amount, and the
  entry debits the accounts the receipt credited for that line (its fee code's
  distribution, e.g. the utility receivable). A fee item, which nobody owes, is owed
  instead on the returned check itself: debited to the returned-checks receivable.
  The bank account the check was deposited to is credited (the bank took the money back).
- The NSF fee (the policy's fee code, at its default amount) is always owed on the
  returned check: Dr returned-checks receivable, Cr the NSF fee code's revenue. It is kept
  off the utility account on purpose: the fee is General Fund revenue, and a utility
  balance is the water fund's receivable. The counter collects what a returned check is
  owed through its own payment target (kind ``returned_check``, fee code RC-PAY, which
  credits the same receivable), found by the payer's name in the counter's search.
- A payer (same target, or same name) with ``returned_check_limit`` processed returned
  checks in the last ``returned_check_months`` months is flagged: the counter and the
  account inquiry warn before another check is taken. The count is an annotation on the
  target's own query, so searching and loading items costs no extra query.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce
from django.http import Http404
from django.utils import timezone

from cashiering.closing import business_day_ensure_open
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
from cashiering.services import CashieringError, _ledger_errors
from cashiering.targets import IndexRow, TargetError, TargetItem, get_target_type, index_upsert
from kent_cs.audit import audit_reason
from kent_cs.money import ZERO, to_money
from ledger.models import BankAccount, BankTransaction, GLAccount, JournalLine
from ledger.selectors_bank import returned_item_lines
from ledger.services import LineSpec, journal_entry_post, net_lines

RETURNED_CHECK_KIND = "returned_check"
RETURNED_CHECK_FEE_CODE = "RC-PAY"
# How far back a bank line's likely check is looked for, and how many are offered.
PROPOSAL_WINDOW_DAYS = 120
PROPOSAL_CANDIDATES = 5
SEARCH_LIMIT = 50


def _error(field: str | None, message: str) -> CashieringError:
    return CashieringError({field: [message]} if field else message)


def today() -> date:
    """The business date now (one place, so tests can fix it)."""
    return timezone.localdate()


def returned_check_number(returned_check: ReturnedCheck) -> str:
    return f"RC-{returned_check.pk}"


# --- the payer flag -------------------------------------------------------------------


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (the month's last day if shorter)."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    for candidate in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


@dataclass(frozen=True)
class PayerFlag:
    count: int
    months: int
    limit: int

    @property
    def flagged(self) -> bool:
        return self.count >= self.limit

    @property
    def warning(self) -> str:
        plural = "check" if self.count == 1 else "checks"
        return (
            f"{self.count} returned {plural} in the last {self.months} months — "
            "take cash, card or money order"
        )


_FLAG_SQL = """
    SELECT count(*) FROM cashiering_returnedcheck rc
    WHERE rc.status = 'processed'
      AND rc.returned_on <= %s::date
      AND rc.returned_on > %s::date - make_interval(months => (
          SELECT coalesce((SELECT returned_check_months FROM cashiering_counterpolicy
                           WHERE id = 1), 12)))
      AND ((lower(rc.payer_name) = lower({name}) AND {name} <> '')
           OR EXISTS (SELECT 1 FROM cashiering_returnedcheckline l
                      WHERE l.returned_check_id = rc.id AND l.target_kind = %s
                        AND l.target_ref = {ref}))
"""
_POLICY_SQL = (
    "SELECT coalesce((SELECT {column} FROM cashiering_counterpolicy WHERE id = 1), {default})"
)


def flag_annotations(*, kind: str, ref_column: str, name_column: str, on: date | None = None):
    """Annotations for a target's own query (no query of their own): processed returned
    checks in the policy's window that re-opened the target (kind, ref) or came from a
    payer of the same name, and the policy's window and limit, for `flag_warnings`.
    `ref_column` and `name_column` are the quoted SQL columns of the target's table."""
    on = on or today()
    # Only the callers' constant column names are formatted in; values are parameters.
    sql = _FLAG_SQL.format(name=name_column, ref=ref_column)
    months = _POLICY_SQL.format(column="returned_check_months", default=12)
    limit = _POLICY_SQL.format(column="returned_check_limit", default=2)
    return {
        "returned_checks": RawSQL(sql, [on, on, kind]),  # noqa: S611
        "returned_check_months": RawSQL(months, []),  # noqa: S611
        "returned_check_limit": RawSQL(limit, []),  # noqa: S611
    }


def flag_warnings(row: Any) -> tuple[str, ...]:
    """The counter's warning for a row annotated by `flag_annotations`, if flagged."""
    flag = PayerFlag(
        count=getattr(row, "returned_checks", 0) or 0,
        months=getattr(row, "returned_check_months", 12),
        limit=getattr(row, "returned_check_limit", 2),
    )
    return (flag.warning,) if flag.flagged else ()


# --- what a returned check is owed ----------------------------------------------------


def _receivable_owed(checks: QuerySet[ReturnedCheck]) -> QuerySet[ReturnedCheck]:
    """Annotate `owed`: what the check's entries debited to the returned-checks receivable
    (fee items re-opened and the NSF fee), and `paid`: what the counter took on it since
    (reversals of those receipts count negative, voided receipts not at all)."""
    policy_account = CounterPolicy.objects.filter(pk=1).values("returned_checks_receivable")[:1]
    owed = (
        JournalLine.objects.filter(
            Q(entry_id=OuterRef("reversal_entry_id")) | Q(entry_id=OuterRef("fee_entry_id")),
            account_id=Subquery(policy_account),
        )
        .order_by()
        .values("account_id")
        .annotate(total=Sum("debit"))
        .values("total")
    )
    paid = (
        ReceiptLine.objects.filter(
            target_kind=RETURNED_CHECK_KIND,
            target_ref=OuterRef("ref_text"),
            receipt__status=Receipt.Status.POSTED,
            receipt__is_training=False,
        )
        .order_by()
        .values("target_ref")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    # A check that paid this debt and bounced in turn gives the payment back.
    bounced = (
        ReturnedCheckLine.objects.filter(
            target_kind=RETURNED_CHECK_KIND,
            target_ref=OuterRef("ref_text"),
            returned_check__status=ReturnedCheck.Status.PROCESSED,
        )
        .order_by()
        .values("target_ref")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return checks.annotate(ref_text=Cast("pk", CharField())).annotate(
        owed=Coalesce(Subquery(owed), ZERO),
        paid=Coalesce(Subquery(paid), ZERO) - Coalesce(Subquery(bounced), ZERO),
    )


def returned_check_balances(refs: Iterable[str]) -> dict[str, tuple[ReturnedCheck, Decimal]]:
    ids = [int(ref) for ref in refs if str(ref).isdigit()]
    checks = _receivable_owed(
        ReturnedCheck.objects.filter(pk__in=ids, status=ReturnedCheck.Status.PROCESSED)
    ).select_related("tender", "receipt")
    # `owed` and `paid` are annotations the type checker cannot see.
    return {
        str(rc.pk): (rc, to_money(rc.owed - rc.paid))  # type: ignore[attr-defined]
        for rc in checks
    }


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


# --- processing -----------------------------------------------------------------------


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
        with _ledger_errors():
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


# --- selectors ------------------------------------------------------------------------


def returned_checks_recent(*, limit: int = 100) -> list[ReturnedCheck]:
    return list(
        ReturnedCheck.objects.select_related(
            "tender", "receipt", "bank_transaction", "decided_by"
        ).order_by("-decided_at", "-pk")[:limit]
    )


def returned_check_get(*, pk: int) -> ReturnedCheck:
    """Returned checks are the back office's records: anyone who may open the pages sees
    every one (the view checks the permission)."""
    try:
        return ReturnedCheck.objects.select_related(
            "tender__tender_type",
            "receipt__session__cashier",
            "bank_transaction",
            "reversal_entry",
            "fee_entry",
            "created_by",
            "decided_by",
        ).get(pk=pk)
    except ReturnedCheck.DoesNotExist:
        raise Http404("No such returned check.") from None


def _check_tenders() -> QuerySet[Tender]:
    return (
        Tender.objects.filter(
            tender_type__kind=TenderType.Kind.CHECK,
            amount__gt=0,
            receipt__is_training=False,
        )
        .select_related("tender_type", "receipt__session")
        .annotate(
            is_returned=Exists(
                ReturnedCheck.objects.filter(
                    tender=OuterRef("pk"), status=ReturnedCheck.Status.PROCESSED
                )
            )
        )
    )


def check_tender_search(
    *, check_number: str = "", receipt_number: str = "", amount: Decimal | None = None
) -> list[Tender]:
    """Checks taken at the counter, for recording a return by hand."""
    tenders = _check_tenders()
    if not (check_number or receipt_number or amount is not None):
        return []
    if check_number:
        tenders = tenders.filter(check_number=check_number.strip())
    if receipt_number:
        series, _, number = receipt_number.strip().upper().rpartition("-")
        if not number.isdigit():
            return []
        tenders = tenders.filter(receipt__number=int(number))
        if series:
            tenders = tenders.filter(receipt__series=series)
    if amount is not None:
        tenders = tenders.filter(amount=amount)
    return list(tenders.order_by("-receipt__business_date", "-pk")[:SEARCH_LIMIT])


def check_tender_get(*, pk: int) -> Tender:
    try:
        return _check_tenders().get(pk=pk)
    except Tender.DoesNotExist:
        raise Http404("No such check.") from None


def unmatched_returned_items(*, bank_account: BankAccount | None = None) -> list[BankTransaction]:
    """Returned-item bank lines not yet processed or dismissed."""
    lines = returned_item_lines(bank_account=bank_account)
    lines = lines.exclude(
        pk__in=ReturnedCheck.objects.filter(bank_transaction__isnull=False).values(
            "bank_transaction_id"
        )
    ).select_related("bank_account")
    return list(lines.order_by("booked_date", "pk"))


def bank_transaction_get_unmatched(*, pk: int) -> BankTransaction:
    try:
        line = BankTransaction.objects.select_related("bank_account").get(
            pk=pk, is_returned_item=True
        )
    except BankTransaction.DoesNotExist:
        raise Http404("No such returned item.") from None
    if ReturnedCheck.objects.filter(bank_transaction=line).exists():
        raise Http404("This returned item was already handled.")
    return line


@dataclass
class Proposal:
    """A returned-item bank line and the checks it most likely is, best first."""

    line: BankTransaction
    candidates: list[Tender]

    @property
    def amount(self) -> Decimal:
        return to_money(abs(self.line.amount))


def _mentions(line: BankTransaction, check_number: str) -> bool:
    if not check_number:
        return False
    text = " ".join((line.bank_ref, line.customer_ref, line.description))
    digits = check_number.lstrip("0") or check_number
    for word in "".join(c if c.isalnum() else " " for c in text).split():
        if word == check_number or word.lstrip("0") == digits:
            return True
    return False


def returned_item_proposals(*, bank_account: BankAccount | None = None) -> list[Proposal]:
    """Each unmatched returned-item line with its likely checks: same amount, taken before
    the bank date, deposited and not already returned; a check whose number appears in the
    line's references or description first. Two queries whatever the number of lines."""
    lines = unmatched_returned_items(bank_account=bank_account)
    if not lines:
        return []
    amounts = {to_money(abs(line.amount)) for line in lines}
    earliest = min(line.booked_date for line in lines) - timedelta(days=PROPOSAL_WINDOW_DAYS)
    tenders = list(
        _check_tenders()
        .filter(
            amount__in=amounts,
            receipt__status=Receipt.Status.POSTED,
            receipt__session__status=CashierSession.Status.DEPOSITED,
            receipt__business_date__gte=earliest,
        )
        .exclude(returned__status=ReturnedCheck.Status.PROCESSED)
        .order_by("-receipt__business_date", "-pk")
    )
    proposals = []
    for line in lines:
        amount = to_money(abs(line.amount))
        fitting = [
            t for t in tenders if t.amount == amount and t.receipt.business_date < line.booked_date
        ]
        fitting.sort(key=lambda t: not _mentions(line, t.check_number))
        proposals.append(Proposal(line=line, candidates=fitting[:PROPOSAL_CANDIDATES]))
    return proposals


def returned_checks_for_payer(*, kind: str, ref: str, name: str = "") -> list[ReturnedCheck]:
    """Processed returned checks that re-opened this payer's item, newest first."""
    return list(
        ReturnedCheck.objects.filter(
            status=ReturnedCheck.Status.PROCESSED,
            pk__in=ReturnedCheckLine.objects.filter(target_kind=kind, target_ref=ref).values(
                "returned_check_id"
            ),
        )
        .select_related("tender", "receipt")
        .order_by("-returned_on", "-pk")
    )
