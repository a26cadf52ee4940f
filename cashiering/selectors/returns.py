"""Reads of returned checks: payer flags (checks refused after returns), what a returned
check still owes, recent returned checks, check tenders to match, unmatched returned items
from the bank and the proposals for them."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce
from django.http import Http404

from cashiering.models import (
    CashierSession,
    CounterPolicy,
    Receipt,
    ReceiptLine,
    ReturnedCheck,
    ReturnedCheckLine,
    Tender,
    TenderType,
)
from kent_cs import dates
from kent_cs.money import ZERO, to_money
from ledger.models import BankAccount, BankTransaction, JournalLine
from ledger.selectors_bank import returned_item_lines

RETURNED_CHECK_KIND = "returned_check"


# How far back a bank line's likely check is looked for, and how many are offered.
PROPOSAL_WINDOW_DAYS = 120


PROPOSAL_CANDIDATES = 5


SEARCH_LIMIT = 50


def today() -> date:
    return dates.business_today()


def returned_check_number(returned_check: ReturnedCheck) -> str:
    return f"RC-{returned_check.pk}"


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
