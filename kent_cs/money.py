"""The one money helper: amounts are Decimal, rounded half-up to the cent."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import models

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class MoneyError(ValueError):
    pass


def to_money(value: Decimal | int | str) -> Decimal:
    """Return `value` as a Decimal rounded half-up to the cent. Floats are refused."""
    if isinstance(value, float):
        raise MoneyError("Money must not be a float; pass a Decimal, int or string.")
    if isinstance(value, bool):
        raise MoneyError("Money must be a number.")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise MoneyError(f"{value!r} is not an amount.") from None
    if not amount.is_finite():
        raise MoneyError(f"{value!r} is not an amount.")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_money(text: str) -> Decimal:
    """Parse an amount as people type it: '$1,234.50', '(12.00)' for negative, '-3'."""
    cleaned = text.strip().replace("$", "").replace(",", "").replace(" ", "")
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    if negative:
        cleaned = cleaned[1:-1]
    if not cleaned:
        raise MoneyError("Enter an amount.")
    amount = to_money(cleaned)
    return -amount if negative else amount


def split_by_weights(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split `total` in proportion to `weights` so that the parts add up to the cent.

    Each part is rounded half-up; the rounding difference goes to the largest part, so
    a split never creates or loses a cent.
    """
    if not weights:
        raise MoneyError("Nothing to split between.")
    weight_sum = sum(weights, Decimal(0))
    if weight_sum <= 0:
        raise MoneyError("Weights must add up to more than zero.")
    parts = [to_money(total * w / weight_sum) for w in weights]
    difference = to_money(total) - sum(parts, ZERO)
    if difference:
        largest = max(range(len(parts)), key=lambda i: weights[i])
        parts[largest] += difference
    return parts


def MoneyField(**kwargs) -> models.DecimalField:
    """A DecimalField sized for money: 14 digits, 2 places."""
    kwargs.setdefault("max_digits", 14)
    kwargs.setdefault("decimal_places", 2)
    return models.DecimalField(**kwargs)
