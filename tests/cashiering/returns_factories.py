"""Builders for returned-check and refund tests: deposited sessions, bank lines."""

from datetime import date
from decimal import Decimal

from django.contrib.auth import get_user_model

from cashiering.models import CashierSession, Receipt, Tender
from cashiering.services.sessions import session_close
from kent_cs.roles import Role
from ledger.models import BankAccount, BankStatement, BankStatementImport, BankTransaction
from tests.factories import make_user

D = Decimal


def deposit_session(session: CashierSession) -> CashierSession:
    """Close, balance and deposit a session (the deposit itself is another area's)."""
    if session.status == CashierSession.Status.OPEN:
        session_close(session=session, user=session.cashier)
    for status in ("balanced", "deposited"):
        CashierSession.objects.filter(pk=session.pk).update(status=status)
    session.refresh_from_db()
    return session


def check_tender(receipt: Receipt) -> Tender:
    return receipt.tenders.get(tender_type__kind="check")


def technician_b():
    return make_user("technician_b", Role.TECHNICIAN)


def supervisor_b():
    return make_user("supervisor_b", Role.SUPERVISOR)


def returned_item_line(
    amount, *, booked=date(2026, 3, 20), description="RETURNED ITEM NSF", ref="", user=None
) -> BankTransaction:
    """A returned-item line (money out) on the default bank account's statement."""
    bank = BankAccount.objects.get(is_default=True)
    serial = BankStatementImport.objects.count() + 1
    statement_import = BankStatementImport.objects.create(
        file_name=f"statement-{serial}.bai",
        sha256=f"{serial:064d}",
        format=BankStatementImport.Format.BAI2,
        size_bytes=100,
        statement_count=1,
        transaction_count=1,
        total_credits=D("0.00"),
        total_debits=D(amount),
        imported_by=user or get_user_model().objects.order_by("pk").first(),
    )
    statement = BankStatement.objects.create(
        statement_import=statement_import,
        bank_account=bank,
        statement_id=f"ST-{serial}",
        start_date=booked,
        end_date=booked,
        currency="USD",
        source_line=1,
    )
    return BankTransaction.objects.create(
        statement=statement,
        bank_account=bank,
        source_line=2,
        booked_date=booked,
        amount=-D(amount),
        type_code="555",
        is_returned_item=True,
        bank_ref=ref,
        description=description,
    )
