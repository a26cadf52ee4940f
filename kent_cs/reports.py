"""The one helper for exports: spreadsheet (XLSX, CSV) and printable (PDF, HTML print view).

Every text cell of every export goes through `escape_formula`, so a payer named
"=HYPERLINK(...)" stays text when the file is opened in a spreadsheet. Numbers, money and
dates keep their type.

    columns = [Column("Account", TEXT, width=14), Column("Balance", MONEY)]
    return xlsx_response(xlsx_bytes([Sheet("Balances", columns, rows)]), "balances.xlsx")

Large exports stream rows into a write-only workbook and report progress as they go:

    with XlsxWorkbook(title="Trial balance March 2026") as book:  # discarded on error
        sheet = book.add_sheet("Lines", columns)
        for chunk in chunks:
            sheet.write_rows(chunk)
            job_progress(...)
        data = book.to_bytes()

Printable documents are one template that extends `{{ base_template }}`: rendered with
`reports/base_pdf.html` it becomes a PDF (WeasyPrint, print CSS in static/css/pdf.css),
rendered with `reports/base_print.html` it is the HTML print view inside the site layout.
"""

import csv
import functools
import io
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import get_valid_filename

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
PDF_CONTENT_TYPE = "application/pdf"

MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"
INTEGER_FORMAT = "0"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"

# Column kinds.
TEXT = "text"
MONEY = "money"
INTEGER = "integer"
DATE = "date"
DATETIME = "datetime"
KINDS = (TEXT, MONEY, INTEGER, DATE, DATETIME)

# A cell starting with one of these is read as a formula (or DDE command) by spreadsheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

PDF_BASE_TEMPLATE = "reports/base_pdf.html"
PRINT_BASE_TEMPLATE = "reports/base_print.html"
# Documents are rendered without a web server: relative URLs resolve against this
# placeholder origin, and the fetcher serves only static files from it.
PDF_BASE_URL = "https://kent-cs.invalid/"


class ExportError(ValueError):
    """A value that does not fit its column; a programming error, not user input."""


def escape_formula(value: Any) -> Any:
    """Make text inert for spreadsheets: a leading = + - @ tab or CR gets a single quote.

    Anything that is not text (numbers, Decimals, dates, None) is returned unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = TEXT
    width: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ExportError(f"Unknown column kind {self.kind!r}; use one of {KINDS}.")

    @property
    def default_width(self) -> float:
        if self.width is not None:
            return self.width
        minimum = {MONEY: 14, INTEGER: 10, DATE: 12, DATETIME: 17}.get(self.kind, 12)
        return max(minimum, min(len(self.header) + 2, 60))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return escape_formula(str(value))


def cell_value(column: Column, value: Any) -> Any:
    """`value` as it is written for `column`: text escaped, numbers and dates typed."""
    if value is None or value == "":
        return None
    if column.kind == TEXT:
        return _text(value)
    if column.kind == MONEY:
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise ExportError(f"{column.header}: money must be a Decimal, not {value!r}.")
        return Decimal(value)
    if column.kind == INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ExportError(f"{column.header}: expected an integer, not {value!r}.")
        return value
    if column.kind == DATETIME:
        if not isinstance(value, datetime):
            raise ExportError(f"{column.header}: expected a datetime, not {value!r}.")
        # Spreadsheets have no time zones: write local wall-clock time.
        if timezone.is_aware(value):
            value = timezone.make_naive(value)
        return value
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ExportError(f"{column.header}: expected a date, not {value!r}.")
    return value


# ---------------------------------------------------------------------------- XLSX


def _xlsx_safe(text: str) -> str:
    """Drop control characters that XLSX cannot hold (openpyxl refuses them)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", text)


