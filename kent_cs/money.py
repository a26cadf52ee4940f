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

    Largest-remainder method: every part starts at its exact share cut down to the cent,
    and the cents left over go one each to the parts that were cut the most (ties: the
    larger weight, then the earlier part). So the parts add up to `total` rounded to the
    cent, each part is within a cent of its exact share (never negative for a positive
    total), and a negative total splits as the mirror image of the positive one.
    Rounding every part half-up and pushing the whole difference onto one part instead
    can drive that part below zero (0.02 split four ways gave -0.01).
    """
    if not weights:
        raise MoneyError("Nothing to split between.")
    if any(w < 0 for w in weights):
        raise MoneyError("Weights must not be negative.")
    weight_sum = sum(weights, Decimal(0))
    if weight_sum <= 0:
        raise MoneyError("Weights must add up to more than zero.")
    amount = to_money(total)
    sign = -1 if amount < 0 else 1
    cents = int(abs(amount) / CENT)
    exact = [Decimal(cents) * w / weight_sum for w in weights]
    floors = [int(share) for share in exact]  # share >= 0, so int() rounds down
    left_over = cents - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), -weights[i], i))
    for index in order[:left_over]:
        floors[index] += 1
    return [Decimal(sign * part) * CENT for part in floors]


def MoneyField(**kwargs) -> models.DecimalField:
    """A DecimalField sized for money: 14 digits, 2 places."""
    kwargs.setdefault("max_digits", 14)
    kwargs.setdefault("decimal_places", 2)
    return models.DecimalField(**kwargs)
