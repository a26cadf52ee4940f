"""The files around a license import: the template to fill in (CSV or XLSX, every column
the import reads, required ones marked, one example row that imports as it is), and the
refused rows of an import handed back as CSV with their problems, to correct and import
again. Both are written formula-safe by kent_cs.reports."""

from django.utils import timezone

from kent_cs.reports import Column, XlsxWorkbook, csv_bytes
from licensing.import_checks import COLUMN_LABELS
from licensing.imports import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from licensing.models import LicenseImport, LicenseType

# The template's columns, in the order a person fills them in.
TEMPLATE_COLUMNS = (
    "legal_name",
    "trade_name",
    "ubi",
    "ubi_branch",
    "ubi_location",
    "naics",
    "ownership_type",
    "address",
    "suite",
    "city",
    "state",
    "zip",
    "inside_city",
    "mailing_address",
    "mailing_city",
    "mailing_state",
    "mailing_zip",
    "license_type",
    "license_year",
    "status",
    "license_number",
    "issued_on",
    "opened_on",
    "fte",
    "gross_receipts",
    "units",
    "owner_name",
    "phone",
    "email",
)
assert set(TEMPLATE_COLUMNS) == {*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS}, "template out of date"


def _example_type() -> LicenseType | None:
    types = LicenseType.objects.filter(is_active=True).order_by("code")
    return types.filter(code__iexact="GEN").first() or types.first()


def _example_row() -> dict[str, str]:
    year = timezone.localdate().year
    license_type = _example_type()
    return {
        "legal_name": "Meeker Street Bakery LLC",
        "trade_name": "Meeker Bakery",
        "ubi": "602-123-456-001-0001",
        "ubi_branch": "001",
        "ubi_location": "0001",
        "naics": "311811",
        "ownership_type": "Limited liability company",
        "address": "210 W Meeker St",
        "suite": "Ste 101",
        "city": "Kent",
        "state": "WA",
        "zip": "98032",
        "inside_city": "Yes",
        "mailing_address": "PO Box 5888",
        "mailing_city": "Kent",
        "mailing_state": "WA",
        "mailing_zip": "98064",
        "license_type": license_type.code if license_type else "",
        "license_year": str(year),
        "status": "Active",
        "license_number": f"BL-{year}-0001",
        "issued_on": f"{year}-01-15",
        "opened_on": f"{year - 5}-06-01",
        "fte": "8",
        "gross_receipts": "450000.00",
        "units": "12" if license_type and license_type.unit_label else "",
        "owner_name": "Rosa Diaz",
        "phone": "253-555-0147",
        "email": "rosa@meekerbakery.example",
    }


def _template_rows() -> tuple[list[Column], list[list[str]]]:
    """A first row saying which columns are required (the import finds the header below
    it), the header, and the example."""
    required = set(REQUIRED_COLUMNS)
    markers = [Column("Required" if c in required else "Optional") for c in TEMPLATE_COLUMNS]
    example = _example_row()
    header = [COLUMN_LABELS[column] for column in TEMPLATE_COLUMNS]
    return markers, [header, [example[column] for column in TEMPLATE_COLUMNS]]


def template_csv() -> bytes:
    columns, rows = _template_rows()
    return csv_bytes(columns, rows, bom=True)


def template_xlsx() -> bytes:
    columns, rows = _template_rows()
    with XlsxWorkbook(title="License import template") as book:
        sheet = book.add_sheet("Licenses", columns)
        sheet.write_row(rows[0], bold=True)
        sheet.write_row(rows[1])
        return book.to_bytes()


def refused_rows_csv(record: LicenseImport) -> bytes:
    """The import's refused rows with the file's columns, then the problem."""
    columns = [Column(label) for label in record.refused.get("columns", [])]
    columns.append(Column("Problem"))
    rows = [[*cells, problem] for problem, *cells in record.refused.get("rows", [])]
    return csv_bytes(columns, rows, bom=True)


def refused_rows_filename(record: LicenseImport) -> str:
    stem = record.file_name.rsplit(".", 1)[0] or "import"
    return f"{stem}-refused-rows.csv"
