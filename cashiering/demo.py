from django.db import transaction

from cashiering.models import TenderType
from ledger.models import GLAccount

# code, name, kind, in drawer, needs reference, gives change, clearing account
TENDERS = [
    ("CASH", "Cash", "cash", True, False, True, "101.30"),
    ("CHECK", "Check", "check", True, True, False, "101.30"),
    ("MO", "Money order", "money_order", True, True, False, "101.30"),
    ("CREDIT", "Credit card", "card", False, True, False, "101.40"),
    ("DEBIT", "Debit card", "card", False, True, False, "101.40"),
    ("ACH", "ACH / e-check", "ach", False, True, False, "101.40"),
]


@transaction.atomic
def seed(stdout) -> None:
    for order, (code, name, kind, drawer, ref, change, account) in enumerate(TENDERS):
        TenderType.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "counts_in_drawer": drawer,
                "requires_reference": ref,
                "gives_change": change,
                "clearing_account": GLAccount.objects.get(fund__code="001", code=account),
                "sort_order": order,
            },
        )
    stdout.write(f"  cashiering: {len(TENDERS)} tender types")
