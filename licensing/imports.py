"""Import existing license records (from the system being replaced) from CSV or XLSX.

The file is read and every row checked, against the others and the database, before
anything is written: a file with any bad line is refused whole, listing each line and
reason. A dry run does all of that and writes nothing. An accepted file is written in
one transaction: businesses (matched to an open one by UBI, or created), their owners as
contacts, and the licenses with new gapless numbers, keeping the old number as the
legacy number and an "imported" status row each.
"""

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from kent_cs.audit import audit_actor
from kent_cs.numbering import next_numbers
from kent_cs.uploads.cells import cell_date, cell_int, cell_money, cell_text, parse_rows
from kent_cs.uploads.files import UploadSource
from kent_cs.uploads.results import Row, RowError, UploadRefused
from kent_cs.uploads.tables import read_table
from licensing.models import (
    TERMINAL_STATUSES,
    Business,
    Contact,
    License,
    LicenseStatus,
    LicenseStatusChange,
    LicenseType,
    OwnershipType,
)
from licensing.services.licenses import LICENSE_SERIES
from licensing.validators import (
    address_key,
    normalise_naics,
    normalise_ubi,
    validate_phone,
    validate_postal_code,
)

REQUIRED_COLUMNS = (
    "legal_name",
    "ubi",
    "naics",
    "address",
    "zip",
    "license_type",
    "license_year",
    "status",
)
OPTIONAL_COLUMNS = (
    "license_number",
    "trade_name",
    "ownership_type",
    "suite",
    "city",
    "state",
    "inside_city",
    "mailing_address",
    "mailing_city",
    "mailing_state",
    "mailing_zip",
    "fte",
    "gross_receipts",
    "units",
    "opened_on",
    "issued_on",
    "owner_name",
    "phone",
    "email",
)
COLUMN_ALIASES = {
    "legal_name": ("Business Name", "Legal Name", "Name"),
    "trade_name": ("DBA", "Trade Name", "Doing Business As"),
    "ubi": ("UBI #", "UBI Number", "UBI No"),
    "naics": ("NAICS Code", "NAICS #"),
    "address": ("Street", "Location Address", "Street Address", "Address 1"),
    "suite": ("Address 2", "Unit"),
    "zip": ("ZIP Code", "Zip", "Postal Code"),
    "license_type": ("Type", "License Type Code"),
    "license_year": ("Year", "License Year", "Tax Year"),
    "license_number": ("License #", "License No", "License Number", "Old License Number"),
    "fte": ("FTE", "Employees", "FTE Employees", "Number of Employees"),
    "inside_city": ("Inside City", "Inside City Limits", "In City"),
    "owner_name": ("Owner", "Owner Name"),
    "ownership_type": ("Ownership", "Entity Type"),
}
IMPORTABLE_STATUSES = (
    LicenseStatus.ACTIVE,
    LicenseStatus.EXPIRED,
    LicenseStatus.LAPSED,
    LicenseStatus.SUSPENDED,
    LicenseStatus.REVOKED,
    LicenseStatus.CLOSED,
)
_YES = {"y", "yes", "true", "1", "inside", "in"}
_NO = {"n", "no", "false", "0", "outside", "out"}


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


@dataclass
class ImportResult:
    dry_run: bool
    rows: int
    businesses_created: int = 0
    businesses_matched: int = 0
    licenses_created: int = 0
    license_numbers: list[int] = field(default_factory=list)

    @property
    def summary(self) -> str:
        verb = "would create" if self.dry_run else "created"
        return (
            f"{self.rows} lines: {verb} {self.licenses_created} licenses, "
            f"{self.businesses_created} new businesses, {self.businesses_matched} matched "
            "to businesses already on file."
        )


def _choice(text: str, choices, *, column: str, what: str) -> str:
    wanted = text.strip().casefold().replace("-", " ").replace("_", " ")
    for value, label in choices:
        if wanted in (value.casefold().replace("_", " "), str(label).casefold()):
            return value
    allowed = ", ".join(str(label) for _, label in choices)
    raise RowError(f'"{text}" is not a {what}; use one of: {allowed}.', column=column)


def _yes_no(row: Row, column: str, default: bool) -> bool:
    text = cell_text(row, column, required=False).casefold()
    if not text:
        return default
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise RowError(f'"{text}" is not yes or no.', column=column)


def _checked(column: str, check, value):
    try:
        return check(value)
    except ValidationError as exc:
        raise RowError(" ".join(exc.messages), column=column) from None


