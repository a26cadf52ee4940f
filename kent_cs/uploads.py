"""Checked reading of uploaded files. Every import in the product goes through here.

A file is read within a size limit, its type is decided by its content (never by its
name), and it is parsed into a `Table` whose rows carry the line numbers users see in
their file. Callers then turn rows into records with `parse_rows`, which collects every
line's problem before anything is written: an import is taken whole or refused whole,
with each line and reason.

    table = read_table(
        upload,
        required_columns=("account_number", "amount"),
        column_aliases={"account_number": ("Acct No", "Account #")},
    )
    payments = parse_rows(table, lambda row: Payment(
        account_number=cell_text(row, "account_number", max_length=20),
        amount=cell_money(row, "amount"),
    ))
    # ... then write `payments` in one transaction.

Files that are not tables (BAI2, OFX, camt.053 bank statements) come through
`read_text`, which makes the same size and content checks and returns decoded text.
"""

import codecs
import contextlib
import csv
import functools
import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import chain, islice
from typing import IO, Any

from django import forms
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files.base import File
from django.utils.functional import lazy
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from kent_cs.money import MoneyError, parse_money, to_money

__all__ = [
    "MAX_REPORTED_ISSUES",
    "TABLE_KINDS",
    "TEXT_KINDS",
    "Row",
    "RowError",
    "Table",
    "TableUploadField",
    "TextUpload",
    "TextUploadField",
    "UploadIssue",
    "UploadRefused",
    "UploadSource",
    "cell_date",
    "cell_int",
    "cell_money",
    "cell_text",
    "detect_kind",
    "normalise_header",
    "parse_rows",
    "read_bytes",
    "read_table",
    "read_text",
]

UploadSource = File | IO[bytes] | bytes | bytearray | memoryview

TABLE_KINDS = ("csv", "xlsx")
TEXT_KINDS = ("text", "xml")

# How many problems one refusal lists; the rest are counted in a last line.
MAX_REPORTED_ISSUES = 50
# Rows above the header (titles, "as of" dates) are skipped when the header is found in
# one of the first rows; only used when the caller names required columns.
HEADER_SEARCH_ROWS = 10
# A real worksheet's XML compresses 5-50:1; deflate cannot do better than about 1000:1.
XLSX_MAX_COMPRESSION_RATIO = 200
_RATIO_CHECK_FLOOR = 1024 * 1024  # small parts may have any ratio
HEAD_BYTES = 8192
_CHUNK_BYTES = 64 * 1024
_MAX_AMOUNT = Decimal("1000000000000")  # MoneyField holds 14 digits, 2 of them cents


# --- Results and errors ---------------------------------------------------------------


@dataclass(frozen=True)
class UploadIssue:
    """One problem with an upload: where it is (if anywhere) and what is wrong."""

    line: int | None
    column: str | None
    message: str
    unit: str = "Line"  # "Row" for spreadsheets, as Excel numbers them

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"{self.unit} {self.line}")
        if self.column:
            where.append(f'column "{self.column}"')
        return f"{', '.join(where)}: {self.message}" if where else self.message


class UploadRefused(Exception):
    """The upload cannot be imported; `issues` says every reason that was found."""

    def __init__(self, issues: Iterable[UploadIssue] | str):
        if isinstance(issues, str):
            issues = [UploadIssue(None, None, issues)]
        self.issues: list[UploadIssue] = list(issues)
        super().__init__("\n".join(self.messages))

    @property
    def messages(self) -> list[str]:
        return [str(issue) for issue in self.issues]

    def as_validation_error(self) -> ValidationError:
        return ValidationError(
            [ValidationError(message, code="upload_refused") for message in self.messages]
        )


class RowError(ValueError):
    """Raised by a row parser (or a cell helper) for a problem on one row."""

    def __init__(self, message: str, *, column: str | None = None):
        self.message = message
        self.column = column
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Row:
    """One row of data. `values` is keyed by column name; CSV cells are strings,
    spreadsheet cells are what the cell holds (str, int, float, datetime or None)."""

    line: int
    values: dict[str, Any]

    def __getitem__(self, column: str) -> Any:
        return self.values[column]

    def get(self, column: str, default: Any = None) -> Any:
        return self.values.get(column, default)


@dataclass(frozen=True)
class Table:
    kind: str  # "csv" or "xlsx"
    columns: list[str]  # column names in file order: the caller's names, else normalised
    rows: list[Row]
    labels: dict[str, str]  # column name -> the header as written in the file
    header_line: int
    encoding: str | None = None  # CSV only: "utf-8-sig", "utf-8", "utf-16" or "cp1252"
    delimiter: str | None = None  # CSV only
    sheet: str | None = None  # XLSX only: the sheet that was read

    @property
    def unit(self) -> str:
        return "Row" if self.kind == "xlsx" else "Line"

    def label(self, column: str | None) -> str | None:
        return self.labels.get(column, column) if column else None


@dataclass(frozen=True)
class TextUpload:
    kind: str  # "text" or "xml"
    encoding: str
    text: str
    data: bytes = field(repr=False)


# --- Reading bytes and deciding the type ----------------------------------------------


def _size_text(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size:,} bytes"


