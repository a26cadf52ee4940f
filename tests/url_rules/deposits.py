"""Access rules for bank deposits and the day's reports.

Deposits are the city's, not a user's: technicians prepare them, technicians and
supervisors read them and print their slips; nobody gets a 404 for another's deposit.
The daily cash report goes to those who balance the day, the audit report to supervisors.
"""

import uuid
from decimal import Decimal

from cashiering.models import TenderType
from cashiering.services.deposits import deposit_prepare
from cashiering.services.receipt_inputs import TenderInput
from tests.cashiering.deposit_factories import balance
from tests.cashiering.factories import fee, open_session, post
from tests.factories import TODAY
from tests.url_rules._base import BACK_OFFICE, Rule, pk_of


def scenario(personas, scene) -> dict:
    """Cashier B's drawer D2, balanced and deposited (one pet license paid in cash)."""
    session = open_session(personas["cashier_b"], "D2")
    cash = TenderInput(tender_type=TenderType.objects.get(code="CASH"), amount=Decimal("30.00"))
    post(session, [fee("PET")], [cash])
    balance(session)
    deposit = deposit_prepare(
        sessions=[session],
        currency_count={"20.00": 1, "10.00": 1},
        idempotency_key=uuid.uuid4(),
        user=personas["technician"],
        deposit_date=TODAY,
    )
    return {"deposit": deposit}


def _day(scene) -> dict:
    return {"business_date": TODAY.isoformat()}


RULES = {
    "cashiering:deposits": Rule(BACK_OFFICE),
    "cashiering:deposit-prepare": Rule({"technician"}),
    "cashiering:deposit-detail": Rule(BACK_OFFICE, kwargs=pk_of("deposit")),
    "cashiering:deposit-slip-print": Rule(BACK_OFFICE, kwargs=pk_of("deposit")),
    "cashiering:deposit-slip-pdf": Rule(BACK_OFFICE, kwargs=pk_of("deposit")),
    "cashiering:daily-reports": Rule(BACK_OFFICE, data={"business_date": TODAY.isoformat()}),
    "cashiering:daily-cash-report-print": Rule(BACK_OFFICE, kwargs=_day),
    "cashiering:daily-cash-report-pdf": Rule(BACK_OFFICE, kwargs=_day),
    "cashiering:audit-report": Rule({"supervisor"}, kwargs=_day),
    "cashiering:audit-report-print": Rule({"supervisor"}, kwargs=_day),
    "cashiering:audit-report-csv": Rule({"supervisor"}, kwargs=_day),
}
