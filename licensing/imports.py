"""Import existing license records (from the system being replaced) from CSV or XLSX.

The file is read and every row checked, against the others and the database, before
anything is written. By default a file with any bad line is refused whole, listing each
line and reason; the technician may instead choose to import the good rows only, and the
refused ones are kept (with their problems) to be downloaded, corrected and imported
again. A dry run does all of that and writes nothing.

Nothing is written either until the technician has confirmed what the file leaves to the
importer: each default applied where an optional column is missing or blank (inside city
limits, the issue date, ...), shown with the value it gives, and the rows that look like
a business already on file or on another line (same name and address, another UBI).

An accepted file is written in one transaction: businesses (matched to an open one by
UBI, or created, with the branch and location of a 16-digit UBI), their owners as
contacts, the licenses with new gapless numbers, keeping the old number as the legacy
number and an "imported" status row each, and a record of the import.
"""

import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from kent_cs.audit import audit_actor
from kent_cs.numbering import next_numbers
from kent_cs.uploads.cells import (
    RefusedRow,
    cell_date,
    cell_int,
    cell_money,
    cell_text,
    parse_rows,
    parse_rows_apart,
    row_texts,
)
from kent_cs.uploads.files import UploadSource
from kent_cs.uploads.results import Row, RowError, Table, UploadRefused
from kent_cs.uploads.tables import read_table
from licensing.import_checks import (
    DEFAULT_CITY,
    DEFAULT_FTE,
    DEFAULT_OWNERSHIP,
    DEFAULT_STATE,
    DUPLICATES_CONFIRMATION,
    AppliedDefault,
    ImportChoices,
    ImportRow,
    ImportWarning,
    applied_defaults,
    likely_duplicates,
)
from licensing.models import (
    TERMINAL_STATUSES,
    Business,
    Contact,
    License,
    LicenseImport,
    LicenseStatus,
    LicenseStatusChange,
    LicenseType,
    OwnershipType,
)
from licensing.services.licenses import LICENSE_SERIES
from licensing.validators import (
    UbiParts,
    address_key,
    format_ubi,
    normalise_naics,
    split_ubi,
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
    "ubi_branch",
    "ubi_location",
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
    "ubi_branch": ("Branch", "Branch #", "Branch Number", "UBI Branch"),
    "ubi_location": ("Location #", "Location Number", "Loc #", "UBI Location"),
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
    "issued_on": ("Issue Date", "Issued", "Date Issued", "Issued On"),
    "opened_on": ("Open Date", "Opened", "Opened On", "Business Start Date", "Start Date"),
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


def _count(number: int, one: str, many: str = "") -> str:
    return f"{number:,} {one if number == 1 else many or one + 's'}"


@dataclass
class ImportResult:
    dry_run: bool
    rows: int
    mode: str = LicenseImport.Mode.ALL
    businesses_created: int = 0
    businesses_matched: int = 0
    licenses_created: int = 0
    license_numbers: list[int] = field(default_factory=list)
    refused: list[RefusedRow] = field(default_factory=list)
    defaults: list[AppliedDefault] = field(default_factory=list)
    warnings: list[ImportWarning] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)  # confirmations still to be given
    record: LicenseImport | None = None  # set once the import is written

    @property
    def written(self) -> bool:
        return self.record is not None

    @property
    def to_confirm(self) -> bool:
        """Whether there are defaults or likely duplicates to show for confirmation."""
        return not self.written and bool(self.defaults or self.warnings)

    @property
    def summary(self) -> str:
        verb = "would create" if not self.written else "created"
        text = (
            f"{_count(self.rows, 'line')}: {verb} {_count(self.licenses_created, 'license')}, "
            f"{_count(self.businesses_created, 'new business', 'new businesses')}, "
            f"{self.businesses_matched} matched to businesses already on file."
        )
        if self.refused:
            count = len(self.refused)
            text += f" {count} refused {'line is' if count == 1 else 'lines are'} not imported."
        return text


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


def _parts_text(parts: UbiParts) -> str:
    if not parts.branch:
        return f"UBI {format_ubi(parts.ubi)} without a branch and location"
    return f"branch {parts.branch}, location {parts.location}"


class _Context:
    """What rows are checked against: license types, the database, the rows before."""

    def __init__(self, table: Table, choices: ImportChoices):
        rows = table.rows
        self.columns = set(table.labels)
        self.choices = choices
        self.types = {t.code.upper(): t for t in LicenseType.objects.all()}
        legacy = {str(r.get("license_number") or "").strip() for r in rows} - {""}
        self.legacy_in_db = set(
            License.objects.filter(legacy_number__in=legacy).values_list("legacy_number", flat=True)
        )
        ubis = set()
        for row in rows:
            with contextlib.suppress(ValidationError):  # reported when the row is parsed
                ubis.add(split_ubi(str(row.get("ubi") or "")).ubi)
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
        self.ubi_parts: dict[str, tuple[UbiParts, int]] = {}
        self.ubi_types: dict[tuple[str, int], int] = {}


