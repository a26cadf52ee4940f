"""Access rules for bank statement import and reconciliation.

Bank accounts are the city's, not a user's: technicians import and reconcile, supervisors
read the reconciliation; nobody gets a 404 for someone else's bank account.
"""

from datetime import date
from decimal import Decimal

from ledger.models import BankAccount, BankMatch, BankStatement, BankStatementImport
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
    "ledger:bank-statement-explain": Rule(
        RECONCILERS,
        method="post",
        kwargs=pk_of("bank_statement"),
        data={"note": "The bank's trailer counted a record twice"},
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
    statement = BankStatement.objects.create(
        statement_import=BankStatementImport.objects.create(
            file_name="persona.bai2",
            sha256="0" * 64,
            format="bai2",
            size_bytes=1,
            statement_count=1,
            transaction_count=0,
            total_credits=Decimal("0.00"),
            total_debits=Decimal("0.00"),
            imported_by=personas["technician"],
        ),
        bank_account=account,
        statement_id="PERSONA",
        start_date=date(2026, 3, 16),
        end_date=date(2026, 3, 16),
        currency="USD",
        source_line=1,
        is_unbalanced=True,
    )
    return {"bank_account": account, "bank_match": match, "bank_statement": statement}
