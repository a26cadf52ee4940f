"""The shared export helpers: formula escaping, typed XLSX and CSV, PDF and print views."""

import csv
import io
import re
import zlib
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.test import RequestFactory

from kent_cs import reports
from kent_cs.reports import (
    DATE,
    DATETIME,
    INTEGER,
    MONEY,
    TEXT,
    Column,
    ExportError,
    Sheet,
    XlsxWorkbook,
    csv_bytes,
    escape_formula,
    xlsx_bytes,
    xlsx_response,
)

DANGEROUS = ['=HYPERLINK("http://evil.example","x")', "+1", "-2", "@x", "\tx", "\rx"]

COLUMNS = [
    Column("Name", TEXT, width=30),
    Column("Amount", MONEY),
    Column("Count", INTEGER),
    Column("Day", DATE),
    Column("At", DATETIME),
]


def inflate_pdf_objects(data: bytes) -> bytes:
    """The PDF's compressed streams, inflated and joined (WeasyPrint keeps the document
    information and page tree in compressed object streams)."""
    parts = []
    for match in re.finditer(rb"stream\r?\n", data):
        try:
            parts.append(zlib.decompressobj().decompress(data[match.end() :]))
        except zlib.error:
            continue
    return b"\n".join(parts)


@pytest.mark.parametrize("text", DANGEROUS)
def test_escape_formula_quotes_text_a_spreadsheet_would_run(text):
    assert escape_formula(text) == "'" + text


@pytest.mark.parametrize(
    "value", ["Plain name", "Smith-Jones", "a=b", "", "1+1", " =x", "'already quoted"]
)
def test_escape_formula_leaves_harmless_text_alone(value):
    assert escape_formula(value) == value


@pytest.mark.parametrize(
    "value", [Decimal("-12.50"), -3, 0, date(2026, 3, 16), None, datetime(2026, 3, 16, 9, 30)]
)
def test_escape_formula_keeps_numbers_and_dates_typed(value):
    assert escape_formula(value) is value


