"""Access rules for returned checks and refund requests.

Both are the back office's city-wide records: technicians process returned checks and
request and verify refunds, supervisors read and decide refunds and send them to accounts
payable. Nobody gets a 404 for another user's record (there is no per-user scope).
"""

from datetime import date
from decimal import Decimal

from cashiering.services.refunds import (
    refund_approve,
    refund_export,
    refund_request_create,
    refund_verify,
)
from cashiering.services.returns import returned_check_process
from tests.cashiering.factories import counter_setup, make_account, open_session, post, utility
from tests.cashiering.returns_factories import (
    check_tender,
    deposit_session,
    returned_item_line,
    technician_b,
)
from tests.url_rules._base import BACK_OFFICE, Rule, pk_of

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ON = date(2026, 3, 20)
PROCESS = {"technician"}
PROCESS_DATA = {"reason": "nsf", "returned_on": "2026-03-20", "fee": "on"}

RULES = {
    "cashiering:returned-checks": Rule(BACK_OFFICE),
    "cashiering:returned-check-detail": Rule(BACK_OFFICE, kwargs=pk_of("returned_check")),
    "cashiering:returned-check-find": Rule(PROCESS, data={"check_number": "9001"}),
    "cashiering:returned-check-new": Rule(
        PROCESS, kwargs=lambda s: {"tender_id": s["returnable_tender"].pk}
    ),
    "cashiering:returned-items": Rule(PROCESS),
    "cashiering:returned-item-process": Rule(
        PROCESS,
        method="post",
        kwargs=pk_of("returned_item"),
        data=PROCESS_DATA,  # no tender chosen: the list comes back with the reason
    ),
    "cashiering:returned-item-dismiss": Rule(
        PROCESS, method="post", kwargs=pk_of("returned_item"), data={"note": "Not ours"}
    ),
    "cashiering:refunds": Rule(BACK_OFFICE),
    "cashiering:refund-new": Rule(
        {"technician"}, kwargs=lambda s: {"kind": "utility", "ref": s["credit_account"].number}
    ),
    "cashiering:refund-detail": Rule(BACK_OFFICE, kwargs=pk_of("refund")),
    "cashiering:refund-document": Rule(
        BACK_OFFICE,
        kwargs=lambda s: {"pk": s["refund"].pk, "document_id": s["refund_document"].pk},
    ),
    "cashiering:refund-verify": Rule({"technician"}, method="post", kwargs=pk_of("refund")),
    "cashiering:refund-approve": Rule({"supervisor"}, method="post", kwargs=pk_of("refund")),
    "cashiering:refund-reject": Rule(
        {"supervisor"}, method="post", kwargs=pk_of("refund"), data={"note": "No proof"}
    ),
    "cashiering:refund-export": Rule(
        {"supervisor"}, method="post", kwargs=lambda s: {"fmt": "csv"}
    ),
    "cashiering:refund-batch": Rule(
        {"supervisor"}, kwargs=lambda s: {"batch": s["refund_batch"], "fmt": "xlsx"}
    ),
}


def scenario(personas, scene) -> dict:
    counter = counter_setup()
    technician, supervisor = personas["technician"], personas["supervisor"]
    checker = technician_b()
    account = make_account("880001-01", balance="300.00", name="Rae Persona")
    session = open_session(personas["cashier_b"], "D3")
    returned = post(
        session, [utility(account.number, "100.00")], [counter.check("100.00", number="9000")]
    )
    returnable = post(
        session, [utility(account.number, "100.00")], [counter.check("100.00", number="9001")]
    )
    deposit_session(session)
    returned_check = returned_check_process(
        tender=check_tender(returned), reason="nsf", returned_on=ON, user=technician
    )
    line = returned_item_line("100.00", description="RETURN ITEM CHK 9001")

    credit = make_account("880002-01", balance="-90.00", name="Rae Credit")

    def refund(amount):
        return refund_request_create(
            kind="utility",
            ref=credit.number,
            payee_name="Rae Credit",
            payee_address="1 Main St, Kent WA 98032",
            amount=Decimal(amount),
            reason="Moved out",
            documents=[PDF],
            user=technician,
        )

    exported = refund("10.00")
    refund_verify(refund=exported, user=checker)
    refund_approve(refund=exported, user=supervisor, entry_date=ON)
    batch = refund_export(user=supervisor)
    waiting = refund("20.00")
    refund_verify(refund=waiting, user=checker)
    approved = refund("5.00")
    refund_verify(refund=approved, user=checker)
    refund_approve(refund=approved, user=supervisor, entry_date=ON)
    return {
        "returned_check": returned_check,
        "returnable_tender": check_tender(returnable),
        "returned_item": line,
        "credit_account": credit,
        "refund": waiting,
        "refund_document": waiting.documents.get(),
        "refund_batch": batch,
    }
