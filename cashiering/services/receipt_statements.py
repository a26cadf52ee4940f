"""The statements receipt posting sends: the first, which locks the cashier session, sets
the audit context and reads what posting needs (`posting_reads`), and the one writing
statement with the journal lines, receipt lines, tenders and target payments
(`insert_receipt`). See docs/architecture.md, "The hot path"."""

import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from cashiering.errors import CashieringError, ledger_errors
from cashiering.models import (
    CashierSession,
    Receipt,
    ReceiptLine,
)
from cashiering.services.receipt_inputs import (
    TENDER_DETAIL_FIELDS,
    LineInput,
    PricedLine,
    TenderInput,
)
from cashiering.services.sessions import number_series
from cashiering.targets import TargetError, TargetItem, get_target_type
from kent_cs.db import (
    next_id_sql,
    placeholders,
    prepared_cursor,
    with_queries,
)
from kent_cs.history_context import HISTORY_CONTEXT_SETTERS
from kent_cs.money import ZERO
from ledger.models import FeeCode, FeeDistribution, Fund, GLAccount, JournalEntry
from ledger.services import (
    PERIOD_FOR_DATE_SQL,
    StagedEntry,
)


def target_of(pair: tuple["PricedLine", ReceiptLine]):
    return get_target_type(pair[0].item.kind)


def payment_statements(
    payments: Sequence[tuple["PricedLine", ReceiptLine]],
) -> tuple[list[tuple[str, list]], list[tuple["PricedLine", ReceiptLine]]]:
    """The payments their targets take as statements (`payment_statements`, one amount per
    item), and the lines whose targets take them through `apply_payment`."""
    by_kind: dict[str, list[tuple[PricedLine, ReceiptLine]]] = {}
    for pair in payments:
        by_kind.setdefault(pair[0].item.kind, []).append(pair)
    statements: list[tuple[str, list]] = []
    direct: list[tuple[PricedLine, ReceiptLine]] = []
    for kind in sorted(by_kind):
        totals: dict[str, Decimal] = {}
        for p, _line in by_kind[kind]:
            totals[p.item.ref] = totals.get(p.item.ref, ZERO) + p.amount
        given = get_target_type(kind).payment_statements(sorted(totals.items()))
        if given is None:
            direct.extend(by_kind[kind])
        else:
            statements.extend(given)
    return statements, direct


RECEIPT_LINE_FIELDS = (
    "receipt",
    "line_no",
    "target_kind",
    "target_ref",
    "description",
    "fee_code",
    "quantity",
    "unit_price",
    "amount",
    "balance_before",
)


RECEIPT_LINE_ATTRS = tuple(
    f"{name}_id" if name in ("receipt", "fee_code") else name for name in RECEIPT_LINE_FIELDS
)


TENDER_FIELDS = ("tender_type", "amount", *TENDER_DETAIL_FIELDS)


def tender_value(tender: "TenderInput", name: str):
    return tender.tender_type.pk if name == "tender_type" else getattr(tender, name)


RECEIPT_INSERT = (
    "INSERT INTO cashiering_receipt (id, series, number, session_id, business_date, "
    "payer_name, status, total, tendered, change_given, is_training, idempotency_key, "
    "request_hash, journal_entry_id, memo, posted_by_id) "
    "VALUES (%s, %s, kent_next_number(%s), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "RETURNING number, posted_at"
)


def insert_receipt(
    receipt: Receipt, staged: StagedEntry | None, before: Sequence[tuple[str, list]]
) -> None:
    """Write the receipt row (and its journal entry), taking the gapless numbers, in one
    statement with the `before` statements (as its WITH queries): from here to the commit,
    other cashiers wait on the series."""
    row = (
        RECEIPT_INSERT,
        [
            receipt.id,
            receipt.series,
            number_series(receipt.series),
            receipt.session_id,
            receipt.business_date,
            receipt.payer_name,
            receipt.status,
            receipt.total,
            receipt.tendered,
            receipt.change_given,
            receipt.is_training,
            receipt.idempotency_key,
            receipt.request_hash,
            receipt.journal_entry_id,
            receipt.memo,
            receipt.posted_by_id,
        ],
    )
    parts = [*before, row]
    final = "SELECT r.number, r.posted_at FROM r"
    if staged is not None:
        # The journal entry is numbered right after the receipt (the order a reversal
        # takes the two series in too) and named after it.
        with ledger_errors():
            parts.append(
                staged.after_row_query(
                    number_column="number",
                    memo_prefix=f"Receipt {receipt.series}-",
                    memo_suffix=f" {receipt.payer_name}",
                    ref_prefix=f"{receipt.series}-",
                )
            )
        final += ", j"
    names = [None] * len(before) + ["r", "j"]
    sql, params = with_queries(parts, names=names, final=(final, []))
    with prepared_cursor() as cursor, ledger_errors():
        cursor.execute(sql, params)
        receipt.number, receipt.posted_at = cursor.fetchone()
    receipt._state.adding = False
    receipt._state.db = connection.alias


