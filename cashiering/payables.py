"""Cashiering's own payment targets: utility accounts, AR invoices and fee-code items."""

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import F
from django.urls import reverse

from cashiering.models import ARInvoice, CounterFee, UtilityAccount
from cashiering.targets import IndexRow, PaymentTargetType, TargetError, TargetItem

UTILITY_FEE_CODE = "UT-PAY"
INVOICE_FEE_CODE = "AR-PAY"


class UtilityAccountTarget(PaymentTargetType):
    kind = "utility"
    label = "Utility account"

    def load(self, refs: Iterable[str], *, for_update: bool = False) -> dict[str, TargetItem]:
        accounts = UtilityAccount.objects.filter(number__in=list(refs))
        if for_update:
            accounts = accounts.order_by("number").select_for_update()
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
            )
            for a in accounts
        }

    def apply_payment(self, *, ref: str, amount: Decimal, receipt, line) -> None:
        # Overpayment leaves a negative balance: a credit on the account.
        UtilityAccount.objects.filter(number=ref).update(balance=F("balance") - amount)

    def inquiry_url(self, ref: str) -> str:
        return reverse("cashiering:inquiry", args=[self.kind, ref])


class InvoiceTarget(PaymentTargetType):
    kind = "invoice"
    label = "AR invoice"

    def load(self, refs: Iterable[str], *, for_update: bool = False) -> dict[str, TargetItem]:
        invoices = ARInvoice.objects.filter(number__in=list(refs))
        if for_update:
            invoices = invoices.order_by("number").select_for_update()
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
            )
            for i in invoices
        }

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
        items = CounterFee.objects.filter(
            fee_code__code__in=list(refs), is_active=True, fee_code__is_active=True
        ).select_related("fee_code")
        return {
            item.fee_code.code: TargetItem(
                kind=self.kind,
                ref=item.fee_code.code,
                number=item.fee_code.code,
                name=item.label,
                description=item.label,
                fee_code=item.fee_code.code,
                balance=None,
                allow_overpay=True,
                default_amount=item.unit_price,
            )
            for item in items
        }

    def apply_payment(self, *, ref: str, amount: Decimal, receipt, line) -> None:
        return None  # nothing is owed on a fee item


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
