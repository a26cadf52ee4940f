"""Posting a receipt: pricing its lines against the payment targets, the journal entry,
the receipt with its lines and tenders, and the payments the targets take, in one
transaction and exactly once per idempotency key; recording a receipt's print."""

import uuid
from collections.abc import Sequence
from decimal import Decimal

from django.db import IntegrityError, transaction

from cashiering.errors import (
    CashieringError,
    IdempotencyConflict,
    TenderTypesChanged,
    ledger_errors,
)
from cashiering.models import (
    CashierSession,
    Receipt,
    ReceiptLine,
    ReceiptPrint,
    Tender,
)
from cashiering.services.receipt_inputs import (
    MAX_AMOUNT,
    MAX_LINES,
    MAX_QUANTITY,
    TOO_LARGE,
    LineInput,
    PricedLine,
    TenderInput,
    check_text,
    compute_change,
    field_error,
    request_fingerprint,
    validate_tenders,
)
from cashiering.services.receipt_statements import (
    RECEIPT_LINE_ATTRS,
    RECEIPT_LINE_FIELDS,
    TENDER_FIELDS,
    PostingReads,
    fee_codes_read,
    insert_receipt,
    known_before_loading,
    payment_statements,
    posting_reads,
    target_of,
    tender_types_changed,
    tender_value,
)
from cashiering.services.sessions import LIVE_SERIES, TRAINING_SERIES
from cashiering.targets import TargetError, TargetItem, get_target_type
from kent_cs.db import (
    history_context_bound,
    json_insert_statement,
    prepared_cursor,
    with_queries,
)
from kent_cs.money import ZERO, to_money
from ledger.services import (
    LineSpec,
    journal_entry_stage,
    net_lines,
    period_from_row,
)


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
            raise field_error(prefix, f"{line.ref} was not found; search again.")
        target_type = get_target_type(line.kind)
        if target_type.priced_by_quantity:
            quantity = Decimal(line.quantity)
            if (
                not quantity.is_finite()
                or quantity <= 0
                or quantity != quantity.quantize(Decimal("0.001"))
            ):
                raise field_error(f"{prefix} quantity", "Enter a quantity greater than zero.")
            if quantity > MAX_QUANTITY:
                raise field_error(f"{prefix} quantity", "Enter a quantity of at most 999,999.999.")
            unit_price = line.unit_price if line.unit_price is not None else item.default_amount
            if unit_price is None:
                raise field_error(f"{prefix} unit price", "Enter the price.")
            unit_price = to_money(unit_price)
            if unit_price <= 0:
                raise field_error(f"{prefix} unit price", "Enter a price greater than zero.")
            if unit_price > MAX_AMOUNT:
                raise field_error(f"{prefix} unit price", TOO_LARGE)
            amount = to_money(quantity * unit_price)
        else:
            quantity, unit_price = (
                Decimal(1),
                to_money(line.amount if line.amount is not None else 0),
            )
            amount = unit_price
        if amount <= 0:
            raise field_error(f"{prefix} amount", "Enter an amount greater than zero.")
        if amount > MAX_AMOUNT:
            raise field_error(f"{prefix} amount", TOO_LARGE)
        balance = owing.get((line.kind, line.ref), item.balance)
        due = max(balance or ZERO, ZERO)
        if not item.allow_overpay and amount > due:
            raise field_error(
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
    check_text("payer name", payer_name)
    check_text("memo", memo)
    if not payer_name:
        raise field_error("payer name", "Enter the payer's name.")
    if not lines:
        raise field_error("lines", "Add at least one item to pay.")
    if len(lines) > MAX_LINES:
        raise field_error("lines", f"A receipt takes at most {MAX_LINES} items.")
    clean_tenders = validate_tenders(tenders)
    fingerprint = request_fingerprint(
        session_id=session.pk, payer_name=payer_name, lines=lines, tenders=tenders, memo=memo
    )

    fee_code_hint, item_queries = known_before_loading(lines)
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
                reads=posting_reads(
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
    reads: "PostingReads",
) -> Receipt:
    """receipt_post's transaction, after its first statement (`reads`)."""
    locked_session = reads.session
    training = locked_session.is_training
    if reads.existing_id is not None:
        return _posted_under(key, fingerprint)
    if tender_types_changed(clean_tenders, reads.tender_types):
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
        **target_items_load([x for x in lines if x.kind not in reads.item_kinds], for_update=True),
    }
    priced = _price_lines(lines, items)
    total = sum((p.amount for p in priced), ZERO)
    change = compute_change(total, clean_tenders)
    series = TRAINING_SERIES if training else LIVE_SERIES
    fee_codes = reads.fee_codes
    missing = {p.code for p in priced} - fee_codes.keys()
    if missing:
        fee_codes = {**fee_codes, **fee_codes_read(missing)}
    receipt_id = reads.receipt_id
    # Everything but the two numbered rows is written first, under reserved ids (or in
    # the same statement): the receipt and journal series stay locked only from the
    # receipt's INSERT (which takes its number) to the commit, while every other
    # cashier waits on them.
    if training:
        staged = None
    else:
        with ledger_errors():
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
                (receipt_id, index, *(tender_value(t, name) for name in TENDER_FIELDS))
                for index, t in enumerate(clean_tenders, start=1)
            ],
        ),
    ]
    payments = [] if training else list(zip(priced, receipt_lines, strict=True))
    late = [pair for pair in payments if target_of(pair).needs_receipt_number]
    early = [pair for pair in payments if not target_of(pair).needs_receipt_number]
    statements, direct = payment_statements(early)
    if direct:
        # Targets that check a payment as they take it do so after the receipt's lines
        # are written (a returned check reads what is still owed from them).
        sql, params = with_queries(rows)
        with prepared_cursor() as cursor:
            cursor.execute(sql, params)
        rows = []
        _apply_payments(direct, receipt)
    # The rest, with the two numbered rows, in one statement.
    insert_receipt(receipt, staged, [*rows, *statements])
    _apply_payments(late, receipt)
    return receipt