def _ubi_parts(row: Row) -> UbiParts:
    """The UBI cell (9 or 16 digits) with the branch and location columns, if any."""
    raw = row.get("ubi")
    text = cell_text(row, "ubi")
    if isinstance(raw, int | float) and not isinstance(raw, bool) and len(text) > 15:
        # Excel keeps 15 digits of a number: the 16th (of the location) is already lost.
        raise RowError(
            f"{text} is a number in the spreadsheet, and Excel keeps only 15 digits of a "
            "number, so the last digit of this 16-digit UBI may be lost. Format the column "
            "as text and type the UBI again (or put the branch and location in columns of "
            "their own).",
            column="ubi",
        )
    parts = _checked("ubi", split_ubi, text)
    branch = cell_text(row, "ubi_branch", required=False).replace(" ", "")
    location = cell_text(row, "ubi_location", required=False).replace(" ", "")
    if branch and not re.fullmatch(r"\d{1,3}", branch):
        raise RowError("A UBI branch number is three digits, like 001.", column="ubi_branch")
    if location and not re.fullmatch(r"\d{1,4}", location):
        raise RowError("A UBI location number is four digits, like 0001.", column="ubi_location")
    if bool(branch) != bool(location):
        missing = "ubi_location" if branch else "ubi_branch"
        raise RowError(
            "Give the UBI branch and location numbers together, or neither.", column=missing
        )
    if branch:
        # Spreadsheets drop leading zeros from numbers: 1 is branch 001.
        given = UbiParts(parts.ubi, branch.zfill(3), location.zfill(4))
        if parts.branch and parts[1:] != given[1:]:
            raise RowError(
                f"The 16-digit UBI says {_parts_text(parts)}; the branch and location "
                f"columns say {_parts_text(given)}.",
                column="ubi",
            )
        return given
    return parts


