"""Access rules for closing: blind count, over/short approval, balancing, business day."""

from cashiering.models import CashierSession
from cashiering.services.closing import CheckInput, session_blind_close
from tests.cashiering.factories import make_drawer
from tests.factories import TODAY
from tests.url_rules._base import BACK_OFFICE, Rule, pk_of


def scenario(personas, scene) -> dict:
    """A closed session of the cashier, counted 40.00 over: waiting for a supervisor."""
    cashier = personas["cashier"]
    closed = CashierSession.objects.create(
        cashier=cashier,
        drawer=make_drawer("D3"),
        business_date=TODAY,
        opening_float="100.00",
        status=CashierSession.Status.CLOSED,
    )
    session_blind_close(
        session=closed,
        cash_count={"20.00": "7"},
        checks=[CheckInput("", "")],
        card_settlement="0",
        user=cashier,
    )
    return {"counted_session": closed}


def _day(scene) -> dict:
    return {"business_date": TODAY.isoformat()}


RULES = {
    "cashiering:blind-close": Rule(
        {"cashier", "technician"}, kwargs=pk_of("session"), not_found={"cashier_b"}
    ),
    "cashiering:blind-close-check-row": Rule(
        {"cashier", "technician"},
        kwargs=pk_of("session"),
        data={"index": "6"},
        not_found={"cashier_b"},
    ),
    "cashiering:session-count": Rule(
        {"cashier", "technician", "supervisor"},
        kwargs=pk_of("counted_session"),
        not_found={"cashier_b"},
    ),
    "cashiering:over-short-approve": Rule(
        {"supervisor"},
        method="post",
        kwargs=pk_of("counted_session"),
        data={"explanation": "Counted a $20 twice"},
    ),
    "cashiering:session-balance": Rule(BACK_OFFICE, method="post", kwargs=pk_of("counted_session")),
    "cashiering:balancing": Rule(BACK_OFFICE),
    "cashiering:day-balancing": Rule(BACK_OFFICE, kwargs=_day),
    "cashiering:day-close": Rule({"supervisor"}, method="post", kwargs=_day),
    "cashiering:day-reopen": Rule(
        {"supervisor"}, method="post", kwargs=_day, data={"reason": "Late deposit"}
    ),
}
