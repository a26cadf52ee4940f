"""The shared upload helper: every bad file is refused with the reason users will read,
and good files come back as typed values with the line numbers users see."""

import codecs
import gzip
import io
import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from kent_cs.uploads.cells import cell_date, cell_int, cell_money, cell_text, parse_rows
from kent_cs.uploads.fields import TableUploadField, TextUploadField
from kent_cs.uploads.files import detect_kind, read_bytes
from kent_cs.uploads.results import Row, RowError, UploadIssue, UploadRefused
from kent_cs.uploads.tables import normalise_header, read_table
from kent_cs.uploads.text import read_text

PAYMENT_COLUMNS = {
    "required_columns": ("account_number", "amount", "paid_on"),
    "optional_columns": ("memo",),
    "column_aliases": {
        "account_number": ("Acct No", "Account #"),
        "amount": ("Amt", "Payment Amount"),
        "paid_on": ("Date", "Payment Date"),
    },
}
WANTED = "upload a CSV or Excel .xlsx file."

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 50 + b"!This program"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


def upload(name: str, content: bytes | str, encoding: str = "utf-8") -> SimpleUploadedFile:
    if isinstance(content, str):
        content = content.encode(encoding)
    return SimpleUploadedFile(name, content)


def refusal(call, *args, **kwargs) -> list[str]:
    with pytest.raises(UploadRefused) as caught:
        call(*args, **kwargs)
    return caught.value.messages


