"""Access rules for bank statement import and reconciliation.

Bank accounts are the city's, not a user's: technicians import and reconcile, supervisors
read the reconciliation; nobody gets a 404 for someone else's bank account.
"""

from decimal import Decimal

from ledger.models import BankAccount, BankMatch
from tests.url_rules._base import BACK_OFFICE, Rule, pk_of

RECONCILERS = {"technician"}

RULES = {
    "ledger:bank-accounts": Rule(BACK_OFFICE),
    "ledger:bank-import": Rule({"technician"}),
    "ledger:bank-reconcile": Rule(BACK_OFFICE, kwargs=pk_of("bank_account")),
    "ledger:bank-auto-match": Rule(RECONCILERS, method="post", kwargs=pk_of("bank_account")),
    # Nothing ticked: the page comes back with the reason, for those allowed to match.
    "ledger:bank-match": Rule(RECONCILERS, method="post", kwargs=pk_of("bank_account")),
    "ledger:bank-match-undo": Rule(
        RECONCILERS, method="post", kwargs=pk_of("bank_match"), data={"reason": "Wrong deposit"}
    ),
}


def scenario(personas, scene) -> dict:
    account = BankAccount.objects.get(is_default=True)
    match = BankMatch.objects.create(
        bank_account=account,
        method=BankMatch.Method.MANUAL,
        amount=Decimal("0.00"),
        note="Persona check",
        matched_by=personas["technician"],
    )
    return {"bank_account": account, "bank_match": match}