class XlsxSheet:
    """One write-only worksheet: optional title rows, a frozen header, typed rows."""

    def __init__(
        self,
        book: "XlsxWorkbook",
        title: str,
        columns: Sequence[Column],
        *,
        title_rows: Sequence[str] = (),
    ):
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        self.columns = list(columns)
        self._worksheet = book.workbook.create_sheet(title=_sheet_title(title))
        self._bold = Font(bold=True)
        for index, column in enumerate(self.columns, start=1):
            letter = get_column_letter(index)
            self._worksheet.column_dimensions[letter].width = column.default_width
        # Write-only sheets take the freeze position before any row is written.
        header_row = len(title_rows) + (1 if title_rows else 0) + 1
        self._worksheet.freeze_panes = f"A{header_row + 1}"
        for line in title_rows:
            self._append([self._cell(_text(line), bold=True)])
        if title_rows:
            self._append([])
        self._append([self._cell(_text(c.header), bold=True) for c in self.columns])
        self.rows_written = 0

    def _append(self, cells: list) -> None:
        self._worksheet.append(cells)

    def _cell(self, value: Any, *, number_format: str | None = None, bold: bool = False):
        from openpyxl.cell import WriteOnlyCell

        if isinstance(value, str):
            value = _xlsx_safe(value)
        cell = WriteOnlyCell(self._worksheet, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # never a formula, whatever the text
        if number_format:
            cell.number_format = number_format
        if bold:
            cell.font = self._bold
        return cell

    def write_row(self, values: Sequence[Any], *, bold: bool = False) -> None:
        if len(values) != len(self.columns):
            raise ExportError(f"Row has {len(values)} values for {len(self.columns)} columns.")
        cells = []
        for column, raw in zip(self.columns, values, strict=True):
            value = cell_value(column, raw)
            number_format = {
                MONEY: MONEY_FORMAT,
                INTEGER: INTEGER_FORMAT,
                DATE: DATE_FORMAT,
                DATETIME: DATETIME_FORMAT,
            }.get(column.kind)
            cells.append(self._cell(value, number_format=number_format, bold=bold))
        self._append(cells)
        self.rows_written += 1

    def write_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.write_row(row)


def _sheet_title(title: str) -> str:
    # Excel allows 31 characters and none of []:*?/\ in a sheet name.
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in title).strip()
    return (cleaned or "Sheet")[:31]


class XlsxWorkbook:
    """A write-only workbook: rows go straight to a temporary file, memory stays flat."""

    def __init__(self, *, title: str = "", author: str = ""):
        from openpyxl import Workbook

        self.workbook = Workbook(write_only=True)
        if title:
            self.workbook.properties.title = title[:255]
        self.workbook.properties.creator = (author or settings.CITY_NAME)[:255]

    def add_sheet(
        self, title: str, columns: Sequence[Column], *, title_rows: Sequence[str] = ()
    ) -> XlsxSheet:
        """A sheet whose header row is frozen; `title_rows` (if any) go above the header."""
        return XlsxSheet(self, title, columns, title_rows=title_rows)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.workbook.save(buffer)
        return buffer.getvalue()

    def discard(self) -> None:
        """Drop a workbook that will not be saved, with its temporary sheet files (a
        long-running worker would otherwise keep them until it exits)."""
        for worksheet in self.workbook.worksheets:
            if worksheet.closed:
                continue
            worksheet.close()
            worksheet._writer.cleanup()

    def __enter__(self) -> "XlsxWorkbook":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None:
            self.discard()


@dataclass
class Sheet:
    title: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]
    title_rows: Sequence[str] = ()
    total: Sequence[Any] | None = None  # written last, in bold


def xlsx_bytes(sheets: Sequence[Sheet], *, title: str = "") -> bytes:
    with XlsxWorkbook(title=title) as book:
        for spec in sheets:
            sheet = book.add_sheet(spec.title, spec.columns, title_rows=spec.title_rows)
            sheet.write_rows(spec.rows)
            if spec.total is not None:
                sheet.write_row(spec.total, bold=True)
        return book.to_bytes()


