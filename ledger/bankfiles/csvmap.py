"""Bank exports in CSV (or XLSX) read through a column mapping: one statement per account
number, each row a line. Rows are read by the uploads helper, so every bad row is reported
with its line before anything is returned."""

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from kent_cs.uploads.cells import cell_date, cell_money, cell_text, parse_rows
from kent_cs.uploads.files import UploadSource
from kent_cs.uploads.results import Row, RowError
from kent_cs.uploads.tables import read_table

from ._common import looks_returned, new_line
from .types import CsvMapping, ParsedFile, Statement, StatementLine

__all__ = ["parse_mapped_csv"]


def _date_reader(mapping: CsvMapping) -> Callable[[Row, str], date | None]:
    if not mapping.date_format:
        return lambda row, column: cell_date(row, column, required=column == mapping.date)
    date_format = mapping.date_format

    def read(row: Row, column: str) -> date | None:
        value = row.get(column)
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = cell_text(row, column, required=column == mapping.date)
        if not text:
            return None
        try:
            return datetime.strptime(text, date_format).date()
        except ValueError:
            raise RowError(
                f'"{text}" is not a date in the form {date_format}.', column=column
            ) from None

    return read


def _amount(row: Row, mapping: CsvMapping) -> Decimal:
    if mapping.amount:
        amount = cell_money(row, mapping.amount)
        assert amount is not None
        return amount
    assert mapping.credit and mapping.debit
    credit = cell_money(row, mapping.credit, required=False)
    debit = cell_money(row, mapping.debit, required=False)
    if credit and debit:
        raise RowError("The row has both a credit and a debit; it must have one.")
    if credit:
        return abs(credit)
    if debit:
        return -abs(debit)
    raise RowError("The row has neither a credit nor a debit amount.", column=mapping.credit)


def parse_mapped_csv(
    data: UploadSource, mapping: CsvMapping, *, max_bytes: int | None
) -> ParsedFile:
    amount_columns = (mapping.amount,) if mapping.amount else (mapping.credit, mapping.debit)
    required = [mapping.date, *(column for column in amount_columns if column)]
    if mapping.account_number and not mapping.default_account_number:
        required.append(mapping.account_number)
    optional = [
        column
        for column in (
            mapping.description,
            mapping.reference,
            mapping.bank_reference,
            mapping.type_code,
            mapping.value_date,
            mapping.account_number,
        )
        if column and column not in required
    ]
    table = read_table(
        data, required_columns=required, optional_columns=optional, max_bytes=max_bytes
    )
    read_date = _date_reader(mapping)

    def text(row: Row, column: str | None) -> str:
        return cell_text(row, column, required=False, max_length=500) if column else ""

    def parse(row: Row) -> tuple[str, StatementLine]:
        booked = read_date(row, mapping.date)
        assert booked is not None
        value_date = read_date(row, mapping.value_date) if mapping.value_date else None
        amount = _amount(row, mapping)
        account = text(row, mapping.account_number) or mapping.default_account_number
        if not account:
            column = mapping.account_number
            raise RowError("The row has no account number.", column=column)
        description = text(row, mapping.description)
        type_code = text(row, mapping.type_code)
        return account, new_line(
            line=row.line,
            booked=booked,
            value_date=value_date,
            amount=amount,
            type_code=type_code,
            is_returned_item=looks_returned(amount, type_code, description),
            bank_ref=text(row, mapping.bank_reference),
            customer_ref=text(row, mapping.reference),
            description=description,
        )

    rows = parse_rows(table, parse)
    by_account: dict[str, list[StatementLine]] = {}
    for account, line in rows:
        by_account.setdefault(account, []).append(line)
    statements = []
    for account, lines in by_account.items():
        start = min(line.booked for line in lines)
        end = max(line.booked for line in lines)
        statements.append(
            Statement(
                line=lines[0].line,
                account_number=account,
                currency=mapping.currency,
                statement_id=f"{account}:{start:%Y%m%d}-{end:%Y%m%d}",
                start=start,
                end=end,
                opening_balance=None,
                closing_balance=None,
                lines=tuple(lines),
            )
        )
    return ParsedFile(
        format="csv",
        file_id="",
        created=None,
        statements=tuple(statements),
        record_count=table.rows[-1].line if table.rows else table.header_line,
    )
