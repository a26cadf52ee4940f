"""What a bank statement file says, whatever its format: files hold statements (one per
account and period), statements hold lines (one per booked transaction)."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

__all__ = ["CsvMapping", "Discrepancy", "ParsedFile", "Statement", "StatementLine"]

_ZERO = Decimal("0.00")


@dataclass(frozen=True)
class StatementLine:
    line: int  # 1-based line in the file where the transaction starts
    booked: date  # posting date, as the bank wrote it (no time-zone conversion)
    value_date: date | None
    amount: Decimal  # 2 places; + money into the account (credit), - money out (debit)
    type_code: str  # BAI2 "301"; camt "PMNT/RCDT/ESCT" or proprietary code; OFX TRNTYPE
    is_returned_item: bool  # a deposited item returned, chargeback or NSF return
    bank_ref: str = ""  # BAI2 field 5, camt AcctSvcrRef, OFX FITID
    customer_ref: str = ""  # BAI2 field 6, camt EndToEndId/Ref, OFX CHECKNUM/REFNUM
    description: str = ""  # free text: BAI2 text and 88 continuations, camt, OFX NAME+MEMO


@dataclass(frozen=True)
class Statement:
    line: int  # where the account's statement starts
    account_number: str
    currency: str  # ISO 4217
    statement_id: str
    start: date
    end: date
    opening_balance: Decimal | None
    closing_balance: Decimal | None
    lines: tuple[StatementLine, ...]

    @property
    def total_credits(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.amount > 0), _ZERO)

    @property
    def total_debits(self) -> Decimal:
        """Money out of the account, as a positive number."""
        return -sum((line.amount for line in self.lines if line.amount < 0), _ZERO)


@dataclass(frozen=True)
class Discrepancy:
    """A file that reads but does not agree with itself: a trailer's control total or
    record count, balances that the entries do not join up, or a statement that does not
    say what it should. Such a file is imported only when a person approves it."""

    line: int | None  # where in the file the figure that disagrees is written
    kind: str  # one of DISCREPANCY_KINDS
    where: str  # which record or statement, in words ("account trailer (49) of account 12")
    expected: str  # what the file says
    found: str  # what its records come to
    difference: str  # found less expected, as text ("" where it is not a number)
    message: str  # the whole of it in a sentence
    statements: tuple[int, ...] = ()  # indexes into ParsedFile.statements it concerns
    amount: Decimal | None = None  # the difference in money, where it is money
    record: int | None = None  # which record on the line, where a line holds several

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        record = f", record {self.record}" if self.record is not None else ""
        return f"Line {self.line}{record}: {self.message}"


DISCREPANCY_KINDS = {
    "control_total": "Control total",
    "record_count": "Record count",
    "account_count": "Number of accounts",
    "group_count": "Number of groups",
    "balance": "Balances",
    "summary": "Transaction summary",
    "dates": "Statement dates",
}


@dataclass(frozen=True)
class ParsedFile:
    format: str  # "bai2" | "camt053" | "ofx" | "csv"
    file_id: str  # the sender's file id or message id; "" if none
    # When the sender made the file: time-zone aware where the file gives an offset
    # (camt, OFX, which is GMT unless it says otherwise), naive where it cannot (BAI2).
    created: datetime | None
    statements: tuple[Statement, ...]
    record_count: int  # physical lines (BAI2, OFX, camt) or records (CSV) read
    # Where the file disagrees with itself; empty for a file that adds up.
    discrepancies: tuple[Discrepancy, ...] = ()

    @property
    def transaction_count(self) -> int:
        return sum(len(statement.lines) for statement in self.statements)

    @property
    def total_credits(self) -> Decimal:
        return sum((statement.total_credits for statement in self.statements), _ZERO)

    @property
    def total_debits(self) -> Decimal:
        """Money out of the accounts, as a positive number."""
        return sum((statement.total_debits for statement in self.statements), _ZERO)


@dataclass(frozen=True)
class CsvMapping:
    """Which column of a bank's CSV (or XLSX) export holds what. Column names are the
    headers as written in the file; case, spaces, underscores, hyphens and dots are
    ignored when matching them. Amounts come from one signed `amount` column, or from
    separate `credit` and `debit` columns (a debit is money out whatever its sign)."""

    date: str
    amount: str | None = None
    credit: str | None = None
    debit: str | None = None
    description: str | None = None
    reference: str | None = None
    type_code: str | None = None
    account_number: str | None = None
    default_account_number: str = ""  # for rows with no account column or a blank cell
    currency: str = "USD"
    date_format: str | None = None  # strptime format; else the uploads helper's parsing
    bank_reference: str | None = None  # a second reference column (the bank's own)
    value_date: str | None = None

    def __post_init__(self) -> None:
        if self.amount and (self.credit or self.debit):
            raise ValueError("Map either an amount column or credit and debit columns, not both.")
        if not self.amount and not (self.credit and self.debit):
            raise ValueError("Map an amount column, or both a credit and a debit column.")
        if not (len(self.currency) == 3 and self.currency.isascii() and self.currency.isupper()):
            raise ValueError(f"{self.currency!r} is not an ISO 4217 currency code like USD.")