@dataclass(frozen=True)
class PostingReads:
    session: CashierSession
    existing_id: int | None
    tender_types: list
    receipt_id: int
    entry_id: int
    period_row: tuple | None
    fee_codes: dict[str, FeeCode]
    items: dict[tuple[str, str], TargetItem]
    item_kinds: frozenset[str]


def posting_reads(
    session_pk: int,
    key: uuid.UUID,
    history: tuple[str, str],
    fee_codes: set[str],
    item_queries: Sequence[tuple[str, str, list]],
    tender_type_ids: Sequence[int],
) -> PostingReads:
    """The posting transaction's first statement, the hottest query at the counter.

    It locks the session against a concurrent close (a cashier posts one receipt at a
    time) and sets the audit context for the transaction's writes (`history`, see
    kent_cs.db.history_context_bound); then, the session locked, it reads the receipt
    already posted under `key` (if any), reserves the receipt's and journal entry's ids,
    reads and locks the items of the targets that offer a `lock_query` ((kind, SQL,
    parameters), in kind order: they are locked in that order) and reads the accounting
    period of the session's business date, the fee codes the receipt is known to credit
    (see `known_before_loading`) and what posting takes from the tender types paid with
    (`_tender_type_check`; the caller's may be a process's copy).

    A request waiting for the session does not see a receipt committed while it waited
    (the statement's snapshot is older): when both carry the same key, its INSERT then
    fails on IDEMPOTENCY_CONSTRAINT, and receipt_post returns the first receipt.
    """
    codes = sorted(fee_codes)
    tender_ids = sorted(set(tender_type_ids))
    sql = _posting_reads_sql(
        len(tender_ids), len(codes), tuple(query for _, query, _ in item_queries)
    )
    with prepared_cursor() as cursor:
        cursor.execute(
            sql,
            [
                *history,
                session_pk,
                key,
                *tender_ids,
                *codes,
                *(value for _, _, params in item_queries for value in params),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        raise CashieringError("This session does not exist.")
    (cashier_id, drawer_id, business_date, status, is_training, opening_float) = row[:6]
    session = CashierSession(
        id=session_pk,
        cashier_id=cashier_id,
        drawer_id=drawer_id,
        business_date=business_date,
        status=status,
        is_training=is_training,
        opening_float=opening_float,
    )
    session._state.adding = False
    existing_id, tender_types, receipt_id, entry_id, fee_json = row[6:11]
    found = row[11 : 11 + len(item_queries)]
    items: dict[tuple[str, str], TargetItem] = {}
    for (kind, _, _), rows in zip(item_queries, found, strict=True):
        for ref, item in get_target_type(kind).items_from_json(rows or []).items():
            items[(kind, ref)] = item
    return PostingReads(
        session=session,
        existing_id=existing_id,
        tender_types=tender_types or [],
        receipt_id=receipt_id,
        entry_id=entry_id,
        period_row=row[11 + len(item_queries) :],
        fee_codes=_fee_codes_from_json(fee_json) if fee_json else {},
        items=items,
        item_kinds=frozenset(kind for kind, _, _ in item_queries),
    )


@functools.cache
def _posting_reads_sql(
    tender_type_count: int, fee_code_count: int, item_queries: tuple[str, ...]
) -> str:
    fee_codes = "NULL"
    if fee_code_count:
        columns = ", ".join(
            f"{column}::text" if column in _FEE_DECIMAL_COLUMNS else column
            for column in _FEE_CODE_COLUMNS
        )
        fee_codes = (
            f"(SELECT json_agg(json_build_array({columns}) ORDER BY f.id, d.id)::text "
            f"{_FEE_CODE_FROM} WHERE f.code IN ({placeholders(fee_code_count)}))"
        )
    items = "".join(f", ({query})" for query in item_queries)
    period = PERIOD_FOR_DATE_SQL.replace("%s", "s.business_date")
    # The session is locked in a WITH query, so that the rest is read after the lock.
    return (
        f"WITH s AS MATERIALIZED (SELECT {HISTORY_CONTEXT_SETTERS}, cashier_id, drawer_id, "
        "business_date, status, is_training, opening_float FROM cashiering_cashiersession "
        "WHERE id = %s FOR NO KEY UPDATE) "
        "SELECT s.cashier_id, s.drawer_id, s.business_date, s.status, s.is_training, "
        "s.opening_float, (SELECT id FROM cashiering_receipt WHERE idempotency_key = %s), "
        f"({_tender_type_check(tender_type_count)}), {next_id_sql(Receipt)}, "
        f"{next_id_sql(JournalEntry)}, {fee_codes}{items}, p.* "
        f"FROM s LEFT JOIN LATERAL ({period}) p ON true"
    )


def _tender_type_check(count: int) -> str:
    """What posting takes from tender types (and their clearing accounts), for `count` ids;
    compared with the caller's by `tender_types_changed`."""
    return (
        "SELECT json_agg(json_build_array(t.id, t.is_active, t.kind, t.gives_change, "
        "t.requires_reference, t.clearing_account_id, a.is_active) ORDER BY t.id) "
        "FROM cashiering_tendertype t JOIN ledger_glaccount a "
        f"ON a.id = t.clearing_account_id WHERE t.id IN ({placeholders(count)})"
    )


def tender_types_changed(tenders: Sequence[TenderInput], rows: list) -> bool:
    """Whether the tender types the caller read differ from the database's `rows`
    (`_tender_type_check`)."""
    mine = sorted(
        {
            (
                t.pk,
                t.is_active,
                t.kind,
                t.gives_change,
                t.requires_reference,
                t.clearing_account_id,
                t.clearing_account.is_active,
            )
            for t in (tender.tender_type for tender in tenders)
        }
    )
    return mine != [tuple(row) for row in rows]


def known_before_loading(
    lines: Sequence[LineInput],
) -> tuple[set[str], list[tuple[str, str, list]]]:
    """What posting can read with its other reads: the fee codes the lines' targets say
    they credit, and the targets' `lock_query` (kind, SQL, parameters) in kind order."""
    by_kind: dict[str, set[str]] = {}
    for line in lines:
        by_kind.setdefault(line.kind, set()).add(line.ref)
    codes: set[str] = set()
    queries: list[tuple[str, str, list]] = []
    for kind in sorted(by_kind):
        try:
            target_type = get_target_type(kind)
        except TargetError:
            continue  # loading the items says so, at the line
        codes |= target_type.fee_codes_for(by_kind[kind]) or set()
        query = target_type.lock_query(sorted(by_kind[kind]))
        if query is not None:
            queries.append((kind, *query))
    return codes, queries


_FEE_CODE_COLUMNS = (
    "f.id",
    "f.code",
    "f.name",
    "f.default_amount",
    "f.is_active",
    "d.id",
    "d.percent",
    "d.fixed_amount",
    "a.id",
    "a.fund_id",
    "a.code",
    "a.name",
    "a.account_type",
    "a.is_cash",
    "a.is_clearing",
    "a.is_control",
    "a.is_active",
    "u.code",
    "u.name",
    "u.is_active",
)


_FEE_DECIMAL_COLUMNS = {"f.default_amount", "d.percent", "d.fixed_amount"}


_FEE_CODE_FROM = (
    "FROM ledger_feecode f "
    "JOIN ledger_feedistribution d ON d.fee_code_id = f.id "
    "JOIN ledger_glaccount a ON a.id = d.account_id "
    "JOIN ledger_fund u ON u.id = a.fund_id"
)


def fee_codes_read(codes: set[str]) -> dict[str, FeeCode]:
    """The fee codes with their GL distributions and accounts, in one query."""
    with prepared_cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(_FEE_CODE_COLUMNS)} {_FEE_CODE_FROM} "
            f"WHERE f.code IN ({placeholders(len(codes))}) ORDER BY f.id, d.id",
            sorted(codes),
        )
        found = _fee_codes_from_rows(cursor.fetchall())
    missing = sorted(codes - set(found))
    if missing:
        raise CashieringError(f"Fee code {', '.join(missing)} is not set up; ask an administrator.")
    return found