def _apply_payments(payments: Sequence[tuple[PricedLine, ReceiptLine]], receipt) -> None:
    for p, line in payments:
        try:
            get_target_type(p.item.kind).apply_payment(
                ref=p.item.ref, amount=p.amount, receipt=receipt, line=line
            )
        except TargetError as exc:
            raise field_error(f"line {line.line_no}", str(exc)) from None


def target_items_load(
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
            raise field_error("lines", str(exc)) from None
        for ref, item in target_type.load(sorted(by_kind[kind]), for_update=for_update).items():
            items[(kind, ref)] = item
    return items


def net_of_change[T: (TenderInput, Tender)](
    tenders: Sequence[T], change: Decimal
) -> list[tuple[T, Decimal]]:
    """Each tender with the money it leaves in the drawer: change given comes out of the
    tenders that give change, in order; tenders left at zero are dropped."""
    kept: list[tuple[T, Decimal]] = []
    change_left = change
    for tender in tenders:
        amount = tender.amount
        if tender.tender_type.gives_change and change_left:
            taken = min(change_left, amount)
            amount -= taken
            change_left -= taken
        if amount:
            kept.append((tender, amount))
    return kept


def _receipt_entry_lines(
    priced: Sequence[PricedLine], tenders: Sequence[TenderInput], change: Decimal, fee_codes
) -> list[LineSpec]:
    """Dr each tender's clearing account (cash net of change), Cr each fee code's GL split."""
    specs = [
        LineSpec(tender.tender_type.clearing_account, debit=amount)
        for tender, amount in net_of_change(tenders, change)
    ]
    for p in priced:
        for account, part in fee_codes[p.code].distribute(p.amount):
            specs.append(LineSpec(account, credit=part))
    return net_lines(specs)


def receipt_record_print(*, receipt: Receipt, user, format: str = "thermal") -> ReceiptPrint:
    """Record a print; every print after the first is a reprint (marked on the copy)."""
    with transaction.atomic():
        Receipt.objects.select_for_update().filter(pk=receipt.pk).first()
        is_reprint = ReceiptPrint.objects.filter(receipt=receipt).exists()
        return ReceiptPrint.objects.create(
            receipt=receipt, printed_by=user, is_reprint=is_reprint, format=format
        )