def _reopen(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def test_xlsx_cells_are_typed_and_formatted():
    data = xlsx_bytes(
        [
            Sheet(
                "Payments",
                COLUMNS,
                [
                    (
                        "Casey",
                        Decimal("1234.50"),
                        3,
                        date(2026, 3, 16),
                        datetime(2026, 3, 16, 17, 5, tzinfo=ZoneInfo("UTC")),
                    ),
                    ("Refund", Decimal("-40.00"), 0, None, None),
                ],
                total=("Total", Decimal("1194.50"), 3, None, None),
            )
        ],
        title="Payments March 2026",
    )
    book = _reopen(data)
    sheet = book["Payments"]
    assert book.properties.title == "Payments March 2026"
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == ["Name", "Amount", "Count", "Day", "At"]
    assert sheet[1][0].font.b
    name, amount, count, day, at = sheet[2]
    assert name.value == "Casey"
    assert amount.value == 1234.5 and amount.data_type == "n"
    assert amount.number_format == "#,##0.00;[Red]-#,##0.00"
    assert count.value == 3 and count.number_format == "0"
    assert day.value == datetime(2026, 3, 16) and day.number_format == "yyyy-mm-dd"
    # Stored as Pacific wall-clock time: 17:05 UTC is 10:05 in March (daylight time).
    assert at.value == datetime(2026, 3, 16, 10, 5)
    assert at.number_format == "yyyy-mm-dd hh:mm"
    assert sheet["B3"].value == -40 and sheet["D3"].value is None
    total = sheet[4]
    assert total[0].value == "Total" and total[0].font.b and total[1].value == 1194.5
    assert sheet.column_dimensions["A"].width == 30
    assert sheet.column_dimensions["B"].width >= 14


def test_xlsx_text_that_looks_like_a_formula_stays_text():
    book = XlsxWorkbook()
    sheet = book.add_sheet("Names", [Column("Name"), Column("Amount", MONEY)])
    sheet.write_rows((text, Decimal("1.00")) for text in DANGEROUS)
    sheet.write_row(("Nul\x00 and bell\x07 dropped", Decimal("2.00")))
    reopened = _reopen(book.to_bytes())["Names"]
    values = [row[0].value for row in reopened.iter_rows(min_row=2)]
    # XML reads a stored carriage return back as a line feed; the quote is what matters.
    assert values[: len(DANGEROUS)] == ["'" + text.replace("\r", "\n") for text in DANGEROUS]
    assert all(row[0].data_type == "s" for row in reopened.iter_rows(min_row=2))
    assert values[-1] == "Nul and bell dropped"


def test_xlsx_title_rows_sit_above_a_frozen_header():
    book = XlsxWorkbook()
    sheet = book.add_sheet(
        "Report/March: [draft]", COLUMNS[:2], title_rows=["City of Kent", "=Not a formula"]
    )
    sheet.write_row(("A", Decimal("1.00")))
    reopened = _reopen(book.to_bytes())
    ws = reopened.worksheets[0]
    assert ws.title == "Report March   draft"
    assert ws["A1"].value == "City of Kent"
    assert ws["A2"].value == "'=Not a formula"
    assert ws["A4"].value == "Name"
    assert ws.freeze_panes == "A5"
    assert ws["B5"].value == 1


@pytest.mark.parametrize(
    ("column", "value"),
    [
        (Column("Amount", MONEY), 1.5),
        (Column("Amount", MONEY), "1.50"),
        (Column("Count", INTEGER), Decimal("1")),
        (Column("Day", DATE), datetime(2026, 3, 1)),
        (Column("At", DATETIME), date(2026, 3, 1)),
    ],
)
def test_typed_columns_refuse_values_of_the_wrong_type(column, value):
    with pytest.raises(ExportError), XlsxWorkbook() as book:
        book.add_sheet("S", [column]).write_row((value,))


def test_a_discarded_workbook_leaves_no_temporary_files():
    from openpyxl.worksheet._writer import ALL_TEMP_FILES

    before = set(ALL_TEMP_FILES)
    with pytest.raises(ExportError), XlsxWorkbook() as book:
        sheet = book.add_sheet("S", COLUMNS[:2])
        sheet.write_row(("ok", Decimal("1.00")))
        sheet.write_row(("bad", 1.5))
    assert set(ALL_TEMP_FILES) == before


def test_unknown_column_kind_and_wrong_row_length_are_refused():
    with pytest.raises(ExportError):
        Column("X", "percent")
    with pytest.raises(ExportError, match="2 values for 5 columns"), XlsxWorkbook() as book:
        book.add_sheet("S", COLUMNS).write_row(("a", Decimal(1)))


def test_xlsx_response_is_a_download():
    response = xlsx_response(b"PK..", "trial balance 2026/03.xlsx")
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"] == 'attachment; filename="trial_balance_202603.xlsx"'
    assert response.content == b"PK.."


def test_csv_escapes_text_and_keeps_numbers_plain():
    data = csv_bytes(
        COLUMNS,
        [(text, Decimal("-12.5"), 2, date(2026, 3, 16), None) for text in DANGEROUS]
        + [("Plain, with comma", Decimal("1234567.891"), 0, None, None)],
    )
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[0] == ["Name", "Amount", "Count", "Day", "At"]
    assert [r[0] for r in rows[1:-1]] == ["'" + text for text in DANGEROUS]
    assert rows[1][1:] == ["-12.50", "2", "2026-03-16", ""]
    assert rows[-1] == ["Plain, with comma", "1234567.89", "0", "", ""]
    assert data.count(b"\r\n") == len(rows)


def test_csv_byte_order_mark_is_optional():
    columns = [Column("Name")]
    assert csv_bytes(columns, [("Zoë",)], bom=True).startswith("\ufeff".encode())
    assert csv_bytes(columns, [("Zoë",)]) == "Name\r\nZoë\r\n".encode()


# ------------------------------------------------------------------- PDF and print view


@pytest.fixture
def document_template(settings, tmp_path):
    (tmp_path / "sample_document.html").write_text(
        "{% extends base_template %}{% block document %}"
        "<h1>Sample notice</h1><p>Amount due {{ amount }}</p>"
        '<img src="http://127.0.0.1:9/tracker.png" alt="">'
        "{% endblock %}"
    )
    engine = dict(settings.TEMPLATES[0])
    engine["DIRS"] = [*engine["DIRS"], tmp_path]
    settings.TEMPLATES = [engine]
    return "sample_document.html"


def _texts(box, found):
    if getattr(box, "text", None):
        found.append(box.text)
    for child in getattr(box, "children", None) or ():
        _texts(child, found)
    return found


@pytest.mark.django_db
def test_render_pdf_makes_a_letter_pdf_with_title_and_page_numbers(document_template):
    context = {"document_title": "Sample notice 42", "amount": "$12.50"}
    data = reports.render_pdf(document_template, context)
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    objects = inflate_pdf_objects(data)
    assert b"/Title (Sample notice 42)" in objects
    assert b"/MediaBox [0 0 612 792]" in objects  # US Letter, portrait

    pages = reports.pdf_html(document_template, context).render().pages
    text = " ".join(_texts(pages[0]._page_box, []))
    assert "Sample notice" in text and "Amount due $12.50" in text
    assert "City of Kent" in text  # running header
    assert "Page 1 of 1" in text  # running footer


@pytest.mark.django_db
def test_pdf_response_is_a_pdf_download(document_template):
    response = reports.pdf_response(
        document_template, {"document_title": "Notice", "amount": "1"}, filename="notice.pdf"
    )
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="notice.pdf"'
    assert response.content.startswith(b"%PDF-")


def test_pdf_fetcher_serves_static_files_and_nothing_else():
    fetcher = reports.pdf_url_fetcher()
    response = fetcher.fetch(reports.PDF_BASE_URL + "static/css/pdf.css")
    assert b"@page" in response.read()
    assert response.content_type == "text/css"
    for url in (
        "http://127.0.0.1:9/tracker.png",
        "file:///etc/passwd",
        reports.PDF_BASE_URL + "static/../../kent_cs/settings.py",
        reports.PDF_BASE_URL + "media/upload.png",
        reports.PDF_BASE_URL + "static/css/missing.css",
    ):
        with pytest.raises(ValueError):
            fetcher.fetch(url)


@pytest.mark.django_db
def test_print_view_renders_the_same_document_in_the_site_layout(document_template, technician):
    request = RequestFactory().get("/print/")
    request.user = technician
    response = reports.print_response(
        request,
        document_template,
        {"document_title": "Sample notice 42", "amount": "$12.50", "pdf_url": "/x.pdf"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>Sample notice 42 · City of Kent Customer Services</title>" in html
    assert "<h1>Sample notice</h1><p>Amount due $12.50</p>" in html
    assert 'href="/static/css/print.css" media="print"' in html
    assert "data-print" in html and 'href="/x.pdf">Download PDF</a>' in html
