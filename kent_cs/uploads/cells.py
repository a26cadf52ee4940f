"""Rows into records: `parse_rows`, which collects every line's problem before anything is
written, and the cell helpers that read text, money, dates and whole numbers from a row.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from kent_cs.money import MoneyError, parse_money, to_money
from kent_cs.uploads.results import (
    MAX_REPORTED_ISSUES,
    Row,
    RowError,
    Table,
    UploadIssue,
    _IssueList,
)
from kent_cs.uploads.tables import _as_text, _display, _float_decimal, _is_blank

_MAX_AMOUNT = Decimal("1000000000000")  # MoneyField holds 14 digits, 2 of them cents


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


def _row_issues(table: Table, row: Row, exc: Exception) -> Iterator[UploadIssue]:
    if isinstance(exc, RowError):
        yield UploadIssue(row.line, table.label(exc.column), exc.message, table.unit)
    elif isinstance(exc, ValidationError):
        yield from _validation_issues(exc, table, row.line)
    else:
        yield UploadIssue(row.line, None, str(exc), table.unit)


_ROW_ERRORS = (RowError, ValidationError, MoneyError)


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
        except _ROW_ERRORS as exc:
            for issue in _row_issues(table, row, exc):
                issues.add(issue)
        else:
            if result is not None and not issues.count:
                results.append(result)
    if issues.count:
        raise issues.refusal()
    return results


@dataclass(frozen=True)
class RefusedRow:
    """A row `parse_rows_apart` could not read, with every reason."""

    row: Row
    issues: list[UploadIssue]

    @property
    def problem(self) -> str:
        return "; ".join(str(issue) for issue in self.issues)


def parse_rows_apart[T](
    table: Table, parse_row: Callable[[Row], T | None]
) -> tuple[list[T], list[RefusedRow]]:
    """Like `parse_rows`, but the rows that parse are kept apart from those that do not:
    (the good rows' results, the refused rows with their problems), for an import that
    takes the good rows and hands the others back to be corrected."""
    results: list[T] = []
    refused: list[RefusedRow] = []
    for row in table.rows:
        try:
            result = parse_row(row)
        except _ROW_ERRORS as exc:
            refused.append(RefusedRow(row, list(_row_issues(table, row, exc))))
        else:
            if result is not None:
                results.append(result)
    return results, refused


def row_texts(table: Table, row: Row) -> list[str]:
    """The row's cells as text, in the file's column order (for handing a row back)."""
    return [_as_text(row.get(column)) for column in table.columns]


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
