"""Card-data refusal: the counter never stores a full card number, expiry, CVV or track."""

import re

from django.core.exceptions import ValidationError

# 13 to 19 digits, optionally grouped by spaces or dashes, as people type card numbers.
_CANDIDATE = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
CARD_NUMBER_MESSAGE = (
    "This looks like a full card number. Never enter card numbers: record only the card "
    "brand, the last 4 digits and the authorization code."
)


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def contains_card_number(text: str) -> bool:
    """True when `text` holds a 13-19 digit sequence that passes the Luhn check."""
    if not text:
        return False
    for match in _CANDIDATE.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return True
    return False


def refuse_card_number(value: str) -> None:
    """Form/model validator for any free-text field on the counter."""
    if contains_card_number(value):
        raise ValidationError(CARD_NUMBER_MESSAGE, code="card_number")
