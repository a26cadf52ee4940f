"""Checks for the identifiers a business license carries: UBI, NAICS, addresses.

The Washington UBI (Unified Business Identifier) is nine digits. The Department of
Revenue publishes no check digit, so none is invented here: the check is nine digits,
written with or without the usual spaces or dashes ("602 123 456", "602-123-456"), and
not a placeholder (all zeros, or one digit repeated). The 16-digit form state letters
and city license files print (UBI 9, branch 3, location 4: "602-123-456-001-0001") is
read as its parts by `split_ubi`; where only a UBI is asked for (`normalise_ubi`) it is
refused with a hint, not cut down silently.
"""

import re
from typing import NamedTuple

from django.core.exceptions import ValidationError

UBI_LENGTH = 9
UBI_BRANCH_LENGTH = 3
UBI_LOCATION_LENGTH = 4
UBI_FULL_LENGTH = UBI_LENGTH + UBI_BRANCH_LENGTH + UBI_LOCATION_LENGTH
_UBI_SEPARATORS = re.compile(r"[\s\-.]+")

# NAICS 2022 sectors: the first two digits of every code.
NAICS_SECTORS: dict[str, str] = {
    "11": "Agriculture, forestry, fishing and hunting",
    "21": "Mining, quarrying, and oil and gas extraction",
    "22": "Utilities",
    "23": "Construction",
    "31": "Manufacturing",
    "32": "Manufacturing",
    "33": "Manufacturing",
    "42": "Wholesale trade",
    "44": "Retail trade",
    "45": "Retail trade",
    "48": "Transportation and warehousing",
    "49": "Transportation and warehousing",
    "51": "Information",
    "52": "Finance and insurance",
    "53": "Real estate and rental and leasing",
    "54": "Professional, scientific, and technical services",
    "55": "Management of companies and enterprises",
    "56": "Administrative and support and waste management and remediation services",
    "61": "Educational services",
    "62": "Health care and social assistance",
    "71": "Arts, entertainment, and recreation",
    "72": "Accommodation and food services",
    "81": "Other services (except public administration)",
    "92": "Public administration",
}


def normalise_ubi(value: str) -> str:
    """The UBI as nine digits, or ValidationError saying what is wrong with it."""
    text = _UBI_SEPARATORS.sub("", str(value or "").strip())
    if not text:
        raise ValidationError("Enter the business's UBI number.", code="ubi_required")
    if not text.isdigit() or not text.isascii():
        raise ValidationError(
            "A UBI number is nine digits, like 602 123 456.", code="ubi_not_digits"
        )
    if len(text) == 16:
        raise ValidationError(
            "Enter only the first nine digits of the UBI; the branch and location numbers "
            "are not part of it.",
            code="ubi_with_location",
        )
    if len(text) != UBI_LENGTH:
        raise ValidationError(
            f"A UBI number is nine digits; this one has {len(text)}.", code="ubi_length"
        )
    if len(set(text)) == 1:
        raise ValidationError(f"{format_ubi(text)} is a placeholder, not a UBI.", code="ubi_fake")
    return text


class UbiParts(NamedTuple):
    ubi: str  # nine digits: the business
    branch: str  # three digits, or "" when not given
    location: str  # four digits, or "" when not given


def split_ubi(value: str) -> UbiParts:
    """A 9-digit UBI, or the 16-digit UBI + branch + location, as its parts.

    The UBI part is checked as `normalise_ubi` checks a UBI; ValidationError otherwise.
    """
    text = _UBI_SEPARATORS.sub("", str(value or "").strip())
    if len(text) == UBI_FULL_LENGTH and text.isdigit() and text.isascii():
        ubi = normalise_ubi(text[:UBI_LENGTH])
        branch = text[UBI_LENGTH : UBI_LENGTH + UBI_BRANCH_LENGTH]
        return UbiParts(ubi, branch, text[UBI_LENGTH + UBI_BRANCH_LENGTH :])
    if text.isdigit() and text.isascii() and len(text) not in (UBI_LENGTH, UBI_FULL_LENGTH):
        raise ValidationError(
            f"A UBI number is nine digits (or sixteen with the branch and location "
            f"numbers); this one has {len(text)}.",
            code="ubi_length",
        )
    return UbiParts(normalise_ubi(text), "", "")


