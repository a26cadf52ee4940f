"""What a license import must have confirmed before it writes anything: the defaults the
importer applies where the file leaves a value out (each shown with the value it gives,
some of them chosen by the technician), and the rows that look like a business already
on file or on another line of the file.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from kent_cs.uploads.cells import cell_text
from kent_cs.uploads.results import Table
from licensing.models import Business, LicenseType, OwnershipType
from licensing.validators import address_key, business_name_key, format_ubi

# Headers as the template writes them and as messages name a column the file lacks.
COLUMN_LABELS = {
    "legal_name": "Business Name",
    "trade_name": "DBA",
    "ubi": "UBI",
    "ubi_branch": "UBI Branch",
    "ubi_location": "UBI Location",
    "naics": "NAICS Code",
    "address": "Address",
    "suite": "Suite",
    "city": "City",
    "state": "State",
    "zip": "ZIP",
    "inside_city": "Inside City Limits",
    "mailing_address": "Mailing Address",
    "mailing_city": "Mailing City",
    "mailing_state": "Mailing State",
    "mailing_zip": "Mailing ZIP",
    "license_type": "License Type",
    "license_year": "License Year",
    "status": "Status",
    "license_number": "License Number",
    "issued_on": "Issue Date",
    "opened_on": "Open Date",
    "fte": "FTE",
    "gross_receipts": "Gross Receipts",
    "units": "Units",
    "ownership_type": "Ownership Type",
    "owner_name": "Owner Name",
    "phone": "Phone",
    "email": "Email",
}
# What a business gets where the file leaves these out (see `_defaults`).
DEFAULT_CITY = "Kent"
DEFAULT_STATE = "WA"
DEFAULT_OWNERSHIP = OwnershipType.OTHER
DEFAULT_FTE = Decimal(0)
# What the technician ticks to say the likely duplicates shown are separate businesses.
DUPLICATES_CONFIRMATION = "likely_duplicates"


@dataclass(frozen=True)
class ImportChoices:
    """What a business or license gets where the file leaves the value out."""

    inside_city: bool = True
    issued_on: date | None = None  # None: January 1 of the license's year


@dataclass(frozen=True)
class AppliedDefault:
    """A value the importer supplies for a missing column or blank cells. `confirmation` names
    the column and the value: a confirmation holds for that value only."""

    column: str
    confirmation: str
    message: str


@dataclass(frozen=True)
class ImportWarning:
    """A row that may be a business already on file or on another line."""

    line: int
    message: str
    unit: str = "Line"

    def __str__(self) -> str:
        return f"{self.unit} {self.line}: {self.message}"


@dataclass(frozen=True)
class ImportRow:
    line: int
    business: dict[str, Any]
    owner: dict[str, Any] | None
    license_type: LicenseType
    license_year: int
    status: str
    units: int | None
    issued_on: date
    legacy_number: str


def _day(value: date) -> str:
    return f"{value:%B} {value.day}, {value.year}"


@dataclass(frozen=True)
class _Default:
    subject: str  # "business" or "license": what the column is about
    outcome: str  # what such a business or license gets
    value: str  # the value, as the confirmation names it


def _defaults(choices: ImportChoices) -> dict[str, _Default]:
    """Each default the importer applies, by column (the values `_parse` gives)."""
    inside = "inside" if choices.inside_city else "outside"
    issued = choices.issued_on
    return {
        "inside_city": _Default("business", f"recorded as {inside} city limits", inside),
        "issued_on": _Default(
            "license",
            f"recorded as issued on {_day(issued)}"
            if issued
            else "recorded as issued on January 1 of its license year",
            issued.isoformat() if issued else "january_1",
        ),
        "opened_on": _Default(
            "business", "recorded as opened on its license's issue date", "issued"
        ),
        "city": _Default("business", f"recorded as located in {DEFAULT_CITY}", DEFAULT_CITY),
        "state": _Default("business", f"recorded as located in {DEFAULT_STATE}", DEFAULT_STATE),
        "ownership_type": _Default(
            "business",
            f'recorded with the ownership type "{DEFAULT_OWNERSHIP.label}"',
            DEFAULT_OWNERSHIP.value,
        ),
        "fte": _Default("business", f"recorded with {DEFAULT_FTE} FTE employees", str(DEFAULT_FTE)),
    }


def _lines_text(lines: list[int]) -> str:
    shown = ", ".join(str(line) for line in lines[:10])
    return shown + (f" and {len(lines) - 10:,} more" if len(lines) > 10 else "")


def applied_defaults(
    table: Table, rows: list[ImportRow], choices: ImportChoices
) -> list[AppliedDefault]:
    """Each default the rows get: for a column the file lacks, or its blank cells."""
    good_lines = {row.line for row in rows}
    applied = []
    for column, default in _defaults(choices).items():
        confirmation = f"{column}={default.value}"
        plural = "businesses" if default.subject == "business" else "licenses"
        if column not in table.labels:
            message = (
                f'Column "{COLUMN_LABELS[column]}" is not in the file: every {default.subject} '
                f"will be {default.outcome}."
            )
            applied.append(AppliedDefault(column, confirmation, message))
            continue
        blank = [
            row.line
            for row in table.rows
            if row.line in good_lines and not cell_text(row, column, required=False)
        ]
        if blank:
            one = len(blank) == 1
            unit = table.unit.lower() + ("" if one else "s")
            whom = f"that {default.subject}" if one else f"those {plural}"
            message = (
                f'Column "{table.labels[column]}" is blank on {len(blank):,} {unit} '
                f"({_lines_text(blank)}): {whom} will be {default.outcome}."
            )
            applied.append(AppliedDefault(column, confirmation, message))
    return applied


def _name_keys(names: Iterable[str]) -> set[str]:
    return {key for key in map(business_name_key, names) if key}


def likely_duplicates(
    table: Table, rows: list[ImportRow], open_by_ubi: dict[str, Business]
) -> list[ImportWarning]:
    """Rows whose business has the name and address of another business (on file or on
    an earlier line) under another UBI, and rows matched by UBI to a business on file
    under another name."""
    warnings = []
    new_rows = []
    seen_ubis: set[str] = set()
    for row in rows:
        ubi = row.business["ubi"]
        if ubi in seen_ubis:
            continue  # the same business as an earlier line
        seen_ubis.add(ubi)
        names = _name_keys((row.business["legal_name"], row.business["trade_name"]))
        existing = open_by_ubi.get(ubi)
        if existing is not None:
            if not names & _name_keys((existing.legal_name, existing.trade_name)):
                warnings.append(
                    ImportWarning(
                        row.line,
                        f'UBI {format_ubi(ubi)} is on file as "{existing.display_name}"; this '
                        f'line names "{row.business["legal_name"]}". Its license will be added '
                        "to the business on file.",
                        table.unit,
                    )
                )
            continue
        place = address_key(row.business["location_line1"], row.business["location_zip"])
        if place:
            new_rows.append((row, names, place))
    on_file: dict[tuple[str, str], Business] = {}
    places = {place for _, _, place in new_rows}
    for business in Business.objects.filter(status=Business.Status.OPEN, location_key__in=places):
        for name in _name_keys((business.legal_name, business.trade_name)):
            on_file.setdefault((name, business.location_key), business)
    earlier: dict[tuple[str, str], ImportRow] = {}
    for row, names, place in new_rows:
        where = f"{row.business['location_line1']}, {row.business['location_zip']}"
        found = next((on_file[(n, place)] for n in sorted(names) if (n, place) in on_file), None)
        first = next((earlier[(n, place)] for n in sorted(names) if (n, place) in earlier), None)
        if found is not None:
            warnings.append(
                ImportWarning(
                    row.line,
                    f'"{row.business["legal_name"]}" at {where} looks like {found.display_name} '
                    f"(UBI {format_ubi(found.ubi)}), already on file under another UBI.",
                    table.unit,
                )
            )
        elif first is not None:
            warnings.append(
                ImportWarning(
                    row.line,
                    f'"{row.business["legal_name"]}" at {where} looks like '
                    f'"{first.business["legal_name"]}" on {table.unit.lower()} {first.line} '
                    f"(UBI {format_ubi(first.business['ubi'])}), under another UBI.",
                    table.unit,
                )
            )
        for name in names:
            earlier.setdefault((name, place), row)
    return sorted(warnings, key=lambda warning: warning.line)
