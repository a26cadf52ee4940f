"""Tables from uploads: the header found by name among the first rows, columns matched with
their aliases, cells checked against the header, and `read_table`, which reads a CSV or
.xlsx upload into a `Table`.
"""

import io
import re
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from itertools import chain, islice
from typing import Any

from django.conf import settings
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from kent_cs.uploads.files import (
    _DAMAGED,
    HEAD_BYTES,
    TABLE_KINDS,
    UploadSource,
    _archive_kind,
    _check_allowed,
    _open_archive,
    _wrong_kind,
    detect_kind,
    read_bytes,
)
from kent_cs.uploads.results import (
    MAX_REPORTED_ISSUES,
    Row,
    Table,
    UploadIssue,
    UploadRefused,
    _IssueList,
)
from kent_cs.uploads.text import _csv_records, _decode, _sniff_delimiter
from kent_cs.uploads.xlsx import (
    XLSX_MAX_COMPRESSION_RATIO,
    _check_xlsx_archive,
    _pick_worksheet,
    _xlsx_records,
)

# Rows above the header (titles, "as of" dates) are skipped when the header is found in
# one of the first rows; only used when the caller names required columns.
HEADER_SEARCH_ROWS = 10


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