def _parse(row: Row, context: _Context) -> ImportRow:
    parts = _ubi_parts(row)
    ubi = parts.ubi
    legal_name = cell_text(row, "legal_name", max_length=200)
    earlier = context.ubi_names.setdefault(ubi, (legal_name, row.line))
    if earlier[0].casefold() != legal_name.casefold():
        raise RowError(
            f'Line {earlier[1]} gives this UBI to "{earlier[0]}"; one UBI is one business.',
            column="legal_name",
        )
    first_parts, first_line = context.ubi_parts.setdefault(ubi, (parts, row.line))
    if first_parts != parts:
        raise RowError(
            f"Line {first_line} gives this UBI {_parts_text(first_parts)}, this line "
            f"{_parts_text(parts)}. This system keeps one open business per UBI: import "
            "one location's licenses, or correct the branch and location numbers.",
            column="ubi",
        )
    existing = context.open_businesses.get(ubi)
    if (
        existing
        and existing.ubi_branch
        and parts.branch
        and parts[1:]
        != (
            existing.ubi_branch,
            existing.ubi_location,
        )
    ):
        raise RowError(
            f"{existing} is on file as branch {existing.ubi_branch}, location "
            f"{existing.ubi_location} of this UBI; this line is {_parts_text(parts)}. This "
            "system keeps one open business per UBI.",
            column="ubi",
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
        if "units" not in context.columns:
            raise RowError(
                f'There is no "Units" column; a {license_type} needs the number of '
                f"{license_type.unit_label}."
            )
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
        else DEFAULT_OWNERSHIP
    )
    fte = cell_money(row, "fte", required=False)
    if fte is not None and fte < 0:
        raise RowError("FTE employees cannot be negative.", column="fte")
    receipts = cell_money(row, "gross_receipts", required=False)
    if receipts is not None and receipts < 0:
        raise RowError("Gross receipts cannot be negative.", column="gross_receipts")
    issued_cell = cell_date(row, "issued_on", required=False)
    issued_on = issued_cell or context.choices.issued_on or date(year, 1, 1)
    opened_on = cell_date(row, "opened_on", required=False) or issued_on
    if issued_on < opened_on:
        if issued_cell:
            raise RowError("The license was issued before the business opened.", column="issued_on")
        raise RowError(
            f"The business opened on {opened_on:%m/%d/%Y}, after {issued_on:%m/%d/%Y}, the "
            "issue date given to licenses without one; give this line its issue date.",
            column="opened_on",
        )
    business = {
        "legal_name": legal_name,
        "trade_name": cell_text(row, "trade_name", required=False, max_length=200),
        "ubi": ubi,
        "ubi_branch": parts.branch,
        "ubi_location": parts.location,
        "ownership_type": ownership,
        "naics_code": _checked("naics", normalise_naics, cell_text(row, "naics")),
        "location_line1": cell_text(row, "address", max_length=120),
        "location_line2": cell_text(row, "suite", required=False, max_length=120),
        "location_city": cell_text(row, "city", required=False, max_length=60) or DEFAULT_CITY,
        "location_state": (
            cell_text(row, "state", required=False, max_length=2) or DEFAULT_STATE
        ).upper(),
        "location_zip": zip_code,
        "mailing_line1": cell_text(row, "mailing_address", required=False, max_length=120),
        "mailing_city": cell_text(row, "mailing_city", required=False, max_length=60),
        "mailing_state": cell_text(row, "mailing_state", required=False, max_length=2).upper(),
        "mailing_zip": mailing_zip,
        "inside_city_limits": _yes_no(row, "inside_city", context.choices.inside_city),
        "fte_employees": fte if fte is not None else DEFAULT_FTE,
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


def _row_parser(context: _Context):
    def parse(row: Row) -> ImportRow:
        try:
            return _parse(row, context)
        except RowError as exc:
            if exc.column and exc.column not in context.columns:
                # A missing optional column's default is not the file's mistake: name no
                # column the file does not have.
                raise RowError(exc.message) from None
            raise

    return parse


def _read(source: UploadSource) -> Table:
    return read_table(
        source,
        required_columns=REQUIRED_COLUMNS,
        optional_columns=OPTIONAL_COLUMNS,
        column_aliases=COLUMN_ALIASES,
    )


def read_license_file(
    source: UploadSource, *, choices: ImportChoices | None = None
) -> list[ImportRow]:
    """Read and check the whole file; UploadRefused lists every bad line."""
    table = _read(source)
    return parse_rows(table, _row_parser(_Context(table, choices or ImportChoices())))


# The column a refused-rows file adds; a file handed back twice gets a fresh one.
PROBLEM_COLUMN = "problem"


def _refused_record(table: Table, refused: list[RefusedRow]) -> dict[str, Any]:
    kept = [i for i, column in enumerate(table.columns) if column != PROBLEM_COLUMN]
    return {
        "columns": [table.labels[table.columns[i]] for i in kept],
        "rows": [
            [item.problem, *(cells[i] for i in kept)]
            for item in refused
            for cells in [row_texts(table, item.row)]
        ],
    }


def license_import(
    *,
    source: UploadSource,
    user,
    dry_run: bool = True,
    filename: str = "",
    mode: str = LicenseImport.Mode.ALL,
    choices: ImportChoices | None = None,
    confirmed: Iterable[str] = (),
) -> ImportResult:
    """Check (dry run) or import a file of existing licenses; see the module docstring.

    `mode` ALL refuses the whole file for any bad line (UploadRefused); GOOD_ROWS imports
    the good lines and keeps the refused ones on the import record. Nothing is written
    while a default or a likely duplicate is not in `confirmed` (`result.unconfirmed`).
    """
    choices = choices or ImportChoices()
    table = _read(source)
    parse = _row_parser(_Context(table, choices))
    refused: list[RefusedRow] = []
    if mode == LicenseImport.Mode.GOOD_ROWS:
        rows, refused = parse_rows_apart(table, parse)
    else:
        rows = parse_rows(table, parse)
    ubis = {r.business["ubi"] for r in rows}
    open_by_ubi = {
        b.ubi: b for b in Business.objects.filter(ubi__in=ubis, status=Business.Status.OPEN)
    }
    result = ImportResult(
        dry_run=dry_run,
        rows=len(table.rows),
        mode=mode,
        businesses_created=len(ubis - set(open_by_ubi)),
        businesses_matched=len(ubis & set(open_by_ubi)),
        licenses_created=len(rows),
        refused=refused,
        defaults=applied_defaults(table, rows, choices) if rows else [],
        warnings=likely_duplicates(table, rows, open_by_ubi),
    )
    wanted = [d.confirmation for d in result.defaults]
    if result.warnings:
        wanted.append(DUPLICATES_CONFIRMATION)
    result.unconfirmed = [token for token in wanted if token not in set(confirmed)]
    if dry_run or result.unconfirmed or not (rows or refused):
        return result
    source_name = filename or "an import file"
    try:
        with (
            transaction.atomic(),
            audit_actor(user, source="license import", reason=f"Imported from {source_name}"),
        ):
            numbers = _write(rows, open_by_ubi, user=user, source_name=source_name)
            result.record = LicenseImport.objects.create(
                file_name=source_name[:255],
                mode=mode,
                rows=result.rows,
                licenses_created=result.licenses_created,
                businesses_created=result.businesses_created,
                businesses_matched=result.businesses_matched,
                refused=_refused_record(table, refused) if refused else {},
                refused_count=len(refused),
                created_by=user,
            )
    except IntegrityError:
        # Someone registered one of these businesses or licenses while the file was read.
        raise UploadRefused(
            "Businesses or licenses in this file were added by someone else meanwhile; "
            "check the file again and import it."
        ) from None
    result.license_numbers = list(numbers)
    return result


def _write(
    rows: list[ImportRow], open_by_ubi: dict[str, Business], *, user, source_name: str
) -> range:
    """The businesses, owners, licenses and status rows of checked rows (in the caller's
    transaction); returns the new license numbers."""
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
        Contact(business=business, is_primary=True, **owner) for business, owner in created if owner
    )
    numbers = next_numbers(LICENSE_SERIES, len(rows)) if rows else range(0)
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
    return numbers
