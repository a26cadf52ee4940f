"""Cashiering writes: sessions, receipt posting, corrections (voids and reversals), notes."""

import functools
import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from cashiering.denominations import count_total
from cashiering.models import (
    CashierSession,
    CorrectionRequest,
    Drawer,
    PayerNote,
    Receipt,
    ReceiptLine,
    ReceiptPrint,
    ReturnedCheck,
    Tender,
    TenderType,
)
from cashiering.targets import TargetError, TargetItem, get_target_type
from cashiering.validators import CARD_NUMBER_MESSAGE, contains_card_number
from kent_cs.audit import audit_reason
from kent_cs.db import (
    history_context_bound,
    json_insert_statement,
    next_id_sql,
    placeholders,
    prepared_cursor,
    with_queries,
)
from kent_cs.history_context import HISTORY_CONTEXT_SETTERS
from kent_cs.money import ZERO, to_money
from kent_cs.numbering import next_number
from ledger.models import FeeCode, FeeDistribution, Fund, GLAccount, JournalEntry
from ledger.services import (
    PERIOD_FOR_DATE_SQL,
    LedgerError,
    LineSpec,
    StagedEntry,
    journal_entry_reverse,
    journal_entry_stage,
    net_lines,
    period_from_row,
)

LIVE_SERIES = "R"
TRAINING_SERIES = "T"
MAX_LINES = 50
MAX_TENDERS = 10
# Per line or tender: fifty of them still fit a money column (14 digits), so a slip of the
# keyboard gets a message instead of a database error.
MAX_AMOUNT = Decimal("999999999.99")
MAX_QUANTITY = Decimal("999999.999")
TOO_LARGE = "Enter an amount of at most 999,999,999.99."


class CashieringError(ValidationError):
    """A rule of the counter was broken; the message (and field, if any) is for the user."""


class IdempotencyConflict(CashieringError):
    pass


class TenderTypesChanged(CashieringError):
    """A tender type paid with is no longer as the caller read it (deactivated, another
    clearing account...): nothing was posted; read the tender types again and retry."""


def _number_series(series: str) -> str:
    return f"receipt-{series}"


# --- sessions -------------------------------------------------------------------------


def session_open(
    *,
    cashier,
    drawer: Drawer,
    business_date: date,
    opening_count: dict[str, int],
    is_training: bool = False,
) -> CashierSession:
    """Open `drawer` for `cashier` with a float counted by denomination."""
    if not drawer.is_active:
        raise CashieringError(f"Drawer {drawer.code} is out of service.")
    opening_float, normalized = count_total(opening_count)
    own_session = "You already have an open session; close it first."
    drawer_taken = f"Drawer {drawer.code} is already open for another cashier."
    from cashiering.closing import business_day_ensure_open  # closing imports this module

    try:
        with transaction.atomic():
            # Refuses a closed business date, and holds the day open (FOR SHARE) until this
            # session is committed: a supervisor's close in flight waits, then sees it.
            business_day_ensure_open(business_date)
            if CashierSession.objects.filter(
                cashier=cashier, status=CashierSession.Status.OPEN
            ).exists():
                raise CashieringError(own_session)
            if CashierSession.objects.filter(
                drawer=drawer, status=CashierSession.Status.OPEN
            ).exists():
                raise CashieringError(drawer_taken)
            return CashierSession.objects.create(
                cashier=cashier,
                drawer=drawer,
                business_date=business_date,
                opening_float=opening_float,
                opening_count=normalized,
                is_training=is_training,
            )
    except IntegrityError as exc:
        # Two openings at once both pass the checks above; the partial unique constraints
        # refuse the second (its savepoint is rolled back), which gets the same message.
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
        if constraint == "one_open_session_per_cashier":
            raise CashieringError(own_session) from None
        if constraint == "one_open_session_per_drawer":
            raise CashieringError(drawer_taken) from None
        raise


def session_close(*, session: CashierSession, user) -> CashierSession:
    """End taking payments on the session (the blind count comes next)."""
    with transaction.atomic():
        locked = CashierSession.objects.select_for_update().get(pk=session.pk)
        if locked.status != CashierSession.Status.OPEN:
            raise CashieringError("This session is not open.")
        if locked.cashier_id != user.pk and not user.has_perm("cashiering.view_all_sessions"):
            raise CashieringError("Only the session's cashier can close it.")
        locked.status = CashierSession.Status.CLOSED
        locked.closed_at = timezone.now()
        locked.save(update_fields=["status", "closed_at"])
    return locked