def download_response(data: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{get_valid_filename(filename)}"'
    response["Cache-Control"] = "private, no-store"
    return response


def xlsx_response(data: bytes, filename: str) -> HttpResponse:
    return download_response(data, filename, XLSX_CONTENT_TYPE)


# ----------------------------------------------------------------------------- CSV


def _csv_value(column: Column, value: Any) -> str:
    value = cell_value(column, value)
    if value is None:
        return ""
    if column.kind == MONEY:
        return f"{value:.2f}"
    if column.kind == DATE:
        return value.isoformat()
    if column.kind == DATETIME:
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def write_csv(
    stream, columns: Sequence[Column], rows: Iterable[Sequence[Any]], *, header: bool = True
) -> int:
    """Write rows to a text stream; returns the number of data rows written."""
    writer = csv.writer(stream, lineterminator="\r\n")
    if header:
        writer.writerow([escape_formula(c.header) for c in columns])
    count = 0
    for row in rows:
        if len(row) != len(columns):
            raise ExportError(f"Row has {len(row)} values for {len(columns)} columns.")
        writer.writerow([_csv_value(c, v) for c, v in zip(columns, row, strict=True)])
        count += 1
    return count


def csv_bytes(
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    *,
    header: bool = True,
    bom: bool = False,
) -> bytes:
    """CSV in UTF-8 (with a byte-order mark if `bom`, which Excel needs to detect UTF-8)."""
    buffer = io.StringIO()
    write_csv(buffer, columns, rows, header=header)
    return ("\ufeff" if bom else "").encode() + buffer.getvalue().encode("utf-8")


def csv_response(data: bytes, filename: str) -> HttpResponse:
    return download_response(data, filename, CSV_CONTENT_TYPE)


# ----------------------------------------------------------------------- PDF / print


def _static_file(path: str) -> Path | None:
    """The file behind a static URL path: collected files first, then the finders."""
    path = posixpath.normpath(unquote(path)).lstrip("/")
    if path.startswith("..") or not path:
        return None
    root = Path(settings.STATIC_ROOT) if settings.STATIC_ROOT else None
    if root is not None:
        candidate = (root / path).resolve()
        if candidate.is_file() and candidate.is_relative_to(root.resolve()):
            return candidate
    found = finders.find(path)
    return Path(found) if found else None


@functools.cache
def pdf_url_fetcher():
    """A WeasyPrint fetcher that serves static files from disk and refuses everything else.

    A document never reaches the network: no server is needed to render it, and a URL
    placed in a document by a user cannot make the server fetch anything. Built once per
    process: building one loads the system's certificate bundle, a large share of the
    time a small document (a receipt) takes.
    """
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    static_prefix = urlsplit(settings.STATIC_URL).path

    class StaticFilesFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            parts = urlsplit(url)
            base = urlsplit(PDF_BASE_URL)
            if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
                raise ValueError(f"Documents may only use the site's static files, not {url}")
            if not parts.path.startswith(static_prefix):
                raise ValueError(f"Not a static file: {url}")
            found = _static_file(parts.path[len(static_prefix) :])
            if found is None:
                raise ValueError(f"Static file not found: {url}")
            content_type = {
                ".css": "text/css",
                ".png": "image/png",
                ".svg": "image/svg+xml",
                ".jpg": "image/jpeg",
                ".woff2": "font/woff2",
            }.get(found.suffix.lower(), "application/octet-stream")
            return URLFetcherResponse(
                url, found.read_bytes(), headers={"Content-Type": content_type}
            )

    return StaticFilesFetcher(allowed_protocols=("https", "data"))


def _document_context(context: dict, base_template: str) -> dict:
    return {
        "city_name": settings.CITY_NAME,
        "generated_at": timezone.localtime(),
        **context,
        "base_template": base_template,
    }


def pdf_html(template_name: str, context: dict, request=None):
    """The WeasyPrint document for a template (one that extends `{{ base_template }}`)."""
    from weasyprint import HTML

    html = render_to_string(
        template_name, _document_context(context, PDF_BASE_TEMPLATE), request=request
    )
    return HTML(string=html, base_url=PDF_BASE_URL, url_fetcher=pdf_url_fetcher())


def render_pdf(template_name: str, context: dict, request=None) -> bytes:
    """Render a document template to PDF bytes."""
    return pdf_html(template_name, context, request=request).write_pdf()


def pdf_response(
    template_name: str, context: dict, *, filename: str, request=None, inline: bool = False
) -> HttpResponse:
    response = download_response(
        render_pdf(template_name, context, request=request), filename, PDF_CONTENT_TYPE
    )
    if inline:
        response["Content-Disposition"] = response["Content-Disposition"].replace(
            "attachment", "inline", 1
        )
    return response


def print_response(request, template_name: str, context: dict) -> HttpResponse:
    """The same document as an HTML page in the site layout, styled for printing."""
    return render(request, template_name, _document_context(context, PRINT_BASE_TEMPLATE))