def validate_ubi(value: str) -> None:
    """Model-field validator: the stored value must already be nine plain digits."""
    if normalise_ubi(value) != value:
        raise ValidationError("Store the UBI as nine digits without spaces.", code="ubi_format")


def format_ubi(ubi: str) -> str:
    """As printed on state documents: 602 123 456."""
    return f"{ubi[:3]} {ubi[3:6]} {ubi[6:]}" if len(ubi) == UBI_LENGTH else ubi


def normalise_naics(value: str) -> str:
    text = str(value or "").strip().replace(" ", "")
    if not re.fullmatch(r"\d{2,6}", text):
        raise ValidationError(
            "A NAICS code is 2 to 6 digits, like 722511 (full-service restaurants).",
            code="naics_format",
        )
    if text[:2] not in NAICS_SECTORS:
        raise ValidationError(
            f"{text[:2]} is not a NAICS sector; codes start with 11, 21-23, 31-33, 42, "
            "44-45, 48-49, 51-56, 61, 62, 71, 72, 81 or 92.",
            code="naics_sector",
        )
    return text


def validate_naics(value: str) -> None:
    normalise_naics(value)


def naics_sector(code: str) -> str:
    return (code or "")[:2]


def naics_sector_name(code: str) -> str:
    return NAICS_SECTORS.get(naics_sector(code), "Unknown sector")


# Street words as the USPS abbreviates them, so "1220 West Meeker Street" and
# "1220 W Meeker St" are the same place to duplicate detection.
_ADDRESS_WORDS = {
    "NORTH": "N",
    "SOUTH": "S",
    "EAST": "E",
    "WEST": "W",
    "NORTHEAST": "NE",
    "NORTHWEST": "NW",
    "SOUTHEAST": "SE",
    "SOUTHWEST": "SW",
    "STREET": "ST",
    "AVENUE": "AVE",
    "AV": "AVE",
    "ROAD": "RD",
    "DRIVE": "DR",
    "BOULEVARD": "BLVD",
    "PLACE": "PL",
    "COURT": "CT",
    "LANE": "LN",
    "HIGHWAY": "HWY",
    "PARKWAY": "PKWY",
    "WAY": "WAY",
    "SUITE": "STE",
    "APARTMENT": "APT",
    "UNIT": "UNIT",
    "#": "UNIT",
}


def address_key(line1: str, postal_code: str) -> str:
    """A comparable form of a street address: capitals, USPS abbreviations, 5-digit ZIP."""
    words = re.sub(r"[^\w#]+", " ", (line1 or "").upper()).split()
    street = " ".join(_ADDRESS_WORDS.get(word, word) for word in words)
    zip5 = re.sub(r"\D", "", postal_code or "")[:5]
    return f"{street}|{zip5}" if street else ""


# Words that do not tell two businesses apart: "Kent Bakery, L.L.C." is "Kent Bakery".
_NAME_NOISE = {
    "THE",
    "LLC",
    "INC",
    "INCORPORATED",
    "CORP",
    "CORPORATION",
    "CO",
    "COMPANY",
    "LTD",
    "LIMITED",
    "PLLC",
    "LLP",
    "LP",
    "PC",
    "PS",
}


def business_name_key(name: str) -> str:
    """A comparable form of a business name: capitals, no punctuation, "&" as AND, and no
    company-form words (LLC, Inc, Co, The), for duplicate detection."""
    text = (name or "").upper().replace("&", " AND ")
    words = re.sub(r"[^\w]+", " ", text.replace(".", "")).split()  # L.L.C. is LLC
    return " ".join(word for word in words if word not in _NAME_NOISE)


def validate_postal_code(value: str) -> None:
    if value and not re.fullmatch(r"\d{5}(-\d{4})?", value):
        raise ValidationError("Enter a ZIP code like 98032 or 98032-1234.", code="zip")


def validate_phone(value: str) -> None:
    digits = re.sub(r"\D", "", value or "")
    if value and not 10 <= len(digits) <= 15:
        raise ValidationError("Enter a phone number with its area code.", code="phone")
