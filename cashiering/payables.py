"""Cashiering's own payment targets: utility accounts, AR invoices and fee-code items."""

from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.db.models import F
from django.urls import reverse

from cashiering.models import ARInvoice, CounterFee, ReturnedCheck, UtilityAccount
from cashiering.selectors.returns import flag_annotations, flag_warnings, returned_check_balances
from cashiering.services.returns import RETURNED_CHECK_FEE_CODE, returned_check_index
from cashiering.targets import IndexRow, PaymentTargetType, TargetError, TargetItem
from kent_cs.db import placeholders, prepared_cursor

UTILITY_FEE_CODE = "UT-PAY"
INVOICE_FEE_CODE = "AR-PAY"


def _with_returned_check_flag(query, kind: str, table: str, name: str, for_update: bool):
    """The returned-check flag, counted in the same query, for display. Posting
    (for_update) shows no warning, so it skips the count."""
    if for_update:
        return query

    return query.annotate(
        **flag_annotations(
            kind=kind, ref_column=f'"{table}"."number"', name_column=f'"{table}"."{name}"'
        )
    )


def _warnings(row) -> tuple[str, ...]:
    return flag_warnings(row)


class UtilityAccountTarget(PaymentTargetType):
    kind = "utility"
    label = "Utility account"

    def load(self, refs: Iterable[str], *, for_update: bool = False) -> dict[str, TargetItem]:
        if for_update:
            return self._lock(list(refs))
        query = UtilityAccount.objects.filter(number__in=list(refs))
        accounts = _with_returned_check_flag(
            query, self.kind, "cashiering_utilityaccount", "name", for_update
        )
        return {
            a.number: TargetItem(
                kind=self.kind,
                ref=a.number,
                number=a.number,
                name=a.name,
                address=a.service_address,
                description=f"Utility account {a.number}",
                fee_code=UTILITY_FEE_CODE,
                balance=a.balance,
                allow_overpay=True,
                warnings=_warnings(a),
            )
            for a in accounts
        }

    def _lock(self, refs: list[str]) -> dict[str, TargetItem]:
        """The accounts a receipt pays, locked in number order (concurrent receipts lock
        without deadlock)."""
        with prepared_cursor() as cursor:
            cursor.execute(self._LOCK_SQL.format(placeholders(len(refs))), refs)
            return {row[0]: self._locked_item(*row) for row in cursor.fetchall()}

    _LOCK_SQL = (
        "SELECT number, name, service_address, balance FROM cashiering_utilityaccount "
        "WHERE number IN ({}) ORDER BY number FOR UPDATE"
    )

    def lock_query(self, refs: Sequence[str]) -> tuple[str, list]:
        return (
            "SELECT json_agg(json_build_array(number, name, service_address, balance::text) "
            f"ORDER BY number) FROM ({self._LOCK_SQL.format(placeholders(len(refs)))}) x",
            sorted(refs),
        )

    def items_from_json(self, rows: list) -> dict[str, TargetItem]:
        return {
            number: self._locked_item(number, name, address, Decimal(balance))
            for number, name, address, balance in rows
        }

    def _locked_item(self, number: str, name: str, address: str, balance: Decimal) -> TargetItem:
        return TargetItem(
            kind=self.kind,
            ref=number,
            number=number,
            name=name,
            address=address,
            description=f"Utility account {number}",
            fee_code=UTILITY_FEE_CODE,
            balance=balance,
            allow_overpay=True,
        )

    def apply_payment(self, *, ref: str, amount: Decimal, receipt, line) -> None:
        # Overpayment leaves a negative balance: a credit on the account.
        with prepared_cursor() as cursor:
            cursor.execute(
                "UPDATE cashiering_utilityaccount SET balance = balance - %s WHERE number = %s",
                [amount, ref],
            )

    def fee_codes_for(self, refs: Iterable[str]) -> set[str]:
        return {UTILITY_FEE_CODE}

    def payment_statements(self, payments: Sequence[tuple[str, Decimal]]) -> list[tuple[str, list]]:
        rows = ", ".join(["(%s, %s::numeric)"] * len(payments))
        return [
            (
                "UPDATE cashiering_utilityaccount u SET balance = u.balance - p.amount "
                f"FROM (VALUES {rows}) p (number, amount) WHERE u.number = p.number",
                [value for payment in payments for value in payment],
            )
        ]

    def inquiry_url(self, ref: str) -> str:
        return reverse("cashiering:inquiry", args=[self.kind, ref])


class InvoiceTarget(PaymentTargetType):
    kind = "invoice"
    label = "AR invoice"

    def load(self, refs: Iterable[str], *, for_update: bool = False) -> dict[str, TargetItem]:
        query = ARInvoice.objects.filter(number__in=list(refs))
        if for_update:
            query = query.order_by("number").select_for_update()
        invoices = _with_returned_check_flag(
            query, self.kind, "cashiering_arinvoice", "customer_name", for_update
        )
        return {
            i.number: TargetItem(
                kind=self.kind,
                ref=i.number,
                number=i.number,
                name=i.customer_name,
                address=i.customer_address,
                description=f"Invoice {i.number}" + (f": {i.description}" if i.description else ""),
                fee_code=INVOICE_FEE_CODE,
                balance=i.amount_due,
                allow_overpay=False,
                warnings=_warnings(i),
            )
            for i in invoices
        }

    def fee_codes_for(self, refs: Iterable[str]) -> set[str]:
        return {INVOICE_FEE_CODE}

    def apply_payment(self, *, ref: str, amount: Decimal, receipt, line) -> None:
        updated = ARInvoice.objects.filter(number=ref, amount_due__gte=amount).update(
            amount_due=F("amount_due") - amount
        )
        if not updated:
            raise TargetError(f"Invoice {ref} cannot be paid more than its amount due.")

    def inquiry_url(self, ref: str) -> str:
        return reverse("cashiering:inquiry", args=[self.kind, ref])


