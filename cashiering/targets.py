"""The payment-target registry: how every subsystem offers payable items to the counter.

Cashiering never imports another app's models. An app that has something to pay
(utility accounts, AR invoices, license invoices, merchandise) registers a
`PaymentTargetType` in its AppConfig.ready() and keeps its rows in the shared payer
index with `index_upsert`/`index_bulk_upsert`, so the counter's one search box finds them.

`apply_payment` runs inside the receipt's posting transaction, after `load(...,
for_update=True)` locked the rows (and, unless the type sets `needs_receipt_number`,
before the receipt has its number): a target may do more there (licensing issues the
license when its invoice is paid in full) and everything commits or rolls back together.
A void or reversal calls `apply_payment` with the negative amount.

Two optional hooks let receipt posting save round trips on the hottest path:
`lock_query` reads and locks the items, and `fee_codes_for` names the fee codes a kind's
items will be credited to without loading them, together with the receipt's other reads;
`payment_statements` gives a
payment that needs no checks as SQL the posting runs inside its one writing statement.

`inquiry_history` lets a subsystem add its own record's history to the counter's account
inquiry (licensing: the business's licenses, their status and last changes), in a fixed
number of queries, with a link to the full timeline for users allowed to open it.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection

from kent_cs.money import ZERO


class TargetError(Exception):
    """A payment a target refuses (e.g. overpaying an invoice); the message is for users."""


@dataclass(frozen=True)
class TargetItem:
    kind: str
    ref: str
    number: str
    name: str
    description: str
    fee_code: str
    balance: Decimal | None = None  # amount owed now; None: nothing is owed (a fee item)
    address: str = ""
    allow_overpay: bool = False
    default_amount: Decimal | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    #: For items owed in parts credited to different fee codes (a license invoice: license
    #: fee, fire inspection, technology fee, penalty): ((fee code, amount due), ...) in the
    #: order a partial payment is applied. The receipt gets one line per part paid, each
    #: passed to apply_payment with its own fee code; `fee_code` is then the first part's.
    components: tuple[tuple[str, Decimal], ...] = ()

    @property
    def amount_due(self) -> Decimal:
        return max(self.balance or ZERO, ZERO)


@dataclass(frozen=True)
class InquiryHistoryChange:
    at: datetime
    what: str
    by: str  # "Full Name (username)", or "system"
    reason: str = ""


@dataclass(frozen=True)
class InquiryHistoryRecord:
    """One record of the subsystem's (a license): what it is, its state, recent changes."""

    label: str
    status: str
    detail: str = ""
    changes: tuple[InquiryHistoryChange, ...] = ()


@dataclass(frozen=True)
class InquiryHistory:
    """A subsystem's history of the payer, shown on the account inquiry page."""

    title: str
    subject: str  # whose history it is ("Valley Auto Body LLC, UBI 602 100 001")
    records: tuple[InquiryHistoryRecord, ...]
    #: Links to the full history, only for users allowed to open them: (label, url).
    links: tuple[tuple[str, str], ...] = ()


