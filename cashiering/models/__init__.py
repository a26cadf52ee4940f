"""Counter cashiering: drawers, sessions, receipts, tenders, corrections, subsystem accounts,
closing and balancing, deposits, returned checks and refunds."""

from cashiering.models.balancing import (
    BusinessDay,
    CounterPolicy,
    SessionCount,
    SessionCountLine,
)
from cashiering.models.counter import (
    APPEND_ONLY,
    PROTECT_DELETE,
    ARInvoice,
    CashierSession,
    CorrectionRequest,
    CounterFee,
    Drawer,
    PayerIndex,
    PayerNote,
    Receipt,
    ReceiptLine,
    ReceiptPrint,
    Tender,
    TenderType,
    UtilityAccount,
)
from cashiering.models.deposits import Deposit, DepositItem, DepositSession
from cashiering.models.returns import (
    RefundDocument,
    RefundRequest,
    ReturnedCheck,
    ReturnedCheckLine,
)

__all__ = [
    "APPEND_ONLY",
    "PROTECT_DELETE",
    "ARInvoice",
    "BusinessDay",
    "CashierSession",
    "CorrectionRequest",
    "CounterFee",
    "CounterPolicy",
    "Deposit",
    "DepositItem",
    "DepositSession",
    "Drawer",
    "PayerIndex",
    "PayerNote",
    "Receipt",
    "ReceiptLine",
    "ReceiptPrint",
    "RefundDocument",
    "RefundRequest",
    "ReturnedCheck",
    "ReturnedCheckLine",
    "SessionCount",
    "SessionCountLine",
    "Tender",
    "TenderType",
    "UtilityAccount",
]