@functools.lru_cache(maxsize=256)
def _fee_codes_from_json(text: str) -> dict[str, FeeCode]:
    """`_fee_codes_from_rows` of rows read as JSON text. The same text gives the same
    objects (a cache per process): a post only reads them, and the text is the rows as
    they are now, so a fee code changed since gives other text and other objects."""
    return _fee_codes_from_rows(json.loads(text), decimals_as_text=True)


def _fee_codes_from_rows(rows, *, decimals_as_text: bool = False) -> dict[str, FeeCode]:
    """FeeCode objects with their distributions prefetched, from rows of
    _FEE_CODE_COLUMNS ordered by fee code and distribution id (the order distribute()
    splits in); `decimals_as_text` for rows read as JSON."""
    found: dict[str, FeeCode] = {}
    for row in rows:
        if decimals_as_text:
            row = [
                Decimal(value) if value is not None and column in _FEE_DECIMAL_COLUMNS else value
                for column, value in zip(_FEE_CODE_COLUMNS, row, strict=True)
            ]
        fee_code = found.get(row[1])
        if fee_code is None:
            fee_code = found[row[1]] = FeeCode.from_db(
                "default", ["id", "code", "name", "default_amount", "is_active"], row[0:5]
            )
            fee_code._prefetched_objects_cache = {"distributions": []}  # type: ignore[attr-defined]
        fund = Fund.from_db("default", ["id", "code", "name", "is_active"], (row[9], *row[17:20]))
        account = GLAccount.from_db("default", GL_ACCOUNT_COLUMNS, row[8:17])
        account.fund = fund
        distribution = FeeDistribution.from_db(
            "default",
            ["id", "fee_code_id", "account_id", "percent", "fixed_amount"],
            (row[5], row[0], row[8], row[6], row[7]),
        )
        distribution.account = account
        fee_code._prefetched_objects_cache["distributions"].append(distribution)  # type: ignore[attr-defined]
    return found


GL_ACCOUNT_COLUMNS = [
    "id",
    "fund_id",
    "code",
    "name",
    "account_type",
    "is_cash",
    "is_clearing",
    "is_control",
    "is_active",
]
