"""What a receipt is posted from: its lines and tenders as the form gives them, checked
(limits, tender details, card numbers refused) and priced; the change owed; the request's
fingerprint for idempotency."""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal

from cashiering.errors import CashieringError
from cashiering.models import (
    TenderType,
)
from cashiering.targets import TargetItem
from cashiering.validators import CARD_NUMBER_MESSAGE, contains_card_number
from kent_cs.money import ZERO, to_money

MAX_LINES = 50


MAX_TENDERS = 10


# Per line or tender: fifty of them still fit a money column (14 digits), so a slip of the
# keyboard gets a message instead of a database error.
MAX_AMOUNT = Decimal("999999999.99")


MAX_QUANTITY = Decimal("999999.999")


TOO_LARGE = "Enter an amount of at most 999,999,999.99."


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
# columns, the text checked for card numbers): TenderInput's fields after those two.
TENDER_DETAIL_FIELDS = tuple(f.name for f in fields(TenderInput))[2:]


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


def field_error(field: str, message: str) -> CashieringError:
    return CashieringError({field: [message]})


def check_text(field: str, value: str) -> None:
    if contains_card_number(value):
        raise field_error(field, CARD_NUMBER_MESSAGE)


def _is_last4(value: str) -> bool:
    # ASCII digits only: str.isdigit() also accepts "²" or "٤", which the database refuses.
    return len(value) == 4 and all("0" <= char <= "9" for char in value)


def validate_tenders(tenders: Sequence[TenderInput]) -> list[TenderInput]:
    if not tenders:
        raise field_error("tenders", "Add at least one tender.")
    if len(tenders) > MAX_TENDERS:
        raise field_error("tenders", f"A receipt takes at most {MAX_TENDERS} tenders.")
    cleaned = []
    for index, tender in enumerate(tenders, start=1):
        prefix = f"tender {index}"
        kind = tender.tender_type.kind
        amount = to_money(tender.amount)
        if amount <= 0:
            raise field_error(f"{prefix} amount", "Enter an amount greater than zero.")
        if amount > MAX_AMOUNT:
            raise field_error(f"{prefix} amount", TOO_LARGE)
        if not tender.tender_type.is_active:
            raise field_error(f"{prefix} type", f"{tender.tender_type} is not accepted.")
        for name in TENDER_DETAIL_FIELDS:
            check_text(f"{prefix} {name.replace('_', ' ')}", getattr(tender, name))
        if kind == TenderType.Kind.CHECK:
            if not tender.check_number.strip():
                raise field_error(f"{prefix} check number", "Enter the check number.")
            if not tender.check_payer.strip():
                raise field_error(f"{prefix} check payer", "Enter the name printed on the check.")
            if tender.account_last4.strip() and not _is_last4(tender.account_last4.strip()):
                raise field_error(
                    f"{prefix} account last4",
                    "Enter only the last 4 digits of the account number, or leave it blank.",
                )
        if kind == TenderType.Kind.CARD:
            if not tender.card_brand.strip():
                raise field_error(f"{prefix} card brand", "Choose the card brand.")
            if not _is_last4(tender.card_last4.strip()):
                raise field_error(f"{prefix} card last4", "Enter the last 4 digits of the card.")
            if not tender.auth_code.strip() or len(tender.auth_code.strip()) > 12:
                raise field_error(f"{prefix} auth code", "Enter the authorization code.")
        needs_reference = kind in (TenderType.Kind.MONEY_ORDER, TenderType.Kind.ACH)
        if (
            needs_reference
            and tender.tender_type.requires_reference
            and not tender.reference.strip()
        ):
            raise field_error(f"{prefix} reference", "Enter the money order or trace number.")
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
        raise field_error("tenders", f"Tenders ({tendered}) are less than the total ({total}).")
    change = tendered - total
    cash = sum((t.amount for t in tenders if t.tender_type.gives_change), ZERO)
    if change > cash:
        raise field_error(
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