# --- receipt posting ------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    kind: str
    ref: str
    amount: Decimal | None = None  # balance targets: the amount paid
    quantity: Decimal = Decimal(1)  # fee items: quantity x unit price
    unit_price: Decimal | None = None


@dataclass(frozen=True)
class TenderInput:
    tender_type: TenderType
    amount: Decimal
    check_number: str = ""
    check_payer: str = ""
    account_last4: str = ""
    card_brand: str = ""
    card_last4: str = ""
    auth_code: str = ""
    reference: str = ""


# What a tender records besides its type and amount (the form's fields, the table's
# columns, the text checked for card numbers).
TENDER_DETAIL_FIELDS = (
    "check_number",
    "check_payer",
    "account_last4",
    "card_brand",
    "card_last4",
    "auth_code",
    "reference",
)


@dataclass(frozen=True)
class PricedLine:
    item: TargetItem
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    balance_before: Decimal | None = None  # what the item owed before this line
    fee_code: str = ""  # a component's fee code; empty: the item's own

    @property
    def code(self) -> str:
        return self.fee_code or self.item.fee_code


def _field_error(field: str, message: str) -> CashieringError:
    return CashieringError({field: [message]})


def _check_text(field: str, value: str) -> None:
    if contains_card_number(value):
        raise _field_error(field, CARD_NUMBER_MESSAGE)


def _is_last4(value: str) -> bool:
    # ASCII digits only: str.isdigit() also accepts "²" or "٤", which the database refuses.
    return len(value) == 4 and all("0" <= char <= "9" for char in value)


def _validate_tenders(tenders: Sequence[TenderInput]) -> list[TenderInput]:
    if not tenders:
        raise _field_error("tenders", "Add at least one tender.")
    if len(tenders) > MAX_TENDERS:
        raise _field_error("tenders", f"A receipt takes at most {MAX_TENDERS} tenders.")
    cleaned = []
    for index, tender in enumerate(tenders, start=1):
        prefix = f"tender {index}"
        kind = tender.tender_type.kind
        amount = to_money(tender.amount)
        if amount <= 0:
            raise _field_error(f"{prefix} amount", "Enter an amount greater than zero.")
        if amount > MAX_AMOUNT:
            raise _field_error(f"{prefix} amount", TOO_LARGE)
        if not tender.tender_type.is_active:
            raise _field_error(f"{prefix} type", f"{tender.tender_type} is not accepted.")
        for name in TENDER_DETAIL_FIELDS:
            _check_text(f"{prefix} {name.replace('_', ' ')}", getattr(tender, name))
        if kind == TenderType.Kind.CHECK:
            if not tender.check_number.strip():
                raise _field_error(f"{prefix} check number", "Enter the check number.")
            if not tender.check_payer.strip():
                raise _field_error(f"{prefix} check payer", "Enter the name printed on the check.")
            if tender.account_last4.strip() and not _is_last4(tender.account_last4.strip()):
                raise _field_error(
                    f"{prefix} account last4",
                    "Enter only the last 4 digits of the account number, or leave it blank.",
                )
        if kind == TenderType.Kind.CARD:
            if not tender.card_brand.strip():
                raise _field_error(f"{prefix} card brand", "Choose the card brand.")
            if not _is_last4(tender.card_last4.strip()):
                raise _field_error(f"{prefix} card last4", "Enter the last 4 digits of the card.")
            if not tender.auth_code.strip() or len(tender.auth_code.strip()) > 12:
                raise _field_error(f"{prefix} auth code", "Enter the authorization code.")
        needs_reference = kind in (TenderType.Kind.MONEY_ORDER, TenderType.Kind.ACH)
        if (
            needs_reference
            and tender.tender_type.requires_reference
            and not tender.reference.strip()
        ):
            raise _field_error(f"{prefix} reference", "Enter the money order or trace number.")
        cleaned.append(
            TenderInput(
                tender_type=tender.tender_type,
                amount=amount,
                check_number=tender.check_number.strip()[:20] if kind == "check" else "",
                check_payer=tender.check_payer.strip()[:120] if kind == "check" else "",
                account_last4=tender.account_last4.strip() if kind == "check" else "",
                card_brand=tender.card_brand.strip()[:20] if kind == "card" else "",
                card_last4=tender.card_last4.strip() if kind == "card" else "",
                auth_code=tender.auth_code.strip()[:12] if kind == "card" else "",
                reference=tender.reference.strip()[:40],
            )
        )
    return cleaned