def read_bytes(source: UploadSource, *, max_bytes: int | None = None) -> bytes:
    """The whole content of an upload, read in chunks and refused as soon as it passes
    the size limit (settings.UPLOAD_MAX_BYTES unless `max_bytes` is given), or if empty."""
    limit = settings.UPLOAD_MAX_BYTES if max_bytes is None else max_bytes
    too_large = f"The file is larger than {_size_text(limit)}, the most that can be uploaded."
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if len(data) > limit:
            raise UploadRefused(too_large)
    else:
        if isinstance(source, File):
            declared = getattr(source, "size", None)
            if isinstance(declared, int) and declared > limit:
                raise UploadRefused(too_large)
            chunks: Iterable[bytes] = source.chunks(_CHUNK_BYTES)
        else:
            chunks = iter(lambda: source.read(_CHUNK_BYTES), b"")
        parts, total = [], 0
        for chunk in chunks:
            total += len(chunk)
            if total > limit:
                raise UploadRefused(too_large)
            parts.append(chunk)
        data = b"".join(parts)
    if not data:
        raise UploadRefused("The file is empty.")
    return data


_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),  # OLE2: .xls, .doc, encrypted .xlsx
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # empty archive
    (b"PK\x07\x08", "zip"),  # spanned archive
    (b"\x1f\x8b", "gzip"),
    (b"7z\xbc\xaf\x27\x1c", "archive"),
    (b"Rar!\x1a\x07", "archive"),
    (b"\xfd7zXZ\x00", "archive"),
    (b"\x28\xb5\x2f\xfd", "archive"),  # zstandard
    (b"\x7fELF", "executable"),
    (b"\xcf\xfa\xed\xfe", "executable"),  # Mach-O
    (b"\xce\xfa\xed\xfe", "executable"),
    (b"\xfe\xed\xfa\xce", "executable"),
    (b"\xfe\xed\xfa\xcf", "executable"),
    (b"\xca\xfe\xba\xbe", "executable"),
    (b"\x89PNG\r\n\x1a\n", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"GIF87a", "image"),
    (b"GIF89a", "image"),
    (b"II*\x00", "image"),
    (b"MM\x00*", "image"),
    (b"{\\rtf", "rtf"),
)
_TEXT_CONTROL_BYTES = frozenset({9, 10, 12, 13, 26})  # tab, newlines, form feed, DOS EOF
_HTML_START = re.compile(rb"<(!doctype\s+html|html|head|body|table|meta)\b", re.IGNORECASE)


def detect_kind(head: bytes) -> str:
    """What a file is, judged from its first bytes (pass at least HEAD_BYTES).

    Returns "text" (anything that reads as text, CSV included), "xml", "html", "zip"
    (an .xlsx is a zip: `read_table` looks inside to tell it from other zips), "xls",
    "pdf", "gzip", "archive", "executable", "image", "media", "rtf" or "binary".
    """
    if b"%PDF-" in head[:1024]:
        return "pdf"
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head.startswith(b"MZ") and b"\x00" in head[2:64]:
        return "executable"  # DOS/Windows program; the NULs keep a "MZ..." CSV header text
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"AVI ", b"WAVE"):
        return "media"
    if head[4:8] == b"ftyp":
        return "media"  # MP4, MOV, HEIC photos
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        sample = head.decode("utf-16", errors="ignore").encode("utf-8", errors="ignore")
    else:
        sample = head[:4096]
        control = sum(1 for byte in sample if byte < 32 and byte not in _TEXT_CONTROL_BYTES)
        if sample and control / len(sample) > 0.05:
            return "binary"
    start = sample.removeprefix(codecs.BOM_UTF8).lstrip()
    if start.startswith(b"<?xml"):
        return "xml"
    if _HTML_START.match(start):
        return "html"
    if start.startswith(b"<") and (start[1:2].isalpha() or start[1:2] == b"!"):
        return "xml"
    return "text"