class _Context:
    """What rows are checked against: license types, the database, the rows before."""

    def __init__(self, rows: Iterable[Row]):
        rows = list(rows)
        self.types = {t.code.upper(): t for t in LicenseType.objects.all()}
        legacy = {str(r.get("license_number") or "").strip() for r in rows} - {""}
        self.legacy_in_db = set(
            License.objects.filter(legacy_number__in=legacy).values_list("legacy_number", flat=True)
        )
        ubis = set()
        for row in rows:
            with contextlib.suppress(ValidationError):  # reported when the row is parsed
                ubis.add(normalise_ubi(str(row.get("ubi") or "")))
        self.open_businesses = {
            b.ubi: b for b in Business.objects.filter(ubi__in=ubis, status=Business.Status.OPEN)
        }
        self.current_types: dict[int, set[int]] = {}
        for business_id, type_id in (
            License.objects.filter(business__in=self.open_businesses.values())
            .exclude(status__in=TERMINAL_STATUSES)
            .values_list("business_id", "license_type_id")
        ):
            self.current_types.setdefault(business_id, set()).add(type_id)
        self.legacy_lines: dict[str, int] = {}
        self.ubi_names: dict[str, tuple[str, int]] = {}
        self.ubi_types: dict[tuple[str, int], int] = {}


def _parse(row: Row, context: _Context) -> ImportRow:
    ubi = _checked("ubi", normalise_ubi, cell_text(row, "ubi"))
    legal_name = cell_text(row, "legal_name", max_length=200)
    earlier = context.ubi_names.setdefault(ubi, (legal_name, row.line))
    if earlier[0].casefold() != legal_name.casefold():
        raise RowError(
            f'Line {earlier[1]} gives this UBI to "{earlier[0]}"; one UBI is one business.',
            column="legal_name",
        )
    code = cell_text(row, "license_type").upper()
    license_type = context.types.get(code)
    if license_type is None:
        known = ", ".join(sorted(context.types))
        raise RowError(
            f'"{code}" is not a license type; use one of: {known}.', column="license_type"
        )
    year = cell_int(row, "license_year", min_value=1990, max_value=timezone.localdate().year + 1)
    assert year is not None  # required: cell_int raised otherwise
    status = _choice(
        cell_text(row, "status"),
        [(s.value, s.label) for s in IMPORTABLE_STATUSES],
        column="status",
        what="status that can be imported",
    )
    current = status not in TERMINAL_STATUSES
    if current:
        first = context.ubi_types.setdefault((ubi, license_type.pk), row.line)
        if first != row.line:
            raise RowError(
                f"Line {first} already has a current {license_type} for this UBI.",
                column="license_type",
            )
        existing = context.open_businesses.get(ubi)
        if existing and license_type.pk in context.current_types.get(existing.pk, set()):
            raise RowError(
                f"{existing} already holds a current {license_type} in this system.",
                column="license_type",
            )
    legacy = cell_text(row, "license_number", required=False, max_length=30)
    if legacy:
        if legacy in context.legacy_in_db:
            raise RowError(f"License {legacy} was imported before.", column="license_number")
        first = context.legacy_lines.setdefault(legacy, row.line)
        if first != row.line:
            raise RowError(f"License {legacy} is also on line {first}.", column="license_number")
    units = cell_int(row, "units", required=False, min_value=0, max_value=100_000)
    if license_type.unit_label and units is None:
        raise RowError(f"Enter the number of {license_type.unit_label}.", column="units")
    zip_code = cell_text(row, "zip", max_length=10)
    _checked("zip", validate_postal_code, zip_code)
    mailing_zip = cell_text(row, "mailing_zip", required=False, max_length=10)
    _checked("mailing_zip", validate_postal_code, mailing_zip)
    ownership_text = cell_text(row, "ownership_type", required=False)
    ownership = (
        _choice(
            ownership_text, OwnershipType.choices, column="ownership_type", what="ownership type"
        )
        if ownership_text
        else OwnershipType.OTHER
    )
    fte = cell_money(row, "fte", required=False)
    if fte is not None and fte < 0:
        raise RowError("FTE employees cannot be negative.", column="fte")
    receipts = cell_money(row, "gross_receipts", required=False)
    if receipts is not None and receipts < 0:
        raise RowError("Gross receipts cannot be negative.", column="gross_receipts")
    issued_on = cell_date(row, "issued_on", required=False) or date(year, 1, 1)
    opened_on = cell_date(row, "opened_on", required=False) or issued_on
    if issued_on < opened_on:
        raise RowError("The license was issued before the business opened.", column="issued_on")
    business = {
        "legal_name": legal_name,
        "trade_name": cell_text(row, "trade_name", required=False, max_length=200),
        "ubi": ubi,
        "ownership_type": ownership,
        "naics_code": _checked("naics", normalise_naics, cell_text(row, "naics")),
        "location_line1": cell_text(row, "address", max_length=120),
        "location_line2": cell_text(row, "suite", required=False, max_length=120),
        "location_city": cell_text(row, "city", required=False, max_length=60) or "Kent",
        "location_state": (cell_text(row, "state", required=False, max_length=2) or "WA").upper(),
        "location_zip": zip_code,
        "mailing_line1": cell_text(row, "mailing_address", required=False, max_length=120),
        "mailing_city": cell_text(row, "mailing_city", required=False, max_length=60),
        "mailing_state": cell_text(row, "mailing_state", required=False, max_length=2).upper(),
        "mailing_zip": mailing_zip,
        "inside_city_limits": _yes_no(row, "inside_city", True),
        "fte_employees": fte if fte is not None else Decimal(0),
        "gross_receipts": receipts,
        "opened_on": opened_on,
    }
    owner_name = cell_text(row, "owner_name", required=False, max_length=120)
    phone = cell_text(row, "phone", required=False, max_length=30)
    _checked("phone", validate_phone, phone)
    email = cell_text(row, "email", required=False, max_length=254)
    if email and ("@" not in email or " " in email):
        raise RowError(f'"{email}" is not an email address.', column="email")
    owner = (
        {"name": owner_name, "role": Contact.Role.OWNER, "phone": phone, "email": email}
        if owner_name
        else None
    )
    return ImportRow(
        line=row.line,
        business=business,
        owner=owner,
        license_type=license_type,
        license_year=year,
        status=status,
        units=units,
        issued_on=issued_on,
        legacy_number=legacy,
    )