def compute_change(total: Decimal, tenders: Sequence[TenderInput]) -> Decimal:
    """Change due, given only from cash: non-cash tenders may not exceed the total."""
    tendered = sum((t.amount for t in tenders), ZERO)
    if tendered < total:
        raise _field_error("tenders", f"Tenders ({tendered}) are less than the total ({total}).")
    change = tendered - total
    cash = sum((t.amount for t in tenders if t.tender_type.gives_change), ZERO)
    if change > cash:
        raise _field_error(
            "tenders",
            "Change can only be given from cash: checks, cards and other tenders may not be "
            "for more than the amount due.",
        )
    return change


def request_fingerprint(
    *,
    session_id: int,
    payer_name: str,
    lines: Sequence[LineInput],
    tenders: Sequence[TenderInput],
    memo: str = "",
) -> str:
    payload = {
        "session": session_id,
        "payer": payer_name.strip(),
        "memo": memo.strip(),
        "lines": [
            [
                line.kind,
                line.ref,
                str(to_money(line.amount)) if line.amount is not None else None,
                str(line.quantity),
                str(to_money(line.unit_price)) if line.unit_price is not None else None,
            ]
            for line in lines
        ],
        "tenders": [
            [
                t.tender_type.pk,
                str(to_money(t.amount)),
                t.check_number.strip(),
                t.check_payer.strip(),
                t.account_last4.strip(),
                t.card_brand.strip(),
                t.card_last4.strip(),
                t.auth_code.strip(),
                t.reference.strip(),
            ]
            for t in tenders
        ],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _price_lines(
    lines: Sequence[LineInput], items: dict[tuple[str, str], TargetItem]
) -> list[PricedLine]:
    priced = []
    # What each item still owes after the lines before: two lines on one invoice must not
    # overpay it together, and each line records the balance it found.
    owing: dict[tuple[str, str], Decimal | None] = {}
    components_owing: dict[tuple[str, str], list[list]] = {}
    for index, line in enumerate(lines, start=1):
        prefix = f"line {index}"
        item = items.get((line.kind, line.ref))
        if item is None:
            raise _field_error(prefix, f"{line.ref} was not found; search again.")
        target_type = get_target_type(line.kind)
        if target_type.priced_by_quantity:
            quantity = Decimal(line.quantity)
            if (
                not quantity.is_finite()
                or quantity <= 0
                or quantity != quantity.quantize(Decimal("0.001"))
            ):
                raise _field_error(f"{prefix} quantity", "Enter a quantity greater than zero.")
            if quantity > MAX_QUANTITY:
                raise _field_error(f"{prefix} quantity", "Enter a quantity of at most 999,999.999.")
            unit_price = line.unit_price if line.unit_price is not None else item.default_amount
            if unit_price is None:
                raise _field_error(f"{prefix} unit price", "Enter the price.")
            unit_price = to_money(unit_price)
            if unit_price <= 0:
                raise _field_error(f"{prefix} unit price", "Enter a price greater than zero.")
            if unit_price > MAX_AMOUNT:
                raise _field_error(f"{prefix} unit price", TOO_LARGE)
            amount = to_money(quantity * unit_price)
        else:
            quantity, unit_price = (
                Decimal(1),
                to_money(line.amount if line.amount is not None else 0),
            )
            amount = unit_price
        if amount <= 0:
            raise _field_error(f"{prefix} amount", "Enter an amount greater than zero.")
        if amount > MAX_AMOUNT:
            raise _field_error(f"{prefix} amount", TOO_LARGE)
        balance = owing.get((line.kind, line.ref), item.balance)
        due = max(balance or ZERO, ZERO)
        if not item.allow_overpay and amount > due:
            raise _field_error(
                f"{prefix} amount",
                f"{item.description} has {due} due; it cannot be overpaid.",
            )
        if balance is not None:
            owing[(line.kind, line.ref)] = balance - amount
        if item.components:
            parts = _split_components(item, amount, components_owing)
            running = balance
            for code, part in parts:
                priced.append(
                    PricedLine(
                        item=item,
                        quantity=Decimal(1),
                        unit_price=part,
                        amount=part,
                        balance_before=running,
                        fee_code=code,
                    )
                )
                running = None if running is None else running - part
            continue
        priced.append(
            PricedLine(
                item=item,
                quantity=quantity,
                unit_price=unit_price,
                amount=amount,
                balance_before=balance,
            )
        )
    return priced


def _split_components(
    item: TargetItem, amount: Decimal, owing: dict[tuple[str, str], list[list]]
) -> list[tuple[str, Decimal]]:
    """Split a payment on an item owed in components over them, in their order; what is
    left after the last one (an allowed overpayment) goes to the last. `owing` carries
    what each component still owes between lines of the same receipt."""
    remaining = owing.setdefault(
        (item.kind, item.ref), [[code, to_money(due)] for code, due in item.components]
    )
    parts: list[tuple[str, Decimal]] = []
    left = amount
    for component in remaining:
        take = min(left, max(component[1], ZERO))
        if take > 0:
            parts.append((component[0], take))
            component[1] -= take
            left -= take
    if left > 0:
        code = remaining[-1][0]
        if parts and parts[-1][0] == code:
            parts[-1] = (code, parts[-1][1] + left)
        else:
            parts.append((code, left))
        remaining[-1][1] -= left
    return parts


@contextmanager
def _ledger_errors() -> Iterator[None]:
    """The ledger's refusals (a closed period, no period for the date) as the counter's
    own error, so a view that catches CashieringError shows them to the user."""
    try:
        yield
    except LedgerError as exc:
        raise CashieringError(exc.messages) from None


def receipt_post(
    *,
    session: CashierSession,
    payer_name: str,
    lines: Sequence[LineInput],
    tenders: Sequence[TenderInput],
    idempotency_key: uuid.UUID | str,
    user,
    memo: str = "",
) -> Receipt:
    """Post a receipt: number, lines, tenders, journal entry and target balances at once.

    The same idempotency key returns the receipt it first posted (a double submit); the
    same key with different contents is refused.
    """
    key = uuid.UUID(str(idempotency_key))
    payer_name = payer_name.strip()
    _check_text("payer name", payer_name)
    _check_text("memo", memo)
    if not payer_name:
        raise _field_error("payer name", "Enter the payer's name.")
    if not lines:
        raise _field_error("lines", "Add at least one item to pay.")
    if len(lines) > MAX_LINES:
        raise _field_error("lines", f"A receipt takes at most {MAX_LINES} items.")
    clean_tenders = _validate_tenders(tenders)
    fingerprint = request_fingerprint(
        session_id=session.pk, payer_name=payer_name, lines=lines, tenders=tenders, memo=memo
    )

    fee_code_hint, item_queries = _known_before_loading(lines)
    try:
        with transaction.atomic(), history_context_bound() as history:
            return _post(
                payer_name=payer_name,
                lines=lines,
                clean_tenders=clean_tenders,
                key=key,
                fingerprint=fingerprint,
                user=user,
                memo=memo,
                reads=_posting_reads(
                    session.pk,
                    key,
                    history,
                    fee_code_hint,
                    item_queries,
                    [t.tender_type.pk for t in clean_tenders],
                ),
            )
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != (
            IDEMPOTENCY_CONSTRAINT
        ):
            raise
    # A request with the same key posted first, while this one waited for the session.
    return _posted_under(key, fingerprint)


#: The unique constraint on a receipt's idempotency key.
IDEMPOTENCY_CONSTRAINT = "cashiering_receipt_idempotency_key_key"


def _posted_under(key: uuid.UUID, fingerprint: str) -> Receipt:
    """The receipt already posted with `key`, when this request is the same payment (a
    double submit); IdempotencyConflict when it is another."""
    existing = Receipt.objects.get(idempotency_key=key)
    if existing.request_hash != fingerprint:
        raise IdempotencyConflict(
            "This form was already used for a different payment. Start a new receipt."
        )
    return existing


def _post(
    *,
    payer_name: str,
    lines: Sequence[LineInput],
    clean_tenders: list[TenderInput],
    key: uuid.UUID,
    fingerprint: str,
    user,
    memo: str,
    reads: "_PostingReads",
) -> Receipt:
    """receipt_post's transaction, after its first statement (`reads`)."""
    locked_session = reads.session
    training = locked_session.is_training
    if reads.existing_id is not None:
        return _posted_under(key, fingerprint)
    if _tender_types_changed(clean_tenders, reads.tender_types):
        raise TenderTypesChanged(
            "The tender types changed while this receipt was entered: check the tenders and "
            "post again."
        )
    if not locked_session.is_open:
        raise CashieringError("This session is closed; open a new session to take payments.")
    if locked_session.cashier_id != user.pk:
        raise CashieringError("Only the session's cashier can take payments in it.")
    # Targets without a lock_query lock their items after those with one.
    items = {
        **reads.items,
        **_load_items([x for x in lines if x.kind not in reads.item_kinds], for_update=True),
    }
    priced = _price_lines(lines, items)
    total = sum((p.amount for p in priced), ZERO)
    change = compute_change(total, clean_tenders)
    series = TRAINING_SERIES if training else LIVE_SERIES
    fee_codes = reads.fee_codes
    missing = {p.code for p in priced} - fee_codes.keys()
    if missing:
        fee_codes = {**fee_codes, **_fee_codes(missing)}
    receipt_id = reads.receipt_id
    # Everything but the two numbered rows is written first, under reserved ids (or in
    # the same statement): the receipt and journal series stay locked only from the
    # receipt's INSERT (which takes its number) to the commit, while every other
    # cashier waits on them.
    if training:
        staged = None
    else:
        with _ledger_errors():
            staged = journal_entry_stage(
                entry_date=locked_session.business_date,
                lines=_receipt_entry_lines(priced, clean_tenders, change, fee_codes),
                user=user,
                source="receipt",
                entry_id=reads.entry_id,
                defer_lines=True,
                period=period_from_row(locked_session.business_date, reads.period_row),
            )
    receipt = Receipt(
        id=receipt_id,
        series=series,
        session=locked_session,
        business_date=locked_session.business_date,
        payer_name=payer_name[:120],
        total=total,
        tendered=total + change,
        change_given=change,
        is_training=training,
        idempotency_key=key,
        request_hash=fingerprint,
        journal_entry_id=staged.id if staged else None,
        memo=memo.strip()[:200],
        posted_by=user,
    )
    receipt_lines = [
        ReceiptLine(
            receipt_id=receipt_id,
            line_no=index,
            target_kind=p.item.kind,
            target_ref=p.item.ref,
            description=(
                f"{p.item.description} ({fee_codes[p.code].name})"
                if p.fee_code
                else p.item.description
            )[:200],
            fee_code=fee_codes[p.code],
            quantity=p.quantity,
            unit_price=p.unit_price,
            amount=p.amount,
            balance_before=p.balance_before,
        )
        for index, p in enumerate(priced, start=1)
    ]
    # The entry's lines, the receipt's lines and its tenders.
    rows = [
        *([json_insert_statement(*staged.line_batch)] if staged and staged.line_batch else []),
        json_insert_statement(
            ReceiptLine,
            RECEIPT_LINE_FIELDS,
            [[getattr(line, name) for name in RECEIPT_LINE_ATTRS] for line in receipt_lines],
        ),
        json_insert_statement(
            Tender,
            ("receipt", "line_no", *TENDER_FIELDS),
            [
                (receipt_id, index, *(_tender_value(t, name) for name in TENDER_FIELDS))
                for index, t in enumerate(clean_tenders, start=1)
            ],
        ),
    ]
    payments = [] if training else list(zip(priced, receipt_lines, strict=True))
    late = [pair for pair in payments if _target(pair).needs_receipt_number]
    early = [pair for pair in payments if not _target(pair).needs_receipt_number]
    statements, direct = _payment_statements(early)
    if direct:
        # Targets that check a payment as they take it do so after the receipt's lines
        # are written (a returned check reads what is still owed from them).
        sql, params = with_queries(rows)
        with prepared_cursor() as cursor:
            cursor.execute(sql, params)
        rows = []
        _apply_payments(direct, receipt)
    # The rest, with the two numbered rows, in one statement.
    _insert_receipt(receipt, staged, [*rows, *statements])
    _apply_payments(late, receipt)
    return receipt


def _target(pair: tuple["PricedLine", ReceiptLine]):
    return get_target_type(pair[0].item.kind)


def _payment_statements(
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


def _tender_value(tender: "TenderInput", name: str):
    return tender.tender_type.pk if name == "tender_type" else getattr(tender, name)


RECEIPT_INSERT = (
    "INSERT INTO cashiering_receipt (id, series, number, session_id, business_date, "
    "payer_name, status, total, tendered, change_given, is_training, idempotency_key, "
    "request_hash, journal_entry_id, memo, posted_by_id) "
    "VALUES (%s, %s, kent_next_number(%s), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "RETURNING number, posted_at"
)


def _insert_receipt(
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
            _number_series(receipt.series),
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
        with _ledger_errors():
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
    with prepared_cursor() as cursor, _ledger_errors():
        cursor.execute(sql, params)
        receipt.number, receipt.posted_at = cursor.fetchone()
    receipt._state.adding = False
    receipt._state.db = connection.alias


@dataclass(frozen=True)
class _PostingReads:
    session: CashierSession
    existing_id: int | None
    tender_types: list
    receipt_id: int
    entry_id: int
    period_row: tuple | None
    fee_codes: dict[str, FeeCode]
    items: dict[tuple[str, str], TargetItem]
    item_kinds: frozenset[str]


def _posting_reads(
    session_pk: int,
    key: uuid.UUID,
    history: tuple[str, str],
    fee_codes: set[str],
    item_queries: Sequence[tuple[str, str, list]],
    tender_type_ids: Sequence[int],
) -> _PostingReads:
    """The posting transaction's first statement, the hottest query at the counter.

    It locks the session against a concurrent close (a cashier posts one receipt at a
    time) and sets the audit context for the transaction's writes (`history`, see
    kent_cs.db.history_context_bound); then, the session locked, it reads the receipt
    already posted under `key` (if any), reserves the receipt's and journal entry's ids,
    reads and locks the items of the targets that offer a `lock_query` ((kind, SQL,
    parameters), in kind order: they are locked in that order) and reads the accounting
    period of the session's business date, the fee codes the receipt is known to credit
    (see `_known_before_loading`) and what posting takes from the tender types paid with
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
    return _PostingReads(
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
    compared with the caller's by `_tender_types_changed`."""
    return (
        "SELECT json_agg(json_build_array(t.id, t.is_active, t.kind, t.gives_change, "
        "t.requires_reference, t.clearing_account_id, a.is_active) ORDER BY t.id) "
        "FROM cashiering_tendertype t JOIN ledger_glaccount a "
        f"ON a.id = t.clearing_account_id WHERE t.id IN ({placeholders(count)})"
    )


def _tender_types_changed(tenders: Sequence[TenderInput], rows: list) -> bool:
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


def _known_before_loading(
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


def _apply_payments(payments: Sequence[tuple[PricedLine, ReceiptLine]], receipt) -> None:
    for p, line in payments:
        try:
            get_target_type(p.item.kind).apply_payment(
                ref=p.item.ref, amount=p.amount, receipt=receipt, line=line
            )
        except TargetError as exc:
            raise _field_error(f"line {line.line_no}", str(exc)) from None


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


def _fee_codes(codes: set[str]) -> dict[str, FeeCode]:
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


def _load_items(
    lines: Sequence[LineInput], *, for_update: bool
) -> dict[tuple[str, str], TargetItem]:
    by_kind: dict[str, set[str]] = {}
    for line in lines:
        by_kind.setdefault(line.kind, set()).add(line.ref)
    items: dict[tuple[str, str], TargetItem] = {}
    for kind in sorted(by_kind):  # a fixed order, so concurrent receipts lock without deadlock
        try:
            target_type = get_target_type(kind)
        except TargetError as exc:
            raise _field_error("lines", str(exc)) from None
        for ref, item in target_type.load(sorted(by_kind[kind]), for_update=for_update).items():
            items[(kind, ref)] = item
    return items


def _receipt_entry_lines(
    priced: Sequence[PricedLine], tenders: Sequence[TenderInput], change: Decimal, fee_codes
) -> list[LineSpec]:
    """Dr each tender's clearing account (cash net of change), Cr each fee code's GL split."""
    specs: list[LineSpec] = []
    change_left = change
    for tender in tenders:
        amount = tender.amount
        if tender.tender_type.gives_change and change_left:
            taken = min(change_left, amount)
            amount -= taken
            change_left -= taken
        if amount:
            specs.append(LineSpec(tender.tender_type.clearing_account, debit=amount))
    for p in priced:
        for account, part in fee_codes[p.code].distribute(p.amount):
            specs.append(LineSpec(account, credit=part))
    return net_lines(specs)


# --- printing -------------------------------------------------------------------------


def receipt_record_print(*, receipt: Receipt, user, format: str = "thermal") -> ReceiptPrint:
    """Record a print; every print after the first is a reprint (marked on the copy)."""
    with transaction.atomic():
        Receipt.objects.select_for_update().filter(pk=receipt.pk).first()
        is_reprint = ReceiptPrint.objects.filter(receipt=receipt).exists()
        return ReceiptPrint.objects.create(
            receipt=receipt, printed_by=user, is_reprint=is_reprint, format=format
        )


# --- corrections: voids and reversals -------------------------------------------------


def correction_request(
    *,
    receipt: Receipt,
    kind: str,
    reason: str,
    user,
    target_session: CashierSession | None = None,
) -> CorrectionRequest:
    reason = reason.strip()
    if not reason:
        raise _field_error("reason", "Enter the reason.")
    _check_text("reason", reason)
    with transaction.atomic():
        locked = Receipt.objects.select_for_update().select_related("session").get(pk=receipt.pk)
        if locked.status != Receipt.Status.POSTED:
            raise CashieringError(f"Receipt {locked} is already void.")
        if locked.reverses_id is not None:
            raise CashieringError(f"{locked} is itself a reversal; it cannot be corrected again.")
        if hasattr(locked, "reversed_by"):
            raise CashieringError(f"Receipt {locked} has already been reversed.")
        _refuse_if_check_returned(locked)
        if CorrectionRequest.objects.filter(receipt=locked, status="pending").exists():
            raise CashieringError(f"A correction of {locked} is already waiting for approval.")
        if kind not in CorrectionRequest.Kind.values:
            raise CashieringError(f"Unknown correction kind {kind!r}.")
        # A cashier corrects only own receipts (voids and reversals alike); staff who see
        # every receipt may ask for any.
        if locked.session.cashier_id != user.pk and not user.has_perm(
            "cashiering.view_all_receipts"
        ):
            label = "void" if kind == CorrectionRequest.Kind.VOID else "reversal"
            raise CashieringError(f"You can only request a {label} of your own receipts.")
        if kind == CorrectionRequest.Kind.VOID:
            if not locked.session.is_open:
                raise CashieringError(
                    "The session has closed, so the receipt can no longer be voided; "
                    "request a reversal instead."
                )
            target_session = None
        elif kind == CorrectionRequest.Kind.REVERSAL:
            if locked.session.is_open:
                raise CashieringError("The session is still open: request a void instead.")
            if target_session is None or not target_session.is_open:
                raise _field_error("session", "Open a session first: the reversal posts into it.")
            if target_session.cashier_id != user.pk:
                raise _field_error("session", "The reversal posts into your own open session.")
            if target_session.is_training != locked.is_training:
                raise _field_error(
                    "session", "Training receipts are reversed only in a training session."
                )
        with audit_reason(reason):
            return CorrectionRequest.objects.create(
                receipt=locked,
                kind=kind,
                reason=reason[:300],
                requested_by=user,
                target_session=target_session,
            )


def _lock_pending(correction: CorrectionRequest, user) -> CorrectionRequest:
    # `of=("self",)`: the join to the (nullable) target session is an outer join, which
    # PostgreSQL cannot lock; the receipt and sessions are locked where they are changed.
    locked = (
        CorrectionRequest.objects.select_for_update(of=("self",))
        .select_related("receipt__session", "target_session")
        .get(pk=correction.pk)
    )
    if locked.status != CorrectionRequest.Status.PENDING:
        raise CashieringError(f"This request was already {locked.get_status_display().lower()}.")
    if locked.requested_by_id == user.pk:
        raise CashieringError("You cannot approve or reject your own request.")
    if not user.has_perm("cashiering.approve_correction"):
        raise CashieringError("Only a supervisor can decide corrections.")
    return locked


def correction_reject(*, correction: CorrectionRequest, user, note: str) -> CorrectionRequest:
    note = note.strip()
    if not note:
        raise _field_error("note", "Say why the request is rejected.")
    _check_text("note", note)
    with transaction.atomic(), audit_reason(f"Rejected: {note}"):
        locked = _lock_pending(correction, user)
        locked.status = CorrectionRequest.Status.REJECTED
        locked.decided_by = user
        locked.decided_at = timezone.now()
        locked.decision_note = note[:300]
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return locked


def correction_approve(*, correction: CorrectionRequest, user, note: str = "") -> CorrectionRequest:
    _check_text("note", note)
    with transaction.atomic():
        locked = _lock_pending(correction, user)
        with audit_reason(f"{locked.get_kind_display()} approved: {locked.reason}"):
            if locked.kind == CorrectionRequest.Kind.VOID:
                _void(locked.receipt, user=user, reason=locked.reason)
            else:
                # A reversal request always names its session (a database check).
                assert locked.target_session is not None
                locked.reversal_receipt = _reverse(
                    locked.receipt, session=locked.target_session, user=user, reason=locked.reason
                )
            locked.status = CorrectionRequest.Status.APPROVED
            locked.decided_by = user
            locked.decided_at = timezone.now()
            locked.decision_note = note.strip()[:300]
            locked.save(
                update_fields=[
                    "status",
                    "decided_by",
                    "decided_at",
                    "decision_note",
                    "reversal_receipt",
                ]
            )
    return locked


def _unapply_targets(receipt: Receipt) -> None:
    lines = list(receipt.lines.all())
    refs = [LineInput(kind=line.target_kind, ref=line.target_ref) for line in lines]
    _load_items(refs, for_update=True)  # lock in the same order as posting does
    for line in lines:
        get_target_type(line.target_kind).apply_payment(
            ref=line.target_ref, amount=-line.amount, receipt=receipt, line=line
        )


def _void(receipt: Receipt, *, user, reason: str) -> None:
    locked = Receipt.objects.select_for_update().select_related("session").get(pk=receipt.pk)
    session = CashierSession.objects.select_for_update(no_key=True).get(pk=locked.session_id)
    if not session.is_open:
        raise CashieringError(
            "The session closed before the void was approved; reject it and request a reversal."
        )
    if locked.status != Receipt.Status.POSTED:
        raise CashieringError(f"Receipt {locked} is already void.")
    if not locked.is_training:
        assert locked.journal_entry is not None  # every live receipt has its entry
        _unapply_targets(locked)
        with _ledger_errors():
            locked.void_entry = journal_entry_reverse(
                entry=locked.journal_entry,
                user=user,
                reason=f"Void of receipt {locked}: {reason}",
                entry_date=session.business_date,
            )
    locked.status = Receipt.Status.VOIDED
    locked.voided_at = timezone.now()
    locked.save(update_fields=["status", "void_entry", "voided_at"])


def _refuse_if_check_returned(receipt: Receipt) -> None:
    """A receipt whose check the bank returned was undone by the returned-check processing
    (its items re-opened); reversing it too would re-open them twice."""
    if ReturnedCheck.objects.filter(
        receipt=receipt, status=ReturnedCheck.Status.PROCESSED
    ).exists():
        raise CashieringError(
            f"A check on receipt {receipt} came back from the bank and was processed as a "
            "returned check; the receipt cannot be reversed as well."
        )


def _reverse(receipt: Receipt, *, session: CashierSession, user, reason: str) -> Receipt:
    """A new, negative receipt in an open session that undoes `receipt`."""
    original = Receipt.objects.select_for_update().get(pk=receipt.pk)
    target = CashierSession.objects.select_for_update(no_key=True).get(pk=session.pk)
    if not target.is_open:
        raise CashieringError("The session chosen for the reversal has closed; ask again.")
    if original.status != Receipt.Status.POSTED or hasattr(original, "reversed_by"):
        raise CashieringError(f"Receipt {original} was already voided or reversed.")
    _refuse_if_check_returned(original)
    lines = list(original.lines.select_related("fee_code"))
    tenders = list(original.tenders.select_related("tender_type__clearing_account__fund"))
    if not original.is_training:
        _unapply_targets(original)
    series = original.series
    number = next_number(_number_series(series))
    entry = None
    if not original.is_training:
        assert original.journal_entry is not None  # every live receipt has its entry
        with _ledger_errors():
            entry = journal_entry_reverse(
                entry=original.journal_entry,
                user=user,
                reason=f"Reversal of receipt {original} as {series}-{number}: {reason}",
                entry_date=target.business_date,
            )
    reversal = Receipt.objects.create(
        series=series,
        number=number,
        session=target,
        business_date=target.business_date,
        payer_name=original.payer_name,
        total=-original.total,
        tendered=-original.total,
        change_given=ZERO,
        is_training=original.is_training,
        idempotency_key=uuid.uuid4(),
        request_hash="reversal",
        journal_entry=entry,
        reverses=original,
        memo=f"Reversal of {original}: {reason}"[:200],
        posted_by=user,
    )
    ReceiptLine.objects.bulk_create(
        ReceiptLine(
            receipt=reversal,
            line_no=line.line_no,
            target_kind=line.target_kind,
            target_ref=line.target_ref,
            description=line.description,
            fee_code=line.fee_code,
            quantity=-line.quantity,
            unit_price=line.unit_price,
            amount=-line.amount,
        )
        for line in lines
    )
    # Money goes back out the way it came in: cash tenders net of the change given.
    change_left = original.change_given
    reversed_tenders: list[Tender] = []
    for tender in tenders:
        amount = tender.amount
        if tender.tender_type.gives_change and change_left:
            taken = min(change_left, amount)
            amount -= taken
            change_left -= taken
        if amount:
            reversed_tenders.append(
                Tender(
                    receipt=reversal,
                    line_no=len(reversed_tenders) + 1,
                    tender_type=tender.tender_type,
                    amount=-amount,
                    check_number=tender.check_number,
                    check_payer=tender.check_payer,
                    account_last4=tender.account_last4,
                    card_brand=tender.card_brand,
                    card_last4=tender.card_last4,
                    auth_code=tender.auth_code,
                    reference=tender.reference,
                )
            )
    Tender.objects.bulk_create(reversed_tenders)
    return reversal


# --- notes ----------------------------------------------------------------------------


def payer_note_add(*, kind: str, ref: str, text: str, user) -> PayerNote:
    text = text.strip()
    if not text:
        raise _field_error("text", "Write the note.")
    _check_text("text", text)
    get_target_type(kind)
    return PayerNote.objects.create(kind=kind, ref=ref, text=text[:500], author=user)