def xlsx_bytes(rows, *, title: str = "Payments", more_sheets: tuple[str, ...] = ()) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for values in rows:
        sheet.append(values)
    for name in more_sheets:
        workbook.create_sheet(name).append(["other"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def rebuilt(xlsx: bytes, *, replace: dict[str, bytes] | None = None, add=None) -> bytes:
    """The workbook's zip with some parts replaced or added."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members.update(replace or {})
    members.update(add or {})
    return zip_bytes(members)


GOOD_XLSX_ROWS = [["Account #", "Amt", "Payment Date"], ["1001", 12.5, date(2024, 1, 15)]]


def parse_payment(row: Row) -> tuple[str, Decimal, date]:
    return (
        cell_text(row, "account_number", max_length=12),
        cell_money(row, "amount"),
        cell_date(row, "paid_on"),
    )


# --- Size and emptiness ---------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused():
    assert refusal(read_table, upload("big.csv", "a,b\n" + "1,2\n" * 1000), max_bytes=2048) == [
        "The file is larger than 2 KB, the most that can be uploaded."
    ]


def test_the_size_limit_comes_from_settings(settings):
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    assert refusal(read_table, b"x" * (1024 * 1024 + 1)) == [
        "The file is larger than 1 MB, the most that can be uploaded."
    ]


class EndlessStream(io.RawIOBase):
    """A stream that never ends, counting what was read from it."""

    def __init__(self):
        self.served = 0

    def readable(self):
        return True

    def read(self, size=-1):
        size = 65536 if size is None or size < 0 else size
        self.served += size
        return b"a" * size


def test_a_large_stream_is_refused_without_reading_it_all():
    stream = EndlessStream()
    assert refusal(read_bytes, stream, max_bytes=200_000) == [
        "The file is larger than 195.3 KB, the most that can be uploaded."
    ]
    assert stream.served <= 200_000 + 64 * 1024


def test_an_empty_file_is_refused():
    assert refusal(read_table, upload("empty.csv", b"")) == ["The file is empty."]


def test_a_file_of_blank_lines_is_refused_as_empty():
    assert refusal(read_table, upload("blank.csv", "\r\n , \r\n\r\n")) == ["The file is empty."]


def test_a_header_without_rows_is_refused_unless_allowed():
    content = "Account #,Amt,Date\n"
    assert refusal(read_table, upload("p.csv", content), **PAYMENT_COLUMNS) == [
        "The file has a header row but no rows of data below it."
    ]
    table = read_table(upload("p.csv", content), allow_no_rows=True, **PAYMENT_COLUMNS)
    assert table.rows == []
    assert table.columns == ["account_number", "amount", "paid_on"]


def test_too_many_rows_are_refused():
    content = "Account #,Amt,Date\n" + "1,2.00,2024-01-01\n" * 3
    assert refusal(read_table, upload("p.csv", content), max_rows=2) == [
        "The file has more than 2 rows of data, the most one upload may have. "
        "Split it into smaller files."
    ]
    assert len(read_table(upload("p.csv", content), max_rows=3).rows) == 3


# --- Type by content ------------------------------------------------------------------


def test_a_pdf_named_csv_is_refused():
    assert refusal(read_table, upload("payments.csv", PDF)) == [f"This is a PDF file; {WANTED}"]


def test_a_program_named_xlsx_is_refused():
    assert refusal(read_table, upload("payments.xlsx", EXE)) == [
        f"This is a program (an executable file); {WANTED}"
    ]


def test_a_plain_zip_named_xlsx_is_refused():
    assert refusal(read_table, upload("payments.xlsx", zip_bytes({"readme.txt": b"hi"}))) == [
        f"This is a ZIP archive; {WANTED}"
    ]


def test_a_legacy_xls_workbook_is_refused_with_how_to_save_it():
    assert refusal(read_table, upload("payments.xls", OLE2)) == [
        "This is an Excel 97-2003 workbook (.xls) or a password-protected workbook; "
        f"{WANTED} In Excel, use File > Save As > Excel Workbook (.xlsx), without a password."
    ]


def test_a_web_page_named_xls_is_refused_with_how_to_save_it():
    page = b"<!DOCTYPE html><html><body><table><tr><td>1</td></tr></table></body></html>"
    assert refusal(read_table, upload("export.xls", page)) == [
        f"This is a web page (HTML); {WANTED} Some systems export web pages with an .xls "
        "name: open it in Excel and save it as an Excel Workbook (.xlsx)."
    ]


def test_a_word_document_is_named_as_such():
    document = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"})
    assert refusal(read_table, upload("p.xlsx", document)) == [f"This is a Word document; {WANTED}"]


def test_an_xlsx_where_only_csv_is_accepted_is_refused():
    assert refusal(read_table, upload("p.xlsx", xlsx_bytes(GOOD_XLSX_ROWS)), allowed=("csv",)) == [
        "This is an Excel .xlsx workbook; upload a CSV file."
    ]


def test_a_csv_where_only_xlsx_is_accepted_is_refused():
    assert refusal(read_table, upload("p.csv", "a,b\n1,2\n"), allowed=("xlsx",)) == [
        "This is a text file; upload an Excel .xlsx file."
    ]


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (PDF, "pdf"),
        (OLE2, "xls"),
        (EXE, "executable"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 9, "executable"),
        (zip_bytes({"a.txt": b"a"}), "zip"),
        (gzip.compress(b"Account,Amount\n"), "gzip"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image"),
        (b"\x00\x00\x00\x18ftypheic", "media"),
        (bytes(range(256)) * 4, "binary"),
        (b'<?xml version="1.0"?><Document/>', "xml"),
        (b"\xef\xbb\xbf<Document xmlns='urn:iso'/>", "xml"),
        (b"<html><body>Hi</body></html>", "html"),
        (b"Account,Amount\r\n1001,12.50\r\n", "text"),
        (b"MZ Account,Amount\r\n", "text"),
        ("Account\tAmount\r\n".encode("utf-16"), "text"),
        (b"01,021000021,123456789,240115,0800,1,80,,2/\n", "text"),
    ],
)
def test_detect_kind_goes_by_content(head, kind):
    assert detect_kind(head) == kind


# --- XLSX container checks ------------------------------------------------------------


def test_an_xlsx_with_too_many_parts_is_refused():
    assert refusal(read_table, upload("p.xlsx", xlsx_bytes(GOOD_XLSX_ROWS)), max_members=5) == [
        "The Excel file is made of 9 parts, more than the 5 a workbook may have. "
        "Save a copy with only the sheet to import and upload that."
    ]


def test_an_xlsx_with_too_many_parts_by_the_settings_limit_is_refused(settings):
    settings.UPLOAD_XLSX_MAX_MEMBERS = 10
    padded = rebuilt(
        xlsx_bytes(GOOD_XLSX_ROWS), add={f"xl/media/image{n}.png": b"x" for n in range(5)}
    )
    assert refusal(read_table, upload("p.xlsx", padded))[0].startswith(
        "The Excel file is made of 14 parts, more than the 10 a workbook may have."
    )


def test_an_xlsx_that_unpacks_over_the_limit_is_refused():
    padded = rebuilt(
        xlsx_bytes(GOOD_XLSX_ROWS), add={"xl/media/padding.bin": b" " * (3 * 1024 * 1024)}
    )
    assert len(padded) < 50_000  # small on the wire
    messages = refusal(read_table, upload("p.xlsx", padded), max_unpacked_bytes=1024 * 1024)
    assert messages == [
        "The Excel file unpacks to 3 MB, more than the 1 MB allowed. Upload a smaller workbook."
    ]


def test_an_xlsx_compressed_like_a_zip_bomb_is_refused():
    bomb = rebuilt(
        xlsx_bytes(GOOD_XLSX_ROWS),
        replace={"xl/worksheets/sheet1.xml": b"<worksheet>" + b"\x00" * (8 * 1024 * 1024)},
    )
    [message] = refusal(read_table, upload("p.xlsx", bomb))
    assert message.startswith("The Excel file is compressed far more than a real workbook can be")
    assert message.endswith("to 1), so it is refused.")


def test_an_xlsx_with_encrypted_parts_is_refused():
    data = bytearray(xlsx_bytes(GOOD_XLSX_ROWS))
    directory = data.index(b"PK\x01\x02")  # first central directory entry
    data[directory + 8] |= 0x01  # general purpose flag: encrypted
    assert refusal(read_table, upload("p.xlsx", bytes(data))) == [
        "The Excel file has encrypted parts and cannot be read. Save it again without a "
        "password and upload that."
    ]


def test_an_xlsx_declaring_xml_entities_is_refused():
    workbook = xlsx_bytes(GOOD_XLSX_ROWS)
    with zipfile.ZipFile(io.BytesIO(workbook)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    hostile = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>' + sheet
    assert refusal(
        read_table,
        upload("p.xlsx", rebuilt(workbook, replace={"xl/worksheets/sheet1.xml": hostile})),
    ) == [
        "The Excel file contains XML declarations that real workbooks never have, so it is refused."
    ]


DAMAGED = (
    "The file is a damaged Excel workbook or ZIP archive and cannot be opened. Open it in "
    "Excel, save it again as an Excel Workbook (.xlsx), and upload that."
)


def test_a_truncated_xlsx_is_refused_as_damaged():
    workbook = xlsx_bytes(GOOD_XLSX_ROWS)
    assert refusal(read_table, upload("p.xlsx", workbook[: len(workbook) // 2])) == [DAMAGED]


def test_an_xlsx_with_a_corrupted_sheet_is_refused_as_damaged():
    workbook = bytearray(xlsx_bytes(GOOD_XLSX_ROWS))
    with zipfile.ZipFile(io.BytesIO(bytes(workbook))) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for offset in range(start, start + info.compress_size):
        workbook[offset] ^= 0x5A
    assert refusal(read_table, upload("p.xlsx", bytes(workbook))) == [DAMAGED]


def test_an_xlsx_whose_workbook_part_is_not_xml_is_refused_as_damaged():
    broken = rebuilt(xlsx_bytes(GOOD_XLSX_ROWS), replace={"xl/workbook.xml": b"not xml at all"})
    assert refusal(read_table, upload("p.xlsx", broken)) == [DAMAGED]


# --- CSV encodings, delimiters and structure ------------------------------------------

CAFE_CSV = "Account #,Customer,Amt,Date\r\n1001,Café €uro,2.50,2024-01-15\r\n"


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (codecs.BOM_UTF8 + CAFE_CSV.encode("utf-8"), "utf-8-sig"),
        (CAFE_CSV.encode("utf-8"), "utf-8"),
        (CAFE_CSV.encode("cp1252"), "cp1252"),
        (CAFE_CSV.replace(",", "\t").encode("utf-16"), "utf-16"),
    ],
)
def test_csv_encodings_are_detected_and_reported(encoded, encoding):
    if encoding == "cp1252":
        assert b"Caf\xe9 \x80uro" in encoded
    table = read_table(upload("p.csv", encoded), **PAYMENT_COLUMNS)
    assert table.encoding == encoding
    assert table.columns == ["account_number", "customer", "amount", "paid_on"]
    assert table.labels["account_number"] == "Account #"  # no BOM stuck to the header
    assert [row.get("customer") for row in table.rows] == ["Café €uro"]
    assert parse_rows(table, parse_payment) == [("1001", Decimal("2.50"), date(2024, 1, 15))]


def test_bytes_that_are_not_utf8_or_windows_1252_are_refused_with_the_line():
    content = b"Account #,Amt,Date\n1001,2.00,2024-01-15\n1002,\x81\x8d,2024-01-15\n"
    assert refusal(read_table, upload("p.csv", content)) == [
        "Line 3: The file is not text in UTF-8 or Windows-1252 (byte 0x81 cannot be read). "
        'Save it as UTF-8 text (in Excel: "CSV UTF-8") and upload it again.'
    ]


def test_a_file_marked_utf8_must_be_utf8():
    content = codecs.BOM_UTF8 + b"Account #,Customer\n1001,Caf\xe9\n"
    assert refusal(read_table, upload("p.csv", content)) == [
        "Line 2: The file is not text in UTF-8 (byte 0xE9 cannot be read). "
        'Save it as UTF-8 text (in Excel: "CSV UTF-8") and upload it again.'
    ]


def test_nul_bytes_are_refused_with_the_line():
    content = b"Account #,Amt,Date\n1001,2.00,2024-01-15\n1002\x00,3.00,2024-01-15\n"
    assert refusal(read_table, upload("p.csv", content)) == [
        "Line 3: The file contains a NUL character, so it is not a plain-text file. "
        "Save it as CSV and upload it again."
    ]


def test_a_semicolon_delimited_file_is_read():
    content = "Acct No;Customer;Payment Amount;Payment Date\n1001;Smith, John;1.234,00;1/5/2024\n"
    table = read_table(upload("p.csv", content), **PAYMENT_COLUMNS)
    assert table.delimiter == ";"
    assert table.rows[0].values == {
        "account_number": "1001",
        "customer": "Smith, John",
        "amount": "1.234,00",
        "paid_on": "1/5/2024",
    }
    # A European amount is refused, never read as 1.234 or 123,400.
    assert refusal(parse_rows, table, parse_payment) == [
        'Line 2, column "Payment Amount": "1.234,00" is not an amount; write amounts with a '
        "point before the cents, like 1234.50."
    ]


@pytest.mark.parametrize("delimiter", ["\t", "|", ","])
def test_other_delimiters_are_sniffed(delimiter):
    content = delimiter.join(["Account #", "Amt", "Date"]) + "\n"
    content += delimiter.join(["1001", '"1,200.00"', "2024-01-15"]) + "\n"
    table = read_table(upload("p.txt", content), **PAYMENT_COLUMNS)
    assert table.delimiter == delimiter
    assert parse_rows(table, parse_payment) == [("1001", Decimal("1200.00"), date(2024, 1, 15))]


def test_a_missing_required_column_is_named():
    content = "Account #,Customer\n1001,Smith\n"
    assert refusal(read_table, upload("p.csv", content), **PAYMENT_COLUMNS) == [
        'There is no "amount" column (also accepted: "Amt", "Payment Amount").',
        'There is no "paid on" column (also accepted: "Date", "Payment Date").',
        'The header row (line 1) reads: "Account #", "Customer".',
    ]


def test_a_duplicate_header_is_refused():
    content = "Account #,Amt,Date,amt\n1001,1.00,2024-01-15,2.00\n"
    assert refusal(read_table, upload("p.csv", content), **PAYMENT_COLUMNS) == [
        'Line 1: The column "amt" appears more than once in the header row.'
    ]


def test_two_aliases_of_one_column_are_refused_as_duplicates():
    content = "Account #,Amt,Payment Amount,Date\n1001,1.00,2.00,2024-01-15\n"
    assert refusal(read_table, upload("p.csv", content), **PAYMENT_COLUMNS) == [
        'Line 1: The columns "Amt" and "Payment Amount" are the same column; keep one of them.'
    ]


def test_a_repeated_unknown_header_is_refused():
    content = "Account #,Amt,Date,Note,Note\n1001,1.00,2024-01-15,a,b\n"
    assert refusal(read_table, upload("p.csv", content), **PAYMENT_COLUMNS) == [
        'Line 1: The column "Note" appears more than once in the header row.'
    ]


def test_a_blank_header_between_columns_is_refused():
    content = "Account #,,Amt,Date\n1001,x,1.00,2024-01-15\n"
    assert refusal(read_table, upload("p.csv", content), **PAYMENT_COLUMNS) == [
        "Line 1: Column 2 has no name in the header row."
    ]


def test_trailing_empty_columns_from_excel_are_ignored():
    content = "Account #,Amt,Date,,\n1001,1.00,2024-01-15,,\n,,,,\n1002,2.00,2024-01-16\n"
    table = read_table(upload("p.csv", content), **PAYMENT_COLUMNS)
    assert table.columns == ["account_number", "amount", "paid_on"]
    assert [row.line for row in table.rows] == [2, 4]


def test_rows_with_more_values_than_the_header_are_reported_by_line():
    content = (
        "Account #,Customer,Amt,Date\n"
        "1001,Smith,1.00,2024-01-15\n"
        "1002,Smith, John,1.00,2024-01-15\n"
        "1003,Jones,1.00,2024-01-15\n"
        "1004,Lee, Ann,2.00,2024-01-15\n"
    )
    assert refusal(read_table, upload("p.csv", content), **PAYMENT_COLUMNS) == [
        "Line 3: This line has 5 values but the header row has 4 columns. "
        "Is there a comma inside a value that is not in quotes?",
        "Line 5: This line has 5 values but the header row has 4 columns. "
        "Is there a comma inside a value that is not in quotes?",
    ]


def test_short_rows_read_as_blank_cells():
    table = read_table(upload("p.csv", "Account #,Amt,Date,Memo\n1001,1.00\n"), **PAYMENT_COLUMNS)
    assert table.rows[0].values == {
        "account_number": "1001",
        "amount": "1.00",
        "paid_on": "",
        "memo": "",
    }


def test_an_unclosed_quote_is_reported_where_it_starts():
    content = 'Account #,Amt,Date\n1001,1.00,2024-01-15\n1002,"1.00,2024-01-15\n1003,2,x\n'
    assert refusal(read_table, upload("p.csv", content), **PAYMENT_COLUMNS) == [
        'Line 3: A quoted value that starts here is never closed (a " is missing).'
    ]


def test_a_stray_quote_after_a_quoted_value_is_reported():
    content = 'Account #,Amt,Date\n1001,"1.00"x,2024-01-15\n'
    [message] = refusal(read_table, upload("p.csv", content), **PAYMENT_COLUMNS)
    assert message.startswith("Line 2: This line is not valid CSV (")


def test_headers_match_ignoring_case_spaces_underscores_and_aliases():
    content = "ACCOUNT_NUMBER,  amount ,Paid-On,Customer Name\n1001,1.00,2024-01-15,Smith\n"
    table = read_table(upload("p.csv", content), **PAYMENT_COLUMNS)
    assert table.columns == ["account_number", "amount", "paid_on", "customer_name"]
    assert table.labels == {
        "account_number": "ACCOUNT_NUMBER",
        "amount": "amount",
        "paid_on": "Paid-On",
        "customer_name": "Customer Name",
    }
    assert normalise_header(" Customer  Name ") == "customer_name"


def test_title_lines_above_the_header_are_skipped():
    content = "City of Kent payments\nas of 01/31/2024\n\nAccount #,Amt,Date\n1001,1.00,1/31/2024\n"
    table = read_table(upload("p.csv", content), **PAYMENT_COLUMNS)
    assert table.header_line == 4
    assert [row.line for row in table.rows] == [5]


def test_a_missing_column_is_reported_against_the_likeliest_header_row():
    content = "City of Kent payments\nas of 01/31/2024\nAccount #,Amt\n1001,1.00\n"
    assert refusal(read_table, upload("p.csv", content), **PAYMENT_COLUMNS) == [
        'There is no "paid on" column (also accepted: "Date", "Payment Date").',
        'The header row (line 3) reads: "Account #", "Amt".',
    ]


# --- Row errors -----------------------------------------------------------------------

MULTILINE_CSV = (
    "Account #,Memo,Amt,Payment Date\r\n"  # line 1
    '1001,"Paid at the counter,\r\nsecond line",12.50,2024-01-15\r\n'  # lines 2-3
    "1002,ok,12.x,01/16/2024\r\n"  # line 4
    '1003,"three\r\nline\r\nmemo",5.00,2024-02-30\r\n'  # lines 5-7
    "1004,ok,7.25,13/01/2024\r\n"  # line 8
    "1005,ok,,2024-01-17\r\n"  # line 9
    "1006,ok,3.00,2024-01-18\r\n"  # line 10
)


def test_every_bad_line_is_reported_with_its_physical_line_number():
    table = read_table(upload("p.csv", MULTILINE_CSV), **PAYMENT_COLUMNS)
    assert [row.line for row in table.rows] == [2, 4, 5, 8, 9, 10]
    assert table.rows[0].get("memo") == "Paid at the counter,\r\nsecond line"
    assert refusal(parse_rows, table, parse_payment) == [
        'Line 4, column "Amt": "12.x" is not an amount.',
        'Line 5, column "Payment Date": "2024-02-30" is not a date on the calendar.',
        'Line 8, column "Payment Date": "13/01/2024" is not a date: there is no month 13. '
        "Write dates as MM/DD/YYYY.",
        'Line 9, column "Amt": An amount is required.',
    ]


def test_nothing_is_returned_when_one_line_is_bad():
    results = []

    def parse(row):
        parsed = parse_payment(row)
        results.append(parsed)
        return parsed

    content = "Account #,Amt,Date\n1001,1.00,2024-01-15\n1002,1.00,someday\n1003,1.00,2024-01-15\n"
    table = read_table(upload("p.csv", content), **PAYMENT_COLUMNS)
    with pytest.raises(UploadRefused) as caught:
        parse_rows(table, parse)
    assert caught.value.messages == [
        'Line 3, column "Date": "someday" is not a date; write it as YYYY-MM-DD or MM/DD/YYYY.'
    ]
    assert len(results) == 2  # every line was parsed, so every problem is reported


def test_the_number_of_reported_problems_is_capped():
    content = "Account #,Amt,Date\n" + "1001,bad,2024-01-15\n" * 60
    table = read_table(upload("p.csv", content), **PAYMENT_COLUMNS)
    messages = refusal(parse_rows, table, parse_payment)
    assert len(messages) == 51
    assert messages[0] == 'Line 2, column "Amt": "bad" is not an amount.'
    assert messages[49] == 'Line 51, column "Amt": "bad" is not an amount.'
    assert messages[50] == "And 10 more problems not listed here."
    assert len(refusal(parse_rows, table, parse_payment, max_errors=5)) == 6


def test_validation_errors_from_a_row_parser_are_collected_with_their_column():
    table = read_table(
        upload("p.csv", "Account #,Amt,Date\n1001,1.00,2024-01-15\n"), **PAYMENT_COLUMNS
    )

    def parse(row):
        raise ValidationError(
            {"amount": ["Must be more than zero."], "__all__": ["Account 1001 is closed."]}
        )

    assert refusal(parse_rows, table, parse) == [
        'Line 2, column "Amt": Must be more than zero.',
        "Line 2: Account 1001 is closed.",
    ]

    def parse_plain(row):
        raise ValidationError("Duplicate payment.")

    assert refusal(parse_rows, table, parse_plain) == ["Line 2: Duplicate payment."]


def test_rows_the_parser_skips_are_left_out():
    content = "Account #,Amt,Date\n1001,1.00,2024-01-15\nTOTAL,1.00,2024-01-15\n"
    table = read_table(upload("p.csv", content), **PAYMENT_COLUMNS)
    parsed = parse_rows(table, lambda row: None if row["account_number"] == "TOTAL" else row.line)
    assert parsed == [2]


def test_a_good_csv_is_parsed_into_typed_values():
    content = (
        "Account #,Amt,Date,Units\n"
        '1001,"$1,234.50",1/15/2024,"1,200"\n'
        "1002,(12.00),2024-01-16,7\n"
        "1003,-3,20240117,0\n"
        "1004, 0.5 ,01-18-24 9:30 AM,12.0\n"
    )
    columns = {**PAYMENT_COLUMNS, "optional_columns": ("units",)}
    table = read_table(upload("p.csv", content), **columns)
    parsed = parse_rows(table, lambda row: (*parse_payment(row), cell_int(row, "units")))
    assert parsed == [
        ("1001", Decimal("1234.50"), date(2024, 1, 15), 1200),
        ("1002", Decimal("-12.00"), date(2024, 1, 16), 7),
        ("1003", Decimal("-3.00"), date(2024, 1, 17), 0),
        ("1004", Decimal("0.50"), date(2024, 1, 18), 12),
    ]


# --- XLSX tables ----------------------------------------------------------------------


def test_a_good_xlsx_is_parsed_with_sheet_row_numbers():
    workbook = xlsx_bytes(
        [
            ["City of Kent payments"],  # row 1: a title above the header
            [],  # row 2
            ["Account #", "Amt", "Payment Date", "Customer", "Units"],  # row 3
            [1001, 12.1, datetime(2024, 1, 15), "Café Olé", 3],  # row 4
            [],  # row 5: skipped
            ["1002", 0.1 + 0.2, date(2024, 2, 29), "Kent Hardware", 2.0],  # row 6
            [1003, Decimal("-5"), "3/1/2024", "  Trimmed  ", "1,200"],  # row 7
            [1004, "$1,234.50", "2024-03-02", None, None],  # row 8
            [1005, 10.005, datetime(2024, 3, 3, 14, 30), "rounds half up", 1],  # row 9
        ]
    )
    table = read_table(upload("payments.xlsx", workbook), **PAYMENT_COLUMNS)
    assert table.kind == "xlsx"
    assert table.sheet == "Payments"
    assert table.encoding is None
    assert table.header_line == 3
    assert [row.line for row in table.rows] == [4, 6, 7, 8, 9]
    assert table.rows[0].values["paid_on"] == datetime(2024, 1, 15)

    def parse(row):
        return (
            *parse_payment(row),
            cell_text(row, "customer", required=False),
            cell_int(row, "units", required=False),
        )

    assert parse_rows(table, parse) == [
        ("1001", Decimal("12.10"), date(2024, 1, 15), "Café Olé", 3),
        ("1002", Decimal("0.30"), date(2024, 2, 29), "Kent Hardware", 2),
        ("1003", Decimal("-5.00"), date(2024, 3, 1), "Trimmed", 1200),
        ("1004", Decimal("1234.50"), date(2024, 3, 2), "", None),
        ("1005", Decimal("10.01"), date(2024, 3, 3), "rounds half up", 1),
    ]


def test_xlsx_problems_are_reported_by_sheet_row():
    workbook = xlsx_bytes(
        [
            ["Account #", "Amt", "Payment Date"],
            [1001, "twelve", date(2024, 1, 15)],
            [1002, 12, 45292],
            [1003, True, date(2024, 1, 15)],
            [1004, 1e15, date(2024, 1, 15)],
            [12345678901234, 1, date(2024, 1, 15)],
        ]
    )
    table = read_table(upload("payments.xlsx", workbook), **PAYMENT_COLUMNS)
    assert refusal(parse_rows, table, parse_payment) == [
        'Row 2, column "Amt": "twelve" is not an amount.',
        'Row 3, column "Payment Date": 45292 is a number, not a date. '
        "Format the column as dates in Excel.",
        'Row 4, column "Amt": TRUE is not an amount.',
        'Row 5, column "Amt": "1000000000000000" is too large for an amount.',
        'Row 6, column "Account #": This is 14 characters long; the most allowed is 12.',
    ]


def test_an_xlsx_value_beyond_the_header_is_reported():
    workbook = xlsx_bytes(
        [["Account #", "Amt", "Payment Date"], [1001, 1, date(2024, 1, 15), None, "stray"]]
    )
    assert refusal(read_table, upload("p.xlsx", workbook), **PAYMENT_COLUMNS) == [
        "Row 2: There is a value in column E, which has no header."
    ]


def test_an_xlsx_blank_header_names_the_column_letter():
    workbook = xlsx_bytes([["Account #", None, "Amt", "Payment Date"], [1, 2, 3, date.today()]])
    assert refusal(read_table, upload("p.xlsx", workbook), **PAYMENT_COLUMNS) == [
        "Row 1: Column B has no name in the header row."
    ]


def test_a_named_sheet_is_read_and_a_missing_one_is_refused():
    workbook = xlsx_bytes(GOOD_XLSX_ROWS, title="Summary", more_sheets=("Detail",))
    assert read_table(upload("p.xlsx", workbook), sheet="detail", allow_no_rows=True).columns == [
        "other"
    ]
    assert refusal(read_table, upload("p.xlsx", workbook), sheet="Payments") == [
        'The workbook has no sheet named "Payments". Its sheets are: "Summary", "Detail".'
    ]


def test_an_empty_sheet_is_refused():
    assert refusal(read_table, upload("p.xlsx", xlsx_bytes([]))) == [
        'The sheet "Payments" is empty.'
    ]


def test_xlsx_row_limit_applies():
    rows = [GOOD_XLSX_ROWS[0]] + [GOOD_XLSX_ROWS[1]] * 4
    assert refusal(read_table, upload("p.xlsx", xlsx_bytes(rows)), max_rows=3) == [
        'The sheet "Payments" has more than 3 rows of data, the most one upload may have. '
        "Split it into smaller files."
    ]


def test_bytes_and_file_objects_are_read_like_uploads():
    workbook = xlsx_bytes(GOOD_XLSX_ROWS)
    for source in (workbook, io.BytesIO(workbook)):
        table = read_table(source, **PAYMENT_COLUMNS)
        assert parse_rows(table, parse_payment) == [("1001", Decimal("12.50"), date(2024, 1, 15))]


# --- Text uploads ---------------------------------------------------------------------

BAI2 = "01,021000021,KENTCITY,240115,0800,1,80,,2/\r\n02,KENTCITY,021000021,1,240114,,USD,2/\r\n"
CAMT = '<?xml version="1.0" encoding="UTF-8"?>\n<Document><BkToCstmrStmt/></Document>\n'


def test_text_and_xml_uploads_are_decoded():
    bai = read_text(upload("statement.bai", BAI2))
    assert (bai.kind, bai.encoding, bai.text) == ("text", "utf-8", BAI2)
    camt = read_text(upload("statement.xml", CAMT))
    assert (camt.kind, camt.text) == ("xml", CAMT)
    assert camt.data == CAMT.encode()


def test_text_uploads_refuse_other_kinds():
    assert refusal(read_text, upload("statement.bai", PDF)) == [
        "This is a PDF file; upload a text or XML file."
    ]
    assert refusal(read_text, upload("s.txt", xlsx_bytes(GOOD_XLSX_ROWS))) == [
        "This is an Excel .xlsx workbook; upload a text or XML file."
    ]
    assert refusal(read_text, upload("s.txt", CAMT), allowed=("text",)) == [
        "This is an XML file; upload a text file."
    ]
    assert refusal(read_table, upload("s.csv", CAMT)) == [f"This is an XML file; {WANTED}"]


def test_allowed_kinds_are_checked():
    with pytest.raises(ValueError, match="allowed must be some of"):
        read_table(b"a,b\n1,2\n", allowed=("pdf",))
    with pytest.raises(ValueError, match="allowed must be some of"):
        read_text(b"a", allowed=("csv",))


# --- Cell helpers ---------------------------------------------------------------------


def cell_error(helper, value, **kwargs) -> str:
    with pytest.raises(RowError) as caught:
        helper(Row(line=2, values={"c": value}), "c", **kwargs)
    assert caught.value.column == "c"
    return caught.value.message


@pytest.mark.parametrize(
    ("value", "amount"),
    [
        ("12", Decimal("12.00")),
        (" $1,234.56 ", Decimal("1234.56")),
        ("-$5.10", Decimal("-5.10")),
        ("(7.5)", Decimal("-7.50")),
        ("12.3400", Decimal("12.34")),
        (".99", Decimal("0.99")),
        (12.1, Decimal("12.10")),
        (2.675, Decimal("2.68")),  # as Excel shows it, not the float 2.67499999...
        (7, Decimal("7.00")),
        (Decimal("3.333"), Decimal("3.33")),
    ],
)
def test_cell_money_reads_amounts(value, amount):
    assert cell_money(Row(line=2, values={"c": value}), "c") == amount


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "An amount is required."),
        ("12.345", '"12.345" has more than two decimal places.'),
        (
            "1.5E+07",
            '"1.5E+07" is in scientific notation. Format the column as a number with two '
            "decimals and save the file again.",
        ),
        (
            "12,50",
            '"12,50" is not an amount; write amounts with a point before the cents, like 1234.50.',
        ),
        ("1,2,3", '"1,2,3" is not an amount.'),
        ("1_000", '"1_000" is not an amount.'),
        ("NaN", '"NaN" is not an amount.'),
        ("$", '"$" is not an amount.'),
        (float("nan"), "NaN is not an amount."),
        (date(2024, 1, 1), "2024-01-01 is not an amount."),
        ("1000000000000", '"1000000000000" is too large for an amount.'),
    ],
)
def test_cell_money_refuses_what_is_not_an_amount(value, message):
    assert cell_error(cell_money, value) == message


def test_optional_cells_are_none_when_blank():
    row = Row(line=2, values={"c": "  "})
    assert cell_money(row, "c", required=False) is None
    assert cell_date(row, "c", required=False) is None
    assert cell_int(row, "c", required=False) is None
    assert cell_text(row, "c", required=False) == ""
    assert cell_text(row, "absent", required=False) == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-15", date(2024, 1, 15)),
        ("2024-01-15T08:30:00-08:00", date(2024, 1, 15)),
        ("1/5/2024", date(2024, 1, 5)),
        ("01/05/24", date(2024, 1, 5)),
        ("1/5/2024 0:00", date(2024, 1, 5)),
        ("20240105", date(2024, 1, 5)),
        (20240105, date(2024, 1, 5)),
        (datetime(2024, 1, 5, 13, 0), date(2024, 1, 5)),
        (date(2024, 1, 5), date(2024, 1, 5)),
    ],
)
def test_cell_date_reads_dates(value, expected):
    assert cell_date(Row(line=2, values={"c": value}), "c") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "A date is required."),
        ("Jan 5", '"Jan 5" is not a date; write it as YYYY-MM-DD or MM/DD/YYYY.'),
        ("2/30/2024", '"2/30/2024" is not a date on the calendar.'),
        ("0024-01-05", '"0024-01-05" is not between the years 1900 and 2100.'),
        (45292.0, "45292 is a number, not a date. Format the column as dates in Excel."),
    ],
)
def test_cell_date_refuses_what_is_not_a_date(value, message):
    assert cell_error(cell_date, value) == message


def test_cell_int_reads_and_bounds_whole_numbers():
    assert cell_int(Row(line=2, values={"c": "1,200"}), "c") == 1200
    assert cell_int(Row(line=2, values={"c": 12.0}), "c") == 12
    assert cell_error(cell_int, "12.5") == '"12.5" is not a whole number.'
    assert cell_error(cell_int, 12.5) == '"12.5" is not a whole number.'
    assert cell_error(cell_int, "1,20") == '"1,20" is not a whole number.'
    assert cell_error(cell_int, True) == '"TRUE" is not a whole number.'
    assert cell_error(cell_int, "9" * 30) == f'"{"9" * 30}" is too large.'
    assert cell_error(cell_int, "-1", min_value=0) == "-1 is less than 0, the least allowed."
    assert cell_error(cell_int, "5000", max_value=999) == (
        "5,000 is more than 999, the most allowed."
    )


def test_cell_text_reads_spreadsheet_values_as_written():
    assert cell_text(Row(line=2, values={"c": 12345}), "c") == "12345"
    assert cell_text(Row(line=2, values={"c": 12345.0}), "c") == "12345"
    assert cell_text(Row(line=2, values={"c": datetime(2024, 1, 5)}), "c") == "2024-01-05"
    assert cell_error(cell_text, None) == "A value is required."
    assert cell_error(cell_text, "abcdef", max_length=5) == (
        "This is 6 characters long; the most allowed is 5."
    )


def test_issues_read_naturally():
    assert str(UploadIssue(4, "Amount", "Bad.")) == 'Line 4, column "Amount": Bad.'
    assert str(UploadIssue(4, None, "Bad.", unit="Row")) == "Row 4: Bad."
    assert str(UploadIssue(None, None, "Bad.")) == "Bad."
    refused = UploadRefused([UploadIssue(4, None, "Bad."), UploadIssue(5, None, "Worse.")])
    assert str(refused) == "Line 4: Bad.\nLine 5: Worse."
    assert refused.as_validation_error().messages == ["Line 4: Bad.", "Line 5: Worse."]


# --- Form fields ----------------------------------------------------------------------


class PaymentsForm(forms.Form):
    payments = TableUploadField(label="Payments file", **PAYMENT_COLUMNS)


class StatementForm(forms.Form):
    statement = TextUploadField(label="Bank statement")


def test_table_upload_field_cleans_to_a_table():
    form = PaymentsForm(data={}, files={"payments": upload("p.xlsx", xlsx_bytes(GOOD_XLSX_ROWS))})
    assert form.is_valid(), form.errors
    table = form.cleaned_data["payments"]
    assert parse_rows(table, parse_payment) == [("1001", Decimal("12.50"), date(2024, 1, 15))]


def test_table_upload_field_shows_every_reason_a_file_is_refused():
    form = PaymentsForm(data={}, files={"payments": upload("p.csv", "Account #\n1001\n")})
    assert not form.is_valid()
    assert form.errors["payments"] == [
        'There is no "amount" column (also accepted: "Amt", "Payment Amount").',
        'There is no "paid on" column (also accepted: "Date", "Payment Date").',
        'The header row (line 1) reads: "Account #".',
    ]
    form = PaymentsForm(data={}, files={"payments": upload("p.csv", PDF)})
    assert form.errors["payments"] == [f"This is a PDF file; {WANTED}"]


def test_upload_fields_render_the_file_filter_and_limit(settings):
    settings.UPLOAD_MAX_BYTES = 5 * 1024 * 1024
    html = str(PaymentsForm()["payments"])
    assert (
        'accept=".csv,text/csv,.xlsx,'
        'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"' in html
    )
    assert str(PaymentsForm().fields["payments"].help_text) == (
        "A CSV or Excel .xlsx file of up to 5 MB."
    )
    assert "accept=" not in str(StatementForm()["statement"])
    assert str(StatementForm().fields["statement"].help_text) == (
        "A text or XML file of up to 5 MB."
    )


def test_text_upload_field_cleans_to_text():
    form = StatementForm(data={}, files={"statement": upload("s.bai", BAI2)})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["statement"].text == BAI2
