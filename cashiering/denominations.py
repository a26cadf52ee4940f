"""US currency denominations for counting floats, drawers and deposits."""

from collections.abc import Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError

from kent_cs.money import ZERO

# (key, label, value, is_coin)
DENOMINATIONS = [
    ("100.00", "$100 bills", Decimal("100.00"), False),
    ("50.00", "$50 bills", Decimal("50.00"), False),
    ("20.00", "$20 bills", Decimal("20.00"), False),
    ("10.00", "$10 bills", Decimal("10.00"), False),
    ("5.00", "$5 bills", Decimal("5.00"), False),
    ("2.00", "$2 bills", Decimal("2.00"), False),
    ("1.00", "$1 bills", Decimal("1.00"), False),
    ("coin-1.00", "$1 coins", Decimal("1.00"), True),
    ("0.50", "Half dollars", Decimal("0.50"), True),
    ("0.25", "Quarters", Decimal("0.25"), True),
    ("0.10", "Dimes", Decimal("0.10"), True),
    ("0.05", "Nickels", Decimal("0.05"), True),
    ("0.01", "Pennies", Decimal("0.01"), True),
]
VALUES = {key: value for key, _label, value, _coin in DENOMINATIONS}
MAX_PIECES = 100_000


def count_total(counts: dict[str, int]) -> tuple[Decimal, dict[str, int]]:
    """Total of a count by denomination; refuses unknown keys and negative or silly counts."""
    total = ZERO
    normalized: dict[str, int] = {}
    for key, raw in counts.items():
        if key not in VALUES:
            raise ValidationError(f"Unknown denomination {key!r}.")
        try:
            pieces = int(raw or 0)
        except (TypeError, ValueError):
            raise ValidationError(f"Count of {key} must be a whole number.") from None
        if pieces < 0 or pieces > MAX_PIECES:
            raise ValidationError(f"Count of {key} must be between 0 and {MAX_PIECES}.")
        if pieces:
            normalized[key] = pieces
            total += VALUES[key] * pieces
    return total, normalized


def pieces_for(amount: Decimal, keys: Sequence[str]) -> dict[str, int]:
    """A count by denomination adding up to `amount`, taking as many of each of `keys`
    (largest first) as fit; `keys` must end with a piece that makes up any rest."""
    left, count = amount, {}
    for key in keys:
        pieces = int(left // VALUES[key])
        if pieces:
            count[key] = pieces
            left -= VALUES[key] * pieces
    if left:
        raise ValueError(f"{amount} cannot be made of {', '.join(keys)}.")
    return count
