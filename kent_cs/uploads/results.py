"""What reading an upload gives back, and how it refuses: the rows and tables with the line
numbers users see in their file, and the listed problems of a refused file.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

# How many problems one refusal lists; the rest are counted in a last line.
MAX_REPORTED_ISSUES = 50


@dataclass(frozen=True)
class UploadIssue:
    """One problem with an upload: where it is (if anywhere) and what is wrong."""

    line: int | None
    column: str | None
    message: str
    unit: str = "Line"  # "Row" for spreadsheets, as Excel numbers them
    record: int | None = None  # which record on the line, where a line holds several

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"{self.unit} {self.line}")
            if self.record is not None:
                where.append(f"record {self.record}")
        if self.column:
            where.append(f'column "{self.column}"')
        return f"{', '.join(where)}: {self.message}" if where else self.message


class UploadRefused(Exception):
    """The upload cannot be imported; `issues` says every reason that was found."""

    def __init__(self, issues: Iterable[UploadIssue] | str, *, problem_count: int | None = None):
        if isinstance(issues, str):
            issues = [UploadIssue(None, None, issues)]
        self.issues: list[UploadIssue] = list(issues)
        # How many problems were found: more than `issues` lists when they were capped
        # (the last issue then says how many more there are).
        self.problem_count = len(self.issues) if problem_count is None else problem_count
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
        return UploadRefused(issues, problem_count=self.count)