def read_license_file(source: UploadSource) -> list[ImportRow]:
    """Read and check the whole file; UploadRefused lists every bad line."""
    table = read_table(
        source,
        required_columns=REQUIRED_COLUMNS,
        optional_columns=OPTIONAL_COLUMNS,
        column_aliases=COLUMN_ALIASES,
    )
    context = _Context(table.rows)
    return parse_rows(table, lambda row: _parse(row, context))


def license_import(
    *, source: UploadSource, user, dry_run: bool = True, filename: str = ""
) -> ImportResult:
    """Check (dry run) or import a file of existing licenses; see the module docstring."""
    rows = read_license_file(source)
    open_by_ubi = {
        b.ubi: b
        for b in Business.objects.filter(
            ubi__in={r.business["ubi"] for r in rows}, status=Business.Status.OPEN
        )
    }
    new_ubis = {r.business["ubi"] for r in rows} - set(open_by_ubi)
    result = ImportResult(
        dry_run=dry_run,
        rows=len(rows),
        businesses_created=len(new_ubis),
        businesses_matched=len({r.business["ubi"] for r in rows} & set(open_by_ubi)),
        licenses_created=len(rows),
    )
    if dry_run or not rows:
        return result
    source_name = filename or "an import file"
    try:
        with (
            transaction.atomic(),
            audit_actor(user, source="license import", reason=f"Imported from {source_name}"),
        ):
            businesses = dict(open_by_ubi)
            created = []
            for row in rows:
                ubi = row.business["ubi"]
                if ubi in businesses:
                    continue
                business = Business(**row.business, status=Business.Status.OPEN)
                business.location_key = address_key(business.location_line1, business.location_zip)
                businesses[ubi] = business
                created.append((business, row.owner))
            Business.objects.bulk_create([b for b, _ in created])
            Contact.objects.bulk_create(
                Contact(business=business, is_primary=True, **owner)
                for business, owner in created
                if owner
            )
            numbers = next_numbers(LICENSE_SERIES, len(rows))
            licenses = License.objects.bulk_create(
                License(
                    number=number,
                    business=businesses[row.business["ubi"]],
                    license_type=row.license_type,
                    status=row.status,
                    license_year=row.license_year,
                    issued_on=row.issued_on,
                    units=row.units,
                    legacy_number=row.legacy_number,
                )
                for number, row in zip(numbers, rows, strict=True)
            )
            LicenseStatusChange.objects.bulk_create(
                LicenseStatusChange(
                    license=license,
                    action="imported",
                    to_status=row.status,
                    to_year=row.license_year,
                    reason=f"Imported from {source_name}, line {row.line}"[:300],
                    effective_on=row.issued_on,
                    changed_by=user,
                )
                for license, row in zip(licenses, rows, strict=True)
            )
    except IntegrityError:
        # Someone registered one of these businesses or licenses while the file was read.
        raise UploadRefused(
            "Businesses or licenses in this file were added by someone else meanwhile; "
            "check the file again and import it."
        ) from None
    result.license_numbers = list(numbers)
    return result