class FeeItemTarget(PaymentTargetType):
    """Free-form items priced by quantity x unit price (copies, pet license, NSF fee)."""

    kind = "fee"
    label = "Fee"
    priced_by_quantity = True

    def load(self, refs: Iterable[str], *, for_update: bool = False) -> dict[str, TargetItem]:
        codes = sorted(set(refs))
        if not codes:
            return {}
        with prepared_cursor() as cursor:  # a quarter of the receipts add copies: written out
            cursor.execute(self._LOAD_SQL.format(placeholders(len(codes))), codes)
            return {row[0]: self._item(*row) for row in cursor.fetchall()}

    _LOAD_SQL = (
        "SELECT f.code, c.label, c.unit_price FROM cashiering_counterfee c "
        "JOIN ledger_feecode f ON f.id = c.fee_code_id "
        "WHERE f.code IN ({}) AND c.is_active AND f.is_active"
    )

    def lock_query(self, refs: Sequence[str]) -> tuple[str, list]:
        codes = sorted(set(refs))
        return (
            "SELECT json_agg(json_build_array(code, label, unit_price::text)) "
            f"FROM ({self._LOAD_SQL.format(placeholders(len(codes)))}) x",
            codes,
        )

    def items_from_json(self, rows: list) -> dict[str, TargetItem]:
        return {
            code: self._item(code, label, None if price is None else Decimal(price))
            for code, label, price in rows
        }

    def _item(self, code: str, label: str, unit_price: Decimal | None) -> TargetItem:
        return TargetItem(
            kind=self.kind,
            ref=code,
            number=code,
            name=label,
            description=label,
            fee_code=code,
            balance=None,
            allow_overpay=True,
            default_amount=unit_price,
        )

    def apply_payment(self, *, ref: str, amount: Decimal, receipt, line) -> None:
        return None  # nothing is owed on a fee item

    def fee_codes_for(self, refs: Iterable[str]) -> set[str]:
        return set(refs)  # a fee item is its fee code

    def payment_statements(self, payments: Sequence[tuple[str, Decimal]]) -> list[tuple[str, list]]:
        return []


class ReturnedCheckTarget(PaymentTargetType):
    """What a processed returned check is owed (fee items it re-opened and the NSF fee),
    collected at the counter on fee code RC-PAY, which credits the returned-checks
    receivable. Paid is read from the receipts themselves, so a void undoes it."""

    kind = "returned_check"
    label = "Returned check"

    def load(self, refs: Iterable[str], *, for_update: bool = False) -> dict[str, TargetItem]:
        refs = [ref for ref in refs if ref.isdigit()]
        if for_update and refs:
            # Two receipts paying the same returned check wait for each other here, so the
            # second sees the first's payment in its balance.
            list(
                ReturnedCheck.objects.filter(pk__in=[int(r) for r in refs])
                .order_by("pk")
                .select_for_update()
                .values_list("pk")
            )
        items = {}
        for ref, (check, balance) in returned_check_balances(refs).items():
            tender = check.tender
            number = tender.check_number if tender is not None else ""
            items[ref] = TargetItem(
                kind=self.kind,
                ref=ref,
                number=f"RC-{check.pk}",
                name=check.payer_name,
                description=f"Returned check #{number} (receipt {check.receipt}) and NSF fee",
                fee_code=RETURNED_CHECK_FEE_CODE,
                balance=balance,
                allow_overpay=False,
            )
        return items

    def apply_payment(self, *, ref: str, amount: Decimal, receipt, line) -> None:
        found = returned_check_balances([ref]).get(ref)
        if found is None:
            raise TargetError(f"Returned check RC-{ref} was not found.")
        check, balance = found
        # The receipt's own line is already written, so `balance` is what is left after it.
        if amount > 0 and balance < 0:
            raise TargetError(f"Returned check RC-{ref} cannot be paid more than it is owed.")
        returned_check_index(check, balance=balance)

    def inquiry_url(self, ref: str) -> str:
        return reverse("cashiering:inquiry", args=[self.kind, ref])


def utility_index_rows(accounts: Iterable[UtilityAccount]) -> Iterable[IndexRow]:
    for a in accounts:
        yield IndexRow(
            kind="utility",
            ref=a.number,
            number=a.number,
            name=a.name,
            address=a.service_address,
            detail="Utility account",
            is_active=a.is_active,
        )


def invoice_index_rows(invoices: Iterable[ARInvoice]) -> Iterable[IndexRow]:
    for i in invoices:
        yield IndexRow(
            kind="invoice",
            ref=i.number,
            number=i.number,
            name=i.customer_name,
            address=i.customer_address,
            detail=i.description or "AR invoice",
        )


def fee_index_rows() -> Iterable[IndexRow]:
    for item in CounterFee.objects.select_related("fee_code"):
        yield IndexRow(
            kind="fee",
            ref=item.fee_code.code,
            number=item.fee_code.code,
            name=item.label,
            detail="Fee",
            is_active=item.is_active and item.fee_code.is_active,
        )