class PaymentTargetType:
    """What a subsystem implements to be payable at the counter."""

    kind: str = ""
    label: str = ""
    #: True when the counter enters quantity x unit price (fee items) instead of an amount.
    priced_by_quantity: bool = False
    #: True when apply_payment reads the receipt's number (to record who paid). Payments
    #: on other targets are applied before the number is taken, which keeps the receipt
    #: series locked for less time; these are applied after it.
    needs_receipt_number: bool = False

    def load(self, refs: Iterable[str], *, for_update: bool = False) -> dict[str, TargetItem]:
        raise NotImplementedError

    def apply_payment(self, *, ref: str, amount: Decimal, receipt, line) -> None:
        """Record `amount` (negative to undo) against the target, in the caller's transaction."""
        raise NotImplementedError

    def lock_query(self, refs: Sequence[str]) -> tuple[str, list] | None:
        """For receipt posting: a query (SQL, parameters) whose one value is a JSON array
        of the items `load(refs, for_update=True)` returns, locked as `load` locks them;
        `items_from_json` reads it. Posting runs it with its other reads. None (the
        default): posting calls `load`."""
        return None

    def items_from_json(self, rows: list) -> dict[str, TargetItem]:
        """The items of `lock_query`'s JSON array, by ref."""
        raise NotImplementedError

    def fee_codes_for(self, refs: Iterable[str]) -> set[str] | None:
        """The fee codes these items are credited to, when known without loading them
        (None: not known; posting then reads them after `load`)."""
        return None

    def payment_statements(
        self, payments: Sequence[tuple[str, Decimal]]
    ) -> list[tuple[str, list]] | None:
        """Receipt posting's payments, one (ref, amount) per ref, as data-modifying
        statements (SQL, parameters) the posting runs as WITH queries of its own
        statement, in place of `apply_payment`; an empty list when paying changes nothing.
        None (the default): posting calls `apply_payment` per line. Only for payments that
        need no checks beyond the rows `load(..., for_update=True)` locked and read."""
        return None

    def inquiry_url(self, ref: str) -> str | None:
        return None

    def inquiry_history(self, ref: str, *, user: Any) -> InquiryHistory | None:
        """The subsystem's history of the record behind `ref`, for the account inquiry
        (None, the default: the subsystem adds nothing). A fixed number of queries."""
        return None


_registry: dict[str, PaymentTargetType] = {}


def register(target_type: PaymentTargetType) -> None:
    if not target_type.kind:
        raise ValueError("A payment target type needs a kind.")
    _registry[target_type.kind] = target_type


def get_target_type(kind: str) -> PaymentTargetType:
    try:
        return _registry[kind]
    except KeyError:
        raise TargetError(f"Unknown kind of payable item: {kind!r}.") from None


def target_types() -> list[PaymentTargetType]:
    return list(_registry.values())


@dataclass(frozen=True)
class IndexRow:
    kind: str
    ref: str
    number: str
    name: str
    address: str = ""
    detail: str = ""
    is_active: bool = True


def _search_text(row: IndexRow) -> str:
    return " ".join(
        part for part in (row.number, row.name, row.address, row.detail) if part
    ).lower()


def index_bulk_upsert(rows: Iterable[IndexRow], *, batch_size: int = 5000) -> int:
    """Insert or update payer-index rows by (kind, ref). Returns the number written."""
    written = 0
    batch: list[IndexRow] = []

    def flush() -> None:
        nonlocal written
        if not batch:
            return
        # One array per column, bound server-side: far cheaper to parse than a VALUES
        # list with thousands of placeholders. Rows that did not change are not rewritten
        # (each rewrite would also update the trigram index).
        columns: list[list] = [[] for _ in range(8)]
        for row in batch:
            values = (
                row.kind,
                row.ref,
                row.number[:40],
                row.name[:200],
                row.address[:200],
                row.detail[:200],
                _search_text(row),
                row.is_active,
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO cashiering_payerindex "
                "(kind, ref, number, name, address, detail, search_text, is_active) "
                "SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], "
                "%s::varchar[], %s::varchar[], %s::varchar[], %s::text[], %s::boolean[]) "
                "ON CONFLICT (kind, ref) DO UPDATE SET number = EXCLUDED.number, "
                "name = EXCLUDED.name, address = EXCLUDED.address, detail = EXCLUDED.detail, "
                "search_text = EXCLUDED.search_text, is_active = EXCLUDED.is_active "
                "WHERE (cashiering_payerindex.number, cashiering_payerindex.name, "
                "cashiering_payerindex.address, cashiering_payerindex.detail, "
                "cashiering_payerindex.is_active) IS DISTINCT FROM (EXCLUDED.number, "
                "EXCLUDED.name, EXCLUDED.address, EXCLUDED.detail, EXCLUDED.is_active)",
                columns,
            )
        written += len(batch)
        batch.clear()

    for row in rows:
        batch.append(row)
        if len(batch) >= batch_size:
            flush()
    flush()
    return written


def index_upsert(**fields) -> None:
    index_bulk_upsert([IndexRow(**fields)])