_KIND_DESCRIPTIONS = {
    "pdf": "a PDF file",
    "xls": "an Excel 97-2003 workbook (.xls) or a password-protected workbook",
    "xlsx": "an Excel .xlsx workbook",
    "xlsb": "an Excel binary workbook (.xlsb)",
    "ods": "an OpenDocument spreadsheet (.ods)",
    "odf": "an OpenDocument file",
    "docx": "a Word document",
    "pptx": "a PowerPoint presentation",
    "zip": "a ZIP archive",
    "gzip": "a gzip-compressed file",
    "archive": "a compressed archive",
    "executable": "a program (an executable file)",
    "image": "an image",
    "media": "a photo, sound or video file",
    "rtf": "a Rich Text (RTF) document",
    "html": "a web page (HTML)",
    "xml": "an XML file",
    "text": "a text file",
    "binary": "not a text file or a spreadsheet",
}
_KIND_HINTS = {
    "xls": "In Excel, use File > Save As > Excel Workbook (.xlsx), without a password.",
    "xlsb": "In Excel, use File > Save As > Excel Workbook (.xlsx).",
    "ods": "Save it as an Excel Workbook (.xlsx) or as CSV.",
    "html": (
        "Some systems export web pages with an .xls name: open it in Excel and save it "
        "as an Excel Workbook (.xlsx)."
    ),
}
_KIND_NAMES = {"csv": "CSV", "xlsx": "Excel .xlsx", "text": "text", "xml": "XML"}
_ACCEPT = {
    "csv": ".csv,text/csv",
    "xlsx": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_DAMAGED = (
    "The file is a damaged Excel workbook or ZIP archive and cannot be opened. Open it in "
    "Excel, save it again as an Excel Workbook (.xlsx), and upload that."
)


def _wanted(allowed: Collection[str]) -> str:
    names = [_KIND_NAMES[kind] for kind in _KIND_NAMES if kind in allowed]
    article = "an" if names[0] in ("Excel .xlsx", "XML") else "a"
    return f"{article} {' or '.join(names)} file"


def _wrong_kind(kind: str, allowed: Collection[str]) -> UploadRefused:
    description = _KIND_DESCRIPTIONS.get(kind, f"a {kind} file")
    if kind == "binary":
        message = f"This file is {description}; upload {_wanted(allowed)}."
    else:
        message = f"This is {description}; upload {_wanted(allowed)}."
    if kind in _KIND_HINTS and set(allowed) & set(TABLE_KINDS):
        message += " " + _KIND_HINTS[kind]
    return UploadRefused(message)


def _check_allowed(allowed: Collection[str], possible: Collection[str]) -> tuple[str, ...]:
    if isinstance(allowed, str):
        allowed = (allowed,)
    if not allowed or not set(allowed) <= set(possible):
        raise ValueError(f"allowed must be some of {sorted(possible)}, not {allowed!r}")
    return tuple(allowed)


def _open_archive(data: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UploadRefused(_DAMAGED) from exc
    return archive


def _archive_kind(archive: zipfile.ZipFile) -> str:
    names = set(archive.namelist())
    if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
        return "xlsx"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "word/document.xml" in names:
        return "docx"
    if "ppt/presentation.xml" in names:
        return "pptx"
    if "mimetype" in names:
        info = archive.getinfo("mimetype")
        if info.file_size <= 100 and not info.flag_bits & 0x1:
            try:
                mimetype = archive.read(info)
            except (zipfile.BadZipFile, OSError, zlib.error, NotImplementedError):
                return "zip"
            return "ods" if mimetype.endswith(b".spreadsheet") else "odf"
    return "zip"


# --- Text and CSV ---------------------------------------------------------------------


def _line_of(data: bytes | str, index: int) -> int:
    if isinstance(data, bytes):
        return data.count(b"\n", 0, index) + 1
    return data.count("\n", 0, index) + 1


def _decode(data: bytes) -> tuple[str, str]:
    """Decode text as UTF-8 with BOM, UTF-16 with BOM, UTF-8, then Windows-1252;
    returns the text and the encoding used."""
    if data.startswith(codecs.BOM_UTF8):
        attempts = [("utf-8-sig", "UTF-8")]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        attempts = [("utf-16", "UTF-16")]
    else:
        attempts = [("utf-8", "UTF-8"), ("cp1252", "Windows-1252")]
    # The BOM is skipped by hand so that an error's position is a position in `data`.
    offset = len(codecs.BOM_UTF8) if attempts[0][0] == "utf-8-sig" else 0
    error = None
    for encoding, _ in attempts:
        try:
            text = data[offset:].decode("utf-8" if offset else encoding)
        except UnicodeDecodeError as exc:
            error = exc
            continue
        return _checked_text(text), encoding
    assert error is not None
    names = " or ".join(name for _, name in attempts)
    bad = offset + error.start
    raise UploadRefused(
        [
            UploadIssue(
                None if attempts[0][0] == "utf-16" else _line_of(data, bad),
                None,
                f"The file is not text in {names} (byte 0x{data[bad]:02X} cannot be read). "
                'Save it as UTF-8 text (in Excel: "CSV UTF-8") and upload it again.',
            )
        ]
    )


def _checked_text(text: str) -> str:
    nul = text.find("\x00")
    if nul >= 0:
        raise UploadRefused(
            [
                UploadIssue(
                    _line_of(text, nul),
                    None,
                    "The file contains a NUL character, so it is not a plain-text file. "
                    "Save it as CSV and upload it again.",
                )
            ]
        )
    return text.rstrip("\x1a")  # old DOS files end with Ctrl-Z


def read_text(
    source: UploadSource,
    *,
    allowed: Collection[str] = TEXT_KINDS,
    max_bytes: int | None = None,
) -> TextUpload:
    """An upload that must be text ("text": any plain text; "xml"), decoded, after the
    same size and content checks as `read_table`."""
    allowed = _check_allowed(allowed, TEXT_KINDS)
    data = read_bytes(source, max_bytes=max_bytes)
    kind = detect_kind(data[:HEAD_BYTES])
    if kind == "zip":
        with contextlib.suppress(UploadRefused):  # a damaged zip is refused as a zip
            kind = _archive_kind(_open_archive(data))
    if kind not in allowed:
        raise _wrong_kind(kind, allowed)
    text, encoding = _decode(data)
    return TextUpload(kind=kind, encoding=encoding, text=text, data=data)


_DELIMITERS = (",", ";", "\t", "|")


def _sniff_delimiter(text: str) -> str:
    """The candidate found the same number of times on the most records of the sample
    (quoted values ignored); a comma when nothing decides."""
    records: list[dict[str, int]] = []
    current = dict.fromkeys(_DELIMITERS, 0)
    in_quotes = False
    for char in text[: 64 * 1024]:
        if char == '"':
            in_quotes = not in_quotes
        elif in_quotes:
            continue
        elif char in "\r\n":
            if any(current.values()):
                records.append(current)
                current = dict.fromkeys(_DELIMITERS, 0)
                if len(records) >= 50:
                    break
        elif char in current:
            current[char] += 1
    if any(current.values()):
        records.append(current)
    best, best_score = ",", (0, 0)
    for delimiter in _DELIMITERS:
        seen = [record[delimiter] for record in records if record[delimiter]]
        if not seen:
            continue
        mode = max(set(seen), key=lambda n: (seen.count(n), n))
        score = (seen.count(mode), mode)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) for each record; the line is where the record starts, counted in
    physical lines so a quoted value spanning lines does not shift later numbers."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    last_line = 0
    try:
        for cells in reader:
            yield last_line + 1, cells
            last_line = reader.line_num
    except csv.Error as exc:
        line = last_line + 1
        reason = str(exc)
        if "unexpected end of data" in reason:
            message = 'A quoted value that starts here is never closed (a " is missing).'
        elif "field larger than field limit" in reason:
            message = f"A value is longer than {csv.field_size_limit():,} characters."
        else:
            message = (
                f'This line is not valid CSV ({reason}); a " inside a quoted value must '
                'be written twice ("").'
            )
        raise UploadRefused([UploadIssue(line, None, message)]) from exc


# --- XLSX -----------------------------------------------------------------------------


def _check_xlsx_archive(
    archive: zipfile.ZipFile, *, max_members: int, max_unpacked_bytes: int, max_ratio: int
) -> None:
    """Refuse zip bombs and oddities from the zip directory, before openpyxl opens it.

    zipfile never inflates a part past the size its directory entry declares, so the
    declared sizes checked here bound what openpyxl can unpack.
    """
    infos = archive.infolist()
    if len(infos) > max_members:
        raise UploadRefused(
            f"The Excel file is made of {len(infos):,} parts, more than the {max_members:,} "
            "a workbook may have. Save a copy with only the sheet to import and upload that."
        )
    if any(info.flag_bits & 0x1 for info in infos):
        raise UploadRefused(
            "The Excel file has encrypted parts and cannot be read. Save it again without "
            "a password and upload that."
        )
    unpacked = sum(info.file_size for info in infos)
    if unpacked > max_unpacked_bytes:
        raise UploadRefused(
            f"The Excel file unpacks to {_size_text(unpacked)}, more than the "
            f"{_size_text(max_unpacked_bytes)} allowed. Upload a smaller workbook."
        )
    for info in infos:
        if info.file_size > _RATIO_CHECK_FLOOR and info.file_size > max_ratio * max(
            info.compress_size, 1
        ):
            raise UploadRefused(
                "The Excel file is compressed far more than a real workbook can be "
                f"({info.file_size // max(info.compress_size, 1):,} to 1), so it is refused."
            )
    # Workbook XML never declares a DTD; one is a sign of an entity-expansion attack.
    for info in infos:
        if info.filename.endswith((".xml", ".rels", ".vml")):
            try:
                with archive.open(info) as part:
                    start = part.read(4096)
            except (zipfile.BadZipFile, OSError, zlib.error, NotImplementedError) as exc:
                raise UploadRefused(_DAMAGED) from exc
            if b"<!DOCTYPE" in start or b"<!ENTITY" in start:
                raise UploadRefused(
                    "The Excel file contains XML declarations that real workbooks never "
                    "have, so it is refused."
                )


def _xlsx_records(worksheet: Any) -> Iterator[tuple[int, list[Any]]]:
    # With the dimensions reset, openpyxl reads every cell and yields one tuple per
    # sheet row, empty rows included, so the count is the row number Excel shows.
    worksheet.reset_dimensions()
    rows = worksheet.iter_rows(values_only=True)
    line = 0
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # openpyxl raises many types for a malformed sheet
            raise UploadRefused(_DAMAGED) from exc
        line += 1
        yield line, list(values)


def _pick_worksheet(workbook: Any, sheet: str | None) -> Any:
    worksheets = workbook.worksheets
    if not worksheets:
        raise UploadRefused("The workbook has no worksheets.")
    if sheet is None:
        return next((ws for ws in worksheets if ws.sheet_state == "visible"), worksheets[0])
    found = next((ws for ws in worksheets if ws.title == sheet), None)
    if found is None:
        found = next((ws for ws in worksheets if ws.title.casefold() == sheet.casefold()), None)
    if found is not None:
        return found
    names = ", ".join(f'"{ws.title}"' for ws in worksheets)
    raise UploadRefused(f'The workbook has no sheet named "{sheet}". Its sheets are: {names}.')


# --- Header and rows ------------------------------------------------------------------


def _match_key(text: str) -> str:
    return re.sub(r"[\s_\-.]+", "", unicodedata.normalize("NFKC", text).casefold())


def normalise_header(text: str) -> str:
    """A header as a column name: 'Account Number' -> 'account_number'."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s_\-.]+", "_", folded).strip("_")


def _display(column: str) -> str:
    return column.replace("_", " ")


def _number_text(value: int | float | Decimal) -> str:
    if isinstance(value, float):
        value = _float_decimal(value)
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def _float_decimal(value: float) -> Decimal:
    """A spreadsheet number as the Decimal it shows: Excel keeps 15 significant digits,
    so 0.1 + 0.2 is 0.3 and 12.1 is 12.1, not the binary float's tail."""
    return Decimal(format(value, ".15g"))


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return _number_text(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip()


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass
class _Header:
    line: int
    positions: list[str | None]
    labels: dict[str, str]
    issues: list[UploadIssue]
    missing: list[str]


class _ColumnSpec:
    def __init__(
        self,
        required: Iterable[str],
        optional: Iterable[str],
        aliases: Mapping[str, Iterable[str] | str],
    ):
        self.required = tuple(required)
        self.aliases = {
            name: (names,) if isinstance(names, str) else tuple(names)
            for name, names in aliases.items()
        }
        self.lookup: dict[str, str] = {}
        for name in (*self.required, *optional, *self.aliases):
            self.lookup.setdefault(_match_key(name), name)
            for alias in self.aliases.get(name, ()):
                self.lookup.setdefault(_match_key(alias), name)

    def read_header(self, line: int, cells: list[Any], *, kind: str, unit: str) -> _Header:
        texts = [" ".join(_as_text(cell).split()) for cell in cells]
        while texts and not texts[-1]:
            texts.pop()  # trailing blank header cells are not columns
        positions: list[str | None] = []
        labels: dict[str, str] = {}
        issues = []
        for index, label in enumerate(texts):
            name = self.lookup.get(_match_key(label)) or normalise_header(label)
            if not name:
                where = get_column_letter(index + 1) if kind == "xlsx" else str(index + 1)
                message = f"Column {where} has no name in the header row."
                issues.append(UploadIssue(line, None, message, unit))
                positions.append(None)
            elif name in labels:
                first = labels[name]
                if _match_key(first) == _match_key(label):
                    message = f'The column "{label}" appears more than once in the header row.'
                else:
                    message = (
                        f'The columns "{first}" and "{label}" are the same column; '
                        "keep one of them."
                    )
                issues.append(UploadIssue(line, None, message, unit))
                positions.append(None)
            else:
                labels[name] = label
                positions.append(name)
        missing = [name for name in self.required if name not in labels]
        return _Header(line, positions, labels, issues, missing)

    def missing_issues(self, header: _Header, unit: str) -> list[UploadIssue]:
        issues = []
        for name in header.missing:
            message = f'There is no "{_display(name)}" column'
            if self.aliases.get(name):
                accepted = ", ".join(f'"{alias}"' for alias in self.aliases[name])
                message += f" (also accepted: {accepted})"
            issues.append(UploadIssue(None, None, message + "."))
        shown = [f'"{label}"' for label in header.labels.values()]
        if len(shown) > 20:
            shown = [*shown[:20], "..."]
        issues.append(
            UploadIssue(
                None,
                None,
                f"The header row ({unit.lower()} {header.line}) reads: {', '.join(shown)}.",
            )
        )
        return issues


class _IssueList:
    def __init__(self, limit: int):
        self.limit = limit
        self.issues: list[UploadIssue] = []
        self.count = 0

    def add(self, issue: UploadIssue) -> None:
        self.count += 1
        if len(self.issues) < self.limit:
            self.issues.append(issue)

    def refusal(self) -> UploadRefused:
        issues = list(self.issues)
        if self.count > len(issues):
            more = self.count - len(issues)
            issues.append(UploadIssue(None, None, f"And {more:,} more problems not listed here."))
        return UploadRefused(issues)


def _blank_record(cells: list[Any]) -> bool:
    return all(map(_is_blank, cells))


def _extra_cells(kind: str, extra: list[int], width: int, delimiter: str | None) -> str:
    if kind == "xlsx":
        return f"There is a value in column {get_column_letter(extra[0] + 1)}, which has no header."
    message = f"This line has {extra[-1] + 1} values but the header row has {width} columns."
    if delimiter == ",":
        message += " Is there a comma inside a value that is not in quotes?"
    return message


def _build_table(
    records: Iterator[tuple[int, list[Any]]],
    *,
    kind: str,
    spec: _ColumnSpec,
    max_rows: int,
    allow_no_rows: bool,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> Table:
    unit = "Row" if kind == "xlsx" else "Line"
    filled = ((line, cells) for line, cells in records if not _blank_record(cells))
    candidates = list(islice(filled, HEADER_SEARCH_ROWS if spec.required else 1))
    if not candidates:
        raise UploadRefused(f'The sheet "{sheet}" is empty.' if sheet else "The file is empty.")

    # The header is the first of these rows with the most of the required columns.
    headers = [spec.read_header(line, cells, kind=kind, unit=unit) for line, cells in candidates]
    best = max(range(len(headers)), key=lambda index: (-len(headers[index].missing), -index))
    header, after_header = headers[best], candidates[best + 1 :]
    if header.missing:
        raise UploadRefused(header.issues + spec.missing_issues(header, unit))
    if header.issues:
        raise UploadRefused(header.issues)

    names = [name for name in header.positions if name is not None]  # no gaps by now
    width = len(names)
    padding = ["" if kind == "csv" else None] * width
    rows: list[Row] = []
    issues = _IssueList(MAX_REPORTED_ISSUES)
    count = 0
    for line, cells in chain(after_header, filled):
        count += 1
        if count > max_rows:
            where = f'The sheet "{sheet}"' if sheet else "The file"
            raise UploadRefused(
                f"{where} has more than {max_rows:,} rows of data, the most one upload may "
                "have. Split it into smaller files."
            )
        if len(cells) > width:
            extra = [index for index in range(width, len(cells)) if not _is_blank(cells[index])]
            if extra:
                issues.add(
                    UploadIssue(line, None, _extra_cells(kind, extra, width, delimiter), unit)
                )
                continue
        elif len(cells) < width:
            cells = [*cells, *padding[len(cells) :]]
        rows.append(Row(line, dict(zip(names, cells, strict=False))))
    if issues.count:
        raise issues.refusal()
    if not rows and not allow_no_rows:
        raise UploadRefused("The file has a header row but no rows of data below it.")
    return Table(
        kind=kind,
        columns=names,
        rows=rows,
        labels=header.labels,
        header_line=header.line,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
    )


def read_table(
    source: UploadSource,
    *,
    allowed: Collection[str] = TABLE_KINDS,
    required_columns: Iterable[str] = (),
    optional_columns: Iterable[str] = (),
    column_aliases: Mapping[str, Iterable[str] | str] | None = None,
    sheet: str | None = None,
    allow_no_rows: bool = False,
    max_bytes: int | None = None,
    max_rows: int | None = None,
    max_members: int | None = None,
    max_unpacked_bytes: int | None = None,
) -> Table:
    """Read a CSV or XLSX upload (an UploadedFile, a binary file object, or bytes) into
    a Table, or raise UploadRefused listing every whole-file and row-shape problem.

    Headers match the caller's column names ignoring case, spaces, underscores, hyphens
    and dots; `column_aliases` maps a column name to other headers that mean it. Other
    headers become `normalise_header(header)`. Limits default to the UPLOAD_* settings.
    """
    allowed = _check_allowed(allowed, TABLE_KINDS)
    spec = _ColumnSpec(required_columns, optional_columns, column_aliases or {})
    row_limit = settings.UPLOAD_MAX_ROWS if max_rows is None else max_rows
    data = read_bytes(source, max_bytes=max_bytes)
    kind = detect_kind(data[:HEAD_BYTES])
    if kind == "text" and "csv" in allowed:
        text, encoding = _decode(data)
        delimiter = _sniff_delimiter(text)
        return _build_table(
            _csv_records(text, delimiter),
            kind="csv",
            spec=spec,
            max_rows=row_limit,
            allow_no_rows=allow_no_rows,
            encoding=encoding,
            delimiter=delimiter,
        )
    if kind == "zip":
        archive = _open_archive(data)
        kind = _archive_kind(archive)
        if kind == "xlsx" and "xlsx" in allowed:
            _check_xlsx_archive(
                archive,
                max_members=settings.UPLOAD_XLSX_MAX_MEMBERS
                if max_members is None
                else max_members,
                max_unpacked_bytes=settings.UPLOAD_XLSX_MAX_UNPACKED_BYTES
                if max_unpacked_bytes is None
                else max_unpacked_bytes,
                max_ratio=XLSX_MAX_COMPRESSION_RATIO,
            )
            return _read_xlsx(
                data, sheet=sheet, spec=spec, max_rows=row_limit, allow_no_rows=allow_no_rows
            )
    raise _wrong_kind(kind, allowed)


def _read_xlsx(
    data: bytes, *, sheet: str | None, spec: _ColumnSpec, max_rows: int, allow_no_rows: bool
) -> Table:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a malformed workbook
        raise UploadRefused(_DAMAGED) from exc
    try:
        worksheet = _pick_worksheet(workbook, sheet)
        return _build_table(
            _xlsx_records(worksheet),
            kind="xlsx",
            spec=spec,
            max_rows=max_rows,
            allow_no_rows=allow_no_rows,
            sheet=worksheet.title,
        )
    finally:
        workbook.close()


# --- Rows into records ----------------------------------------------------------------


def _validation_issues(error: ValidationError, table: Table, line: int) -> Iterator[UploadIssue]:
    if hasattr(error, "error_dict"):
        for name, messages in error.message_dict.items():
            for message in messages:
                if name == NON_FIELD_ERRORS:
                    yield UploadIssue(line, None, message, table.unit)
                elif name in table.labels:
                    yield UploadIssue(line, table.labels[name], message, table.unit)
                else:
                    yield UploadIssue(line, None, f"{_display(name)}: {message}", table.unit)
    else:
        for message in error.messages:
            yield UploadIssue(line, None, message, table.unit)


def parse_rows[T](
    table: Table,
    parse_row: Callable[[Row], T | None],
    *,
    max_errors: int = MAX_REPORTED_ISSUES,
) -> list[T]:
    """`parse_row(row)` for every row, in order; a row it returns None for is skipped.

    RowError, ValidationError and MoneyError from any row are collected with the row's
    line and column, and if there are any, UploadRefused lists them all (up to
    `max_errors`, then a count): nothing is returned unless every row parsed.
    """
    results: list[T] = []
    issues = _IssueList(max_errors)
    for row in table.rows:
        try:
            result = parse_row(row)
        except RowError as exc:
            issues.add(UploadIssue(row.line, table.label(exc.column), exc.message, table.unit))
        except ValidationError as exc:
            for issue in _validation_issues(exc, table, row.line):
                issues.add(issue)
        except MoneyError as exc:
            issues.add(UploadIssue(row.line, None, str(exc), table.unit))
        else:
            if result is not None and not issues.count:
                results.append(result)
    if issues.count:
        raise issues.refusal()
    return results


# --- Cell helpers ---------------------------------------------------------------------


def cell_text(
    row: Row, column: str, *, required: bool = True, max_length: int | None = None
) -> str:
    """The cell as trimmed text ("" when blank and not required); numbers from a
    spreadsheet as written (12345, not 12345.0), dates as YYYY-MM-DD."""
    text = _as_text(row.get(column))
    if not text:
        if required:
            raise RowError("A value is required.", column=column)
        return ""
    if max_length is not None and len(text) > max_length:
        raise RowError(
            f"This is {len(text):,} characters long; the most allowed is {max_length:,}.",
            column=column,
        )
    return text


_PLAIN_AMOUNT = re.compile(r"-?\d{1,12}(\.\d{0,2})?")  # most cells: no $, commas or cents past 2
_MONEY_TEXT = re.compile(r"\(?[+-]?(\d{1,3}(,\d{3})+|\d+)?(\.\d*)?\)?")
_DECIMAL_COMMA = re.compile(r"[+-]?(\d{1,3}(\.\d{3})+|\d+),\d{1,2}")


def cell_money(row: Row, column: str, *, required: bool = True) -> Decimal | None:
    """The cell as an amount in dollars and cents (Decimal), or None when blank and not
    required. Text as people write it ('$1,234.50', '(12.00)', '-3'); spreadsheet numbers
    as the cell shows them, rounded half-up to the cent. Never goes through float."""
    value = row.get(column)
    if _is_blank(value):
        if required:
            raise RowError("An amount is required.", column=column)
        return None
    if isinstance(value, bool | date | time | timedelta):
        raise RowError(f"{_as_text(value)} is not an amount.", column=column)
    shown = _as_text(value)
    if isinstance(value, int | float | Decimal):
        try:
            amount = to_money(_float_decimal(value) if isinstance(value, float) else value)
        except (MoneyError, ValueError):  # NaN and infinity
            raise RowError(f"{shown} is not an amount.", column=column) from None
    else:
        text = str(value).replace("\xa0", " ").strip()
        shown = text
        if _PLAIN_AMOUNT.fullmatch(text):
            return to_money(text)
        compact = text.replace("$", "").replace(" ", "")
        if re.fullmatch(r"[+-]?[\d.,]+[eE][+-]?\d+", compact):
            raise RowError(
                f'"{text}" is in scientific notation. Format the column as a number with '
                "two decimals and save the file again.",
                column=column,
            )
        if _DECIMAL_COMMA.fullmatch(compact):
            raise RowError(
                f'"{text}" is not an amount; write amounts with a point before the cents, '
                "like 1234.50.",
                column=column,
            )
        if not _MONEY_TEXT.fullmatch(compact) or not re.search(r"\d", compact):
            raise RowError(f'"{text}" is not an amount.', column=column)
        cents = compact.partition(".")[2].rstrip(")")
        if cents[2:].strip("0"):
            raise RowError(f'"{text}" has more than two decimal places.', column=column)
        try:
            amount = parse_money(text)
        except MoneyError:
            raise RowError(f'"{text}" is not an amount.', column=column) from None
    if abs(amount) >= _MAX_AMOUNT:
        raise RowError(f'"{shown}" is too large for an amount.', column=column)
    return amount


_ISO_DATE = re.compile(
    r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})"
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_US_DATE = re.compile(
    r"(\d{1,2})[/-](\d{1,2})[/-](\d{4}|\d{2})(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?)?"
)
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")


def _checked_date(year: int, month: int, day: int, shown: str, column: str) -> date:
    try:
        result = date(year, month, day)
    except ValueError:
        raise RowError(f'"{shown}" is not a date on the calendar.', column=column) from None
    if not 1900 <= result.year <= 2100:
        raise RowError(f'"{shown}" is not between the years 1900 and 2100.', column=column)
    return result


def cell_date(row: Row, column: str, *, required: bool = True) -> date | None:
    """The cell as a date, or None when blank and not required. Accepts spreadsheet
    dates, YYYY-MM-DD, MM/DD/YYYY (or MM/DD/YY), and YYYYMMDD; a time part is ignored."""
    value = row.get(column)
    if _is_blank(value):
        if required:
            raise RowError("A date is required.", column=column)
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        shown = value.isoformat()
        return _checked_date(value.year, value.month, value.day, shown, column)
    text = _as_text(value)
    if isinstance(value, int | float | Decimal) and not _COMPACT_DATE.fullmatch(text):
        # A plain number could be an Excel serial, a year or an amount: refuse to guess.
        raise RowError(
            f"{text} is a number, not a date. Format the column as dates in Excel.",
            column=column,
        )
    if match := _ISO_DATE.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
    elif match := _US_DATE.fullmatch(text):
        month, day, year = (int(part) for part in match.groups())
        if month > 12:
            raise RowError(
                f'"{text}" is not a date: there is no month {month}. Write dates as MM/DD/YYYY.',
                column=column,
            )
        if len(match.group(3)) == 2:
            year += 2000 if year < 70 else 1900
    elif match := _COMPACT_DATE.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
    else:
        raise RowError(
            f'"{text}" is not a date; write it as YYYY-MM-DD or MM/DD/YYYY.', column=column
        )
    return _checked_date(year, month, day, text, column)


_INT_TEXT = re.compile(r"[+-]?(\d{1,3}(,\d{3})+|\d+)(\.0*)?")


def cell_int(
    row: Row,
    column: str,
    *,
    required: bool = True,
    min_value: int | None = None,
    max_value: int | None = None,
) -> int | None:
    """The cell as a whole number ('1,200' and 12.0 are fine), or None when blank and
    not required, checked against `min_value` and `max_value` when given."""
    value = row.get(column)
    if _is_blank(value):
        if required:
            raise RowError("A number is required.", column=column)
        return None
    text = _as_text(value)
    if isinstance(value, bool) or not _INT_TEXT.fullmatch(text):
        raise RowError(f'"{text}" is not a whole number.', column=column)
    digits = text.partition(".")[0].replace(",", "")
    if len(digits.lstrip("+-")) > 18:
        raise RowError(f'"{text}" is too large.', column=column)
    number = int(digits)
    if min_value is not None and number < min_value:
        raise RowError(f"{number:,} is less than {min_value:,}, the least allowed.", column=column)
    if max_value is not None and number > max_value:
        raise RowError(f"{number:,} is more than {max_value:,}, the most allowed.", column=column)
    return number


# --- Form fields ----------------------------------------------------------------------


class _CheckedUploadField(forms.FileField):
    def __init__(self, *, allowed: Collection[str], max_bytes: int | None, **kwargs: Any):
        self.allowed = tuple(allowed)
        self.max_bytes = max_bytes
        # Settings are read when the help text is shown, not when the form class loads.
        kwargs.setdefault("help_text", lazy(self._default_help_text, str)())
        super().__init__(**kwargs)

    def _default_help_text(self) -> str:
        limit = settings.UPLOAD_MAX_BYTES if self.max_bytes is None else self.max_bytes
        wanted = _wanted(self.allowed)
        return f"{wanted[0].upper()}{wanted[1:]} of up to {_size_text(limit)}."

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        accept = [_ACCEPT[kind] for kind in self.allowed if kind in _ACCEPT]
        if len(accept) == len(self.allowed) and not widget.is_hidden:
            attrs.setdefault("accept", ",".join(accept))
        return attrs

    def clean(self, data: Any, initial: Any = None) -> Any:
        uploaded = super().clean(data, initial)
        if not uploaded:
            return uploaded
        try:
            return self.read(uploaded)
        except UploadRefused as exc:
            raise exc.as_validation_error() from None

    def read(self, uploaded: File) -> Any:
        raise NotImplementedError


class TableUploadField(_CheckedUploadField):
    """A file input whose cleaned value is the `Table` read by `read_table`; a refused
    file shows each reason as a field error. Row parsing stays with the form or service:
    call `parse_rows` and add its refusal with `form.add_error(name, exc.as_validation_error())`.
    """

    def __init__(
        self,
        *,
        allowed: Collection[str] = TABLE_KINDS,
        required_columns: Iterable[str] = (),
        optional_columns: Iterable[str] = (),
        column_aliases: Mapping[str, Iterable[str] | str] | None = None,
        sheet: str | None = None,
        allow_no_rows: bool = False,
        max_bytes: int | None = None,
        **kwargs: Any,
    ):
        self._read_table = functools.partial(
            read_table,
            allowed=_check_allowed(allowed, TABLE_KINDS),
            required_columns=tuple(required_columns),
            optional_columns=tuple(optional_columns),
            column_aliases=dict(column_aliases or {}),
            sheet=sheet,
            allow_no_rows=allow_no_rows,
            max_bytes=max_bytes,
        )
        super().__init__(allowed=allowed, max_bytes=max_bytes, **kwargs)

    def read(self, uploaded: File) -> Table:
        return self._read_table(uploaded)


class TextUploadField(_CheckedUploadField):
    """A file input whose cleaned value is the `TextUpload` read by `read_text`."""

    def __init__(
        self,
        *,
        allowed: Collection[str] = TEXT_KINDS,
        max_bytes: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(allowed=_check_allowed(allowed, TEXT_KINDS), max_bytes=max_bytes, **kwargs)

    def read(self, uploaded: File) -> TextUpload:
        return read_text(uploaded, allowed=self.allowed, max_bytes=self.max_bytes)
