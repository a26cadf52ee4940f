"""Card-data refusal: the counter never stores a full card number, expiry, CVV or track."""

import re

from django.core.exceptions import ValidationError

# Digits as people type card numbers: grouped by spaces or dashes (a few at most).
_DIGIT_RUN = re.compile(r"\d(?:[\s-]{0,3}\d)*")
_GROUP = re.compile(r"\d+")
MIN_CARD_DIGITS, MAX_CARD_DIGITS = 13, 19
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
    """True when `text` holds a 13-19 digit number that passes the Luhn check.

    A card number may sit next to other digits ("qty 2 4111 1111 1111 1111", "... 1111 12"):
    every run of consecutive digit groups is tried, not only the whole run, so neighbours
    cannot hide it. An unbroken digit string is tried whole only, so a long reference that
    fails the Luhn check is accepted.
    """
    if len(text) < MIN_CARD_DIGITS:  # too short to hold one (most fields at the counter)
        return False
    for run in _DIGIT_RUN.finditer(text):
        groups = _GROUP.findall(run.group())
        for first in range(len(groups)):
            digits = ""
            for group in groups[first:]:
                digits += group
                if len(digits) > MAX_CARD_DIGITS:
                    break
                if len(digits) >= MIN_CARD_DIGITS and luhn_valid(digits):
                    return True
    return False


def refuse_card_number(value: str) -> None:
    """Form/model validator for any free-text field on the counter."""
    if contains_card_number(value):
        raise ValidationError(CARD_NUMBER_MESSAGE, code="card_number")
