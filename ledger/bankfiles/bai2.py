"""BAI2 (Cash Management Balance Reporting Specifications, version 2) statement files.

A file is 01 file header, groups (02 ... 98) of accounts (03 ... 49) holding transaction
details (16); an 88 record continues the record before it. Files are taken as banks write
them: "/" ending a record or not, blank lines, several records on one line (each ended by
"/") and fixed-length blocks of the header's physical record length (80-character records
padded with spaces, back to back) as moov-io/bai2 reads them, 88 continuations in the
middle of a field list (a summary's type code on one record, its amount on the next), text
that holds commas and slashes, amounts in the currency's implied decimals, and every funds
type (0, 1, 2, Z, V with a value date and time, S with three amounts, D with a
distribution). Control totals
and record counts in the 49, 98 and 99 trailers are checked: a file that cannot be read is
refused with every problem and its line; one that reads but whose trailers disagree with
its records comes back with those discrepancies, for a person to approve or refuse.
"""

import functools
import itertools
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from ._common import (
    CENT,
    MAX_AMOUNT,
    Issues,
    currency_decimals,
    is_currency,
    looks_returned,
    new_line,
)
from .types import ParsedFile, Statement, StatementLine

__all__ = ["RETURNED_ITEM_CODES", "bai2_sample", "parse_bai2"]

_RECORD_NAMES = {
    "01": "file header",
    "02": "group header",
    "03": "account identifier",
    "16": "transaction detail",
    "49": "account trailer",
    "88": "continuation",
    "98": "group trailer",
    "99": "file trailer",
}

# Detail type codes for money taken back out of the account because an item deposited
# or credited earlier was returned, reversed or rejected (BAI2 "Deposited Items Returned"
# and "Rejected Debits" sections). Fees for returns (564, 567) are not returned items.
RETURNED_ITEM_CODES = frozenset(
    {
        "552",  # Credit Reversal
        "555",  # Deposited Item Returned
        "557",  # Individual ACH Return Item
        "558",  # ACH Reversal Debit
        "561",  # Individual Rejected Debit
        "566",  # Return Item
        "568",  # Return Item Adjustment
    }
)

OPENING_LEDGER = "010"
CLOSING_LEDGER = "015"


def _sign_of(code: int) -> int:
    """+1 for credit type codes, -1 for debits, 0 for status and non-monetary codes."""
    if 100 <= code <= 399 or 720 <= code <= 739 or 920 <= code <= 959:
        return 1
    if 400 <= code <= 699 or 760 <= code <= 799 or 960 <= code <= 999:
        return -1
    return 0


_SIGNS = {f"{code:03d}": _sign_of(code) for code in range(1000)}
_SIMPLE_FUNDS = frozenset(("", "0", "1", "2", "Z"))
_new_object = object.__new__


class _Cursor:
    """Reads the fields of one logical record: the record and its 88 continuations.

    A "/" ends a record's fields (what follows on that physical record is ignored), and
    a continuation starts a new field. The text field of a transaction detail is the
    rest of the record, commas and slashes included, plus every continuation.
    """

    __slots__ = ("index", "pos", "segments", "slash")

    def __init__(self, segments: list[str]):
        self.segments = segments
        self.index = 0
        self.pos = 0
        self.slash = segments[0].find("/")

    def _advance(self) -> None:
        self.index += 1
        self.pos = 0
        if self.index < len(self.segments):
            self.slash = self.segments[self.index].find("/")

    def field(self) -> str | None:
        """The next field, stripped; None when the record has no more fields. The fields
        of a physical record are what comes before its first "/", split at commas."""
        if self.index >= len(self.segments):
            return None
        segment = self.segments[self.index]
        pos = self.pos
        end = len(segment) if self.slash < 0 else self.slash
        comma = segment.find(",", pos, end)
        if comma < 0:
            value = segment[pos:end]
            self._advance()
        else:
            value = segment[pos:comma]
            self.pos = comma + 1
        return value.strip()

    def text(self) -> str:
        """The rest of the record as free text, continuations joined with spaces."""
        parts = []
        if self.index < len(self.segments):
            parts.append(self.segments[self.index][self.pos :])
            parts.extend(self.segments[self.index + 1 :])
        cleaned = []
        for part in parts:
            part = part.rstrip()
            if part.endswith("/"):
                part = part[:-1].rstrip()
            if part.strip():
                cleaned.append(part.strip())
        self.index = len(self.segments)
        return " ".join(cleaned)


@functools.lru_cache(maxsize=512)
def _yymmdd(text: str) -> date | None:
    if len(text) != 6 or not text.isdigit():
        return None
    year, month, day = int(text[:2]), int(text[2:4]), int(text[4:])
    try:
        return date(2000 + year if year < 70 else 1900 + year, month, day)
    except ValueError:
        return None


def _time_ok(text: str) -> bool:
    if not text:
        return True
    if len(text) != 4 or not text.isdigit():
        return False
    return text == "9999" or (int(text[:2]) <= 24 and int(text[2:]) <= 59)


def _signed(text: str) -> int | None:
    """A signed whole number as written in a summary or trailer ("+000123", "-5")."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    return -int(body) if text[:1] == "-" else int(body)


@dataclass
class _Account:
    line: int
    number: str
    currency: str
    places: int
    group: "_Group"
    first_record: int = 0  # the number of the 03 record among the file's records
    # False once an amount could not be read: the control total is not checked then,
    # so that one bad amount is reported once, not again as a wrong total.
    total_known: bool = True
    total: int = 0
    opening: Decimal | None = None
    closing: Decimal | None = None
    lines: list[StatementLine] = field(default_factory=list)


@dataclass
class _Group:
    line: int
    number: int
    as_of: date
    currency: str
    first_record: int = 0
    first_statement: int = 0  # the index of its first account's statement
    total_known: bool = True
    accounts: int = 0
    total: int = 0


class _Bai2Parser:
    def __init__(self) -> None:
        self.issues = Issues()
        self.statements: list[Statement] = []
        self.file_id = ""
        self.created: datetime | None = None
        self.file_date = date(1970, 1, 1)
        self.group: _Group | None = None
        self.account: _Account | None = None
        self.skipping_account = False
        self.groups = 0
        self.file_total = 0
        self.records_read = 0  # physical records read, up to the current one
        self.total_known = True
        self.done = False
        self.after_end_reported = False

    # -- amounts ----------------------------------------------------------------------

    def _money(self, units: int, places: int, line: int, what: str) -> Decimal:
        amount = Decimal(units).scaleb(-places)
        if places != 2:
            if places > 2 and units % 10 ** (places - 2):
                self.issues.add(line, f"The {what} {units} has more decimals than a cent.")
            amount = amount.quantize(CENT)
        if abs(amount) >= MAX_AMOUNT:
            self.issues.add(line, f"The {what} {units} is too large.")
        return amount

    def _funds(self, cursor: _Cursor, funds_type: str, line: int) -> date | None:
        """Reads the fields a funds type brings with it; returns a V value date."""
        if funds_type in ("", "0", "1", "2", "Z"):
            return None
        if funds_type == "V":
            value_text, time_text = cursor.field() or "", cursor.field() or ""
            value_date = _yymmdd(value_text)
            if value_date is None:
                self.issues.add(line, f'The value date "{value_text}" is not a date (YYMMDD).')
            if not _time_ok(time_text):
                self.issues.add(line, f'The value time "{time_text}" is not a time (HHMM).')
            return value_date
        if funds_type == "S":
            for label in ("immediate", "one-day", "two-or-more-day"):
                text = cursor.field() or ""
                if text and _signed(text) is None:
                    self.issues.add(
                        line, f'The {label} availability amount "{text}" is not a number.'
                    )
            return None
        if funds_type == "D":
            count_text = cursor.field() or ""
            if not count_text.isdigit():
                self.issues.add(
                    line,
                    f'The number of availability distributions "{count_text}" is not a number.',
                )
                return None
            for _ in range(int(count_text)):
                days, amount = cursor.field(), cursor.field()
                if days is None or amount is None:
                    self.issues.add(
                        line,
                        f"The funds type D announces {count_text} availability distributions "
                        "but fewer follow.",
                    )
                    return None
                if not days.isdigit() or _signed(amount) is None:
                    self.issues.add(
                        line, f'The availability distribution "{days},{amount}" is not two numbers.'
                    )
            return None
        self.issues.add(line, f'"{funds_type}" is not a BAI2 funds type (0, 1, 2, V, S, D or Z).')
        return None

    # -- records ----------------------------------------------------------------------

    def file_header(self, line: int, cursor: _Cursor) -> None:
        fields = [cursor.field() or "" for _ in range(8)]
        _sender, _receiver, created, created_time, file_id, _length, _block, version = fields
        self.file_id = file_id
        created_date = _yymmdd(created)
        if created_date is None:
            self.issues.add(line, f'The file creation date "{created}" is not a date (YYMMDD).')
        else:
            self.file_date = created_date
            if _time_ok(created_time) and created_time and created_time not in ("2400", "9999"):
                moment = time(int(created_time[:2]), int(created_time[2:]))
                self.created = datetime.combine(created_date, moment)
            elif _time_ok(created_time):
                self.created = datetime.combine(created_date, time())
        if not _time_ok(created_time):
            self.issues.add(line, f'The file creation time "{created_time}" is not a time (HHMM).')
        if version and version != "2":
            self.issues.add(
                line,
                f"The file is BAI version {version}; only version 2 (BAI2) files can be read.",
            )

    def group_header(self, line: int, cursor: _Cursor) -> None:
        fields = [cursor.field() or "" for _ in range(7)]
        _receiver, _originator, status, as_of_text, as_of_time, currency, _modifier = fields
        as_of = _yymmdd(as_of_text)
        if as_of is None:
            self.issues.add(line, f'The as-of date "{as_of_text}" is not a date (YYMMDD).')
        if not _time_ok(as_of_time):
            self.issues.add(line, f'The as-of time "{as_of_time}" is not a time (HHMM).')
        if status == "2":
            self.issues.add(
                line,
                "The group deletes one sent before (group status 2); it cannot be imported.",
            )
        elif status == "4":
            self.issues.add(line, "The group is marked as a test only (group status 4).")
        elif status not in ("1", "3"):
            self.issues.add(line, f'"{status}" is not a BAI2 group status (1 to 4).')
        if currency and not is_currency(currency):
            self.issues.add(line, f'"{currency}" is not a currency code like USD.')
        self.groups += 1
        self.group = _Group(
            line,
            self.groups,
            as_of or self.file_date,
            currency if currency else "USD",
            first_statement=len(self.statements),
        )

    def account_header(self, line: int, cursor: _Cursor, group: _Group) -> _Account:
        number = cursor.field() or ""
        currency = cursor.field() or ""
        if not number:
            self.issues.add(line, "The account identifier (03) has no account number.")
        if currency and not is_currency(currency):
            self.issues.add(line, f'"{currency}" is not a currency code like USD.')
            currency = ""
        currency = currency or group.currency
        account = _Account(line, number, currency, currency_decimals(currency), group)
        total = 0
        while True:
            code = cursor.field()
            if code is None:
                break
            if not code:
                continue  # an empty field where a type code would start: ",,/" padding
            amount_text = cursor.field() or ""
            _count = cursor.field()
            funds_type = cursor.field() or ""
            self._funds(cursor, funds_type, line)
            if not (len(code) == 3 and code.isdigit()):
                self.issues.add(line, f'The summary type code "{code}" is not a 3-digit code.')
                continue
            if not amount_text:
                continue  # a balance the bank does not report
            units = _signed(amount_text)
            if units is None:
                self.issues.add(
                    line, f'The amount "{amount_text}" for type code {code} is not a number.'
                )
                account.total_known = False
                continue
            total += units
            if code == OPENING_LEDGER:
                account.opening = self._money(units, account.places, line, "opening balance")
            elif code == CLOSING_LEDGER:
                account.closing = self._money(units, account.places, line, "closing balance")
        account.total = total
        return account

    def detail(self, line: int, cursor: _Cursor, account: _Account) -> None:
        code = cursor.field() or ""
        amount_text = cursor.field() or ""
        funds_type = cursor.field() or ""
        value_date = self._funds(cursor, funds_type, line)
        bank_ref = cursor.field() or ""
        customer_ref = cursor.field() or ""
        description = cursor.text()
        if amount_text.startswith("+"):
            amount_text = amount_text[1:]
        if not (amount_text.isascii() and amount_text.isdigit()):
            what = "missing" if not amount_text else f'"{amount_text}", not a number'
            self.issues.add(line, f"The transaction amount is {what}.")
            account.total_known = False
            return
        units = int(amount_text)
        account.total += units
        sign = _SIGNS.get(code)
        if sign is None:
            self.issues.add(line, f'The type code "{code}" is not a 3-digit BAI2 type code.')
            return
        if sign == 0:
            if code == "890" and units == 0:
                return  # non-monetary information
            self.issues.add(
                line,
                f"Type code {code} is not a credit or debit transaction code, so the "
                "transaction's direction is unknown.",
            )
            return
        if account.places == 2:
            amount = Decimal(units).scaleb(-2)
            if units >= 100_000_000_000_000:
                self.issues.add(line, f"The transaction amount {units} is too large.")
        else:
            amount = self._money(units, account.places, line, "transaction amount")
        account.lines.append(
            new_line(
                line=line,
                booked=account.group.as_of,
                value_date=value_date,
                amount=amount if sign > 0 else -amount,
                type_code=code,
                is_returned_item=code in RETURNED_ITEM_CODES
                or (sign < 0 and looks_returned(-amount, description)),
                bank_ref=bank_ref,
                customer_ref=customer_ref,
                description=description,
            )
        )

    def simple_detail(self, line: int, payload: str, account: _Account) -> bool:
        """The common transaction detail (one physical record, funds type 0, 1, 2, Z, V
        or none, a known credit or debit code, cents) read with two string splits; False
        leaves the record to `detail`, which reads every form and reports problems."""
        parts = payload.split(",", 5)
        if len(parts) != 6:
            return False
        code, amount_text, funds_type, bank_ref, customer_ref, text = parts
        value_date = None
        if funds_type == "V":
            parts = payload.split(",", 7)
            if len(parts) != 8:
                return False
            code, amount_text, _, value_text, time_text, bank_ref, customer_ref, text = parts
            value_date = _yymmdd(value_text)
            if value_date is None or not _time_ok(time_text):
                return False
        elif funds_type not in _SIMPLE_FUNDS:
            return False
        sign = _SIGNS.get(code)
        if (
            not sign
            or account.places != 2
            or not (amount_text.isascii() and amount_text.isdigit())
            or len(amount_text) > 14
            or "/" in bank_ref
            or "/" in customer_ref
        ):
            return False
        units = int(amount_text)
        account.total += units
        amount = Decimal(units).scaleb(-2)
        if text.endswith("/"):  # the row was right-stripped already
            text = text[:-1]
        statement_line = _new_object(StatementLine)
        statement_line.__dict__.update(  # see new_line(): the same, inlined for speed
            line=line,
            booked=account.group.as_of,
            value_date=value_date,
            amount=amount if sign > 0 else -amount,
            type_code=code,
            # By its type code, or by its wording when the bank used a general debit code.
            is_returned_item=code in RETURNED_ITEM_CODES
            or (sign < 0 and looks_returned(-amount, text)),
            bank_ref=bank_ref.strip(),
            customer_ref=customer_ref.strip(),
            description=text.strip(),
        )
        account.lines.append(statement_line)
        return True

    def account_trailer(self, line: int, cursor: _Cursor, account: _Account) -> None:
        total_text, count_text = cursor.field() or "", cursor.field() or ""
        total = _signed(total_text)
        name = f"account {account.number}" if account.number else "the account"
        where = f"account trailer (49) of {name}"
        statement = (len(self.statements),)  # the statement this trailer closes
        if total is None:
            self.issues.add(line, f'The account control total "{total_text}" is not a number.')
            account.group.total_known = False
        elif account.total_known and total != account.total:
            self.issues.discrepancy(
                line,
                "control_total",
                where=where,
                expected=total,
                found=account.total,
                amount=Decimal(account.total - total).scaleb(-account.places).quantize(CENT),
                statements=statement,
                message=f"The account trailer (49) gives a control total of {total} for {name} "
                f"(line {account.line}), but its records add up to {account.total}.",
            )
        if not count_text.isdigit():
            self.issues.add(line, f'The account record count "{count_text}" is not a number.')
        elif int(count_text) != (records := self.records_read - account.first_record + 1):
            self.issues.discrepancy(
                line,
                "record_count",
                where=where,
                expected=int(count_text),
                found=records,
                statements=statement,
                message=f"The account trailer (49) counts {int(count_text)} records for {name} "
                f"(line {account.line}), but it has {records}.",
            )
        group = account.group
        group.total += account.total if total is None else total
        group.accounts += 1
        group_no = group.number
        created = self.created.strftime("%Y%m%d%H%M") if self.created else ""
        self.statements.append(
            Statement(
                line=account.line,
                account_number=account.number,
                currency=account.currency,
                statement_id=f"{created}-{self.file_id}/{group_no}/{account.number}",
                start=group.as_of,
                end=group.as_of,
                opening_balance=account.opening,
                closing_balance=account.closing,
                lines=tuple(account.lines),
            )
        )

    def group_trailer(self, line: int, cursor: _Cursor, group: _Group) -> None:
        total_text = cursor.field() or ""
        accounts_text = cursor.field() or ""
        count_text = cursor.field() or ""
        total = self._control_total(line, total_text, "group")
        where = f"group trailer (98) of the group on line {group.line}"
        statements = range(group.first_statement, len(self.statements))
        if total is None:
            self.total_known = False
        elif group.total_known and total != group.total:
            self.issues.discrepancy(
                line,
                "control_total",
                where=where,
                expected=total,
                found=group.total,
                amount=Decimal(group.total - total)
                .scaleb(-currency_decimals(group.currency))
                .quantize(CENT),
                statements=statements,
                message=f"The group trailer (98) gives a control total of {total} for the group "
                f"that starts on line {group.line}, but its account trailers add up to "
                f"{group.total}.",
            )
        self._control_count(
            line,
            accounts_text,
            "number of accounts",
            group.accounts,
            kind="account_count",
            where=where,
            statements=statements,
            mismatch=lambda counted: (
                f"The group trailer (98) counts {counted} accounts for the group "
                f"that starts on line {group.line}, but it has {group.accounts}."
            ),
        )
        records = self.records_read - group.first_record + 1
        self._control_count(
            line,
            count_text,
            "group record count",
            records,
            kind="record_count",
            where=where,
            statements=statements,
            mismatch=lambda counted: (
                f"The group trailer (98) counts {counted} records for the group "
                f"that starts on line {group.line}, but it has {records}."
            ),
        )
        self.file_total += group.total if total is None else total
        self.total_known = self.total_known and group.total_known

    def file_trailer(self, line: int, cursor: _Cursor) -> None:
        total_text = cursor.field() or ""
        groups_text = cursor.field() or ""
        count_text = cursor.field() or ""
        total = self._control_total(line, total_text, "file")
        where = "file trailer (99)"
        statements = range(len(self.statements))
        if total is not None and self.total_known and total != self.file_total:
            currencies = {s.currency for s in self.statements}
            places = currency_decimals(currencies.pop()) if len(currencies) == 1 else None
            self.issues.discrepancy(
                line,
                "control_total",
                where=where,
                expected=total,
                found=self.file_total,
                amount=None
                if places is None
                else Decimal(self.file_total - total).scaleb(-places).quantize(CENT),
                statements=statements,
                message=f"The file trailer (99) gives a control total of {total}, but the group "
                f"trailers add up to {self.file_total}.",
            )
        self._control_count(
            line,
            groups_text,
            "number of groups",
            self.groups,
            kind="group_count",
            where=where,
            statements=statements,
            mismatch=lambda counted: (
                f"The file trailer (99) counts {counted} groups, but the file has {self.groups}."
            ),
        )
        self._control_count(
            line,
            count_text,
            "file record count",
            self.records_read,
            kind="record_count",
            where=where,
            statements=statements,
            mismatch=lambda counted: (
                f"The file trailer (99) counts {counted} records, but the file "
                f"has {self.records_read}."
            ),
        )

    def _control_total(self, line: int, text: str, level: str) -> int | None:
        """A trailer's control total, or None (and the problem noted) when it is not a
        number."""
        total = _signed(text)
        if total is None:
            self.issues.add(line, f'The {level} control total "{text}" is not a number.')
        return total

    def _control_count(
        self,
        line: int,
        text: str,
        what: str,
        expected: int,
        *,
        kind: str,
        where: str,
        statements: range,
        mismatch: Callable[[int], str],
    ) -> None:
        """Check a trailer's count against what the file holds: a count that is not a
        number cannot be read; one that differs is a discrepancy, worded by
        `mismatch(counted)`."""
        if not text.isdigit():
            self.issues.add(line, f'The {what} "{text}" is not a number.')
        elif int(text) != expected:
            self.issues.discrepancy(
                line,
                kind,
                where=where,
                expected=int(text),
                found=expected,
                statements=statements,
                message=mismatch(int(text)),
            )

    # -- structure --------------------------------------------------------------------

    def _unclosed_account(self, line: int, code: str) -> None:
        account = self.account
        if account is not None:
            name = f"account {account.number}" if account.number else "the account"
            self.issues.add(
                line,
                f"A {_RECORD_NAMES[code]} ({code}) comes before the account trailer (49) of "
                f"{name}, which starts on line {account.line}.",
            )
            self.account = None
        self.skipping_account = False

    def _unclosed_group(self, line: int, code: str) -> None:
        if self.group is not None:
            self.issues.add(
                line,
                f"A {_RECORD_NAMES[code]} ({code}) comes before the group trailer (98) of the "
                f"group that starts on line {self.group.line}.",
            )
            self.group = None

    def record(self, code: str, line: int, segments: list[str]) -> None:
        physical = len(segments)
        if self.done:
            if not self.after_end_reported:
                self.issues.add(
                    line, "There are records after the file trailer (99); the file must end there."
                )
                self.after_end_reported = True
            return
        cursor = _Cursor(segments)
        if code == "16":
            if self.account is not None:
                self.detail(line, cursor, self.account)
            elif not self.skipping_account:
                self.issues.add(
                    line, "A transaction detail (16) must follow an account identifier (03)."
                )
        elif code == "03":
            self._unclosed_account(line, code)
            if self.group is None:
                self.issues.add(line, "An account identifier (03) must follow a group header (02).")
                self.skipping_account = True
                return
            self.account = self.account_header(line, cursor, self.group)
            self.account.first_record = self.records_read - physical + 1
        elif code == "49":
            if self.account is not None:
                self.account_trailer(line, cursor, self.account)
                self.account = None
            elif not self.skipping_account:
                self.issues.add(
                    line, "An account trailer (49) must close an account identifier (03)."
                )
            self.skipping_account = False
        elif code == "02":
            self._unclosed_account(line, code)
            self._unclosed_group(line, code)
            self.group_header(line, cursor)
            assert self.group is not None
            self.group.first_record = self.records_read - physical + 1
        elif code == "98":
            self._unclosed_account(line, code)
            if self.group is None:
                self.issues.add(line, "A group trailer (98) must close a group header (02).")
                return
            self.group_trailer(line, cursor, self.group)
            self.group = None
        elif code == "99":
            self._unclosed_account(line, code)
            self._unclosed_group(line, code)
            self.file_trailer(line, cursor)
            self.done = True
        elif code == "01":
            self.issues.add(line, "A second file header (01): a file has only one.")
        elif code == "88":
            self.issues.add(line, "A continuation (88) must follow the record it continues.")
        else:
            self.issues.add(
                line,
                f'"{code}" is not a BAI2 record code (01, 02, 03, 16, 49, 88, 98 or 99).',
            )

    def finish(self, last_line: int) -> None:
        if self.done:
            return
        if self.account is not None:
            name = f"Account {self.account.number}" if self.account.number else "The account"
            self.issues.add(
                self.account.line,
                f"{name} has no account trailer (49): the file ends inside it.",
            )
        self.issues.add(
            last_line,
            "The file ends without a file trailer (99): it looks cut short. "
            "Download it again from the bank.",
        )


def _payload(row: str) -> str:
    return row[3:] if row[2:3] == "," else row[2:]


_RECORD_STARTS = frozenset(f"{code}," for code in _RECORD_NAMES)
# A "/" ends a record's fields; on a line that holds several records, the next one starts
# after it (spaces of padding between them allowed).
_NEXT_RECORD = re.compile(r"/\s*(?=(?:01|02|03|16|49|88|98|99),)")
# The text of a transaction detail (16), and of the continuations (88) of one, may hold "/"
# and commas, so after text only what is unmistakably the start of a record begins the
# next one.
_CLEAR_RECORD_START = (
    r"16,\d{3},|88,|49,[+-]?\d+,\d+/|98,[+-]?\d+,\d+,\d+/"
    r"|99,[+-]?\d+,\d+,\d+/|03,[^,/\s]+,|02,[^,/]*,[^,/]*,\d,"
)
_NEXT_AFTER_TEXT = re.compile(rf"/\s*(?={_CLEAR_RECORD_START})")
_CLEAR_START = re.compile(_CLEAR_RECORD_START)
_SLASH_INSIDE = re.compile(r"/\s*\S")  # a "/" with more after it on the line


def _split_records(row: str, after_text: bool) -> tuple[list[str], bool]:
    """The records on one physical record: usually one; several where a bank writes them
    one after the other, each ended by "/" (as moov-io/bai2 reads them). `after_text`:
    the record before this one was a transaction detail or its continuation, so an 88
    that starts the row continues text. Returns the records and whether the last is text."""
    records = []
    while True:
        code = row[:2]
        text = code == "16" or (code == "88" and after_text)
        slash = row.find("/")
        if slash < 0 or slash == len(row) - 1:
            records.append(row)
            return records, text
        found = (_NEXT_AFTER_TEXT.search if text else _NEXT_RECORD.match)(row, slash)
        if found is None:
            records.append(row)
            return records, text
        records.append(row[: found.start() + 1])
        row = row[found.end() :]
        after_text = text


def _physical_records(row: str, length: int) -> list[str]:
    """A line holding fixed-length physical records back to back (a blocked file: the
    header's physical record length, often 80, each record padded with spaces) cut into
    them; any other line as it is. Cut only where every piece starts with a record code
    and the piece before it ends in padding or "/", or the piece is unmistakably a record
    (a transaction's text may fill its physical record to the last character)."""
    if length < 10 or len(row) <= length:
        return [row]
    pieces = [row[start : start + length] for start in range(0, len(row), length)]
    for before, after in itertools.pairwise(pieces):
        if after[:3] not in _RECORD_STARTS:
            return [row]
        if not (before.endswith(("/", " ")) or _CLEAR_START.match(after)):
            return [row]
    return [piece.rstrip() for piece in pieces]


def _record_length(header_row: str) -> int:
    """The physical record length the file header (01) declares, or 0."""
    fields = header_row.split("/", 1)[0].split(",")
    length = fields[6].strip() if len(fields) > 6 else ""
    return int(length) if length.isdigit() and len(length) <= 4 else 0


def _logical_rows(rows: list[str], first: int) -> list[tuple[int, int, str]]:
    """(physical line, record on the line or 0 when it holds one, text) of every record
    from the file header on, blank lines left out."""
    length = _record_length(rows[first])
    if not any(_SLASH_INSIDE.search(row) for row in rows) and (
        not length or max(map(len, rows)) <= length
    ):
        # One record to every line, as nearly every bank writes: nothing to cut.
        return [(number, 0, row) for number, row in enumerate(rows[first:], first + 1) if row]
    out: list[tuple[int, int, str]] = []
    after_text = False
    for index in range(first, len(rows)):
        row = rows[index]
        if not row:
            continue
        slash = row.find("/")
        if (slash < 0 or slash == len(row) - 1) and (not length or len(row) <= length):
            out.append((index + 1, 0, row))  # the common case: one record on the line
            after_text = row[:2] == "16" or (row[:2] == "88" and after_text)
            continue
        records: list[str] = []
        for piece in _physical_records(row, length):
            found, after_text = _split_records(piece, after_text)
            records.extend(record.rstrip() for record in found)
        records = [record for record in records if record]
        if len(records) == 1:
            out.append((index + 1, 0, records[0]))
        else:
            out.extend((index + 1, number, record) for number, record in enumerate(records, 1))
    return out


def parse_bai2(text: str) -> ParsedFile:
    """Parse a whole BAI2 file (text starting with "01,"), or raise UploadRefused."""
    rows = [raw.rstrip() for raw in text.split("\n")]  # CR and padding at the end dropped
    parser = _Bai2Parser()
    first = next((index for index, row in enumerate(rows) if row), None)
    if first is None or not rows[first].startswith("01"):
        parser.issues.add((first or 0) + 1, "A BAI2 file must start with a file header (01).")
        raise parser.issues.refusal()
    items = _logical_rows(rows, first)
    count = len(items)
    index = 0
    last_line = first + 1
    records = 0
    simple_detail = parser.simple_detail
    issues = parser.issues
    while index < count:
        line, number, row = items[index]
        is_header = index == 0
        index += 1
        last_line = line
        code = row[:2]
        payload = _payload(row)
        records += 1
        if index < count and items[index][2][:2] == "88" and code != "88":
            segments = [payload]
            while index < count and items[index][2][:2] == "88":
                segments.append(_payload(items[index][2]))
                last_line = items[index][0]
                index += 1
            records += len(segments) - 1
        else:
            account = parser.account
            if code == "16" and account is not None and simple_detail(line, payload, account):
                continue
            segments = [payload]
        parser.records_read = records
        issues.current = (line, number) if number else None
        if is_header:
            parser.file_header(line, _Cursor(segments))
            continue
        parser.record(code, line, segments)
    issues.current = None
    parser.finish(last_line)
    if not parser.issues and not parser.statements:
        parser.issues.add(None, "The file holds no accounts.")
    parser.issues.raise_if_any()
    return ParsedFile(
        format="bai2",
        file_id=parser.file_id,
        created=parser.created,
        statements=tuple(parser.statements),
        record_count=records,
        discrepancies=tuple(parser.issues.discrepancies),
    )


# --- Sample files ------------------------------------------------------------------------

_SAMPLE_CREDITS = ("115", "142", "165", "175", "195", "301")
_SAMPLE_DEBITS = ("451", "455", "475", "495", "555", "698")
_SAMPLE_WORDS = (
    "COUNTER DEPOSIT",
    "LOCKBOX",
    "UTILITY PAYMENT",
    "ACH, BATCH",
    "CITY OF KENT",
    "WIRE FROM VENDOR",
    "PAYROLL",
    "CHECK PAID",
)


def bai2_sample(*, lines: int, account_number: str, business_date: date, seed: int) -> bytes:
    """A valid BAI2 file for one account on `business_date` with `lines` transaction
    details (16 records: credits and debits, mixed funds types, some with 88 text
    continuations), its summary balances and correct 49/98/99 trailers. Deterministic
    for a given seed. For tests and benchmarks."""
    rng = random.Random(seed)
    as_of = business_date.strftime("%y%m%d")
    created = business_date + timedelta(days=1)
    details: list[str] = []
    detail_total = credits = debits = 0
    credit_count = debit_count = 0
    for number in range(1, lines + 1):
        credit = rng.random() < 0.6
        code = rng.choice(_SAMPLE_CREDITS if credit else _SAMPLE_DEBITS)
        units = rng.randint(1, 2_500_000)
        if credit:
            credits += units
            credit_count += 1
        else:
            debits += units
            debit_count += 1
        detail_total += units
        pick = rng.random()
        if pick < 0.15:
            funds = f"V,{as_of},1200"
        elif pick < 0.2:
            third = units // 3
            funds = f"S,{third},{third},{units - 2 * third}"
        elif pick < 0.23:
            funds = f"D,2,0,{units // 2},1,{units - units // 2}"
        else:
            funds = rng.choice(("0", "1", "Z", ""))
        words = rng.choice(_SAMPLE_WORDS)
        bank_ref = f"{seed % 1000:03d}{number:09d}"
        customer_ref = f"{number:07d}" if rng.random() < 0.7 else ""
        if rng.random() < 0.15:
            details.append(f"16,{code},{units},{funds},{bank_ref},{customer_ref}/")
            details.append(f"88,{words} REF {number}")
            details.append(f"88,ITEM {rng.randint(1, 9999)} OF BATCH {number // 100}/")
        else:
            details.append(f"16,{code},{units},{funds},{bank_ref},{customer_ref},{words} {number}/")
    opening = rng.randint(1_000_000, 900_000_000)
    closing = opening + credits - debits
    account = [
        f"03,{account_number},USD,010,{opening},,,015,{closing},,/",
        f"88,100,{credits},{credit_count},,400,{debits},{debit_count},/",
    ]
    account_total = opening + closing + credits + debits + detail_total
    account_records = len(account) + len(details) + 1
    out = [
        f"01,KENTBANK,CITYKENT,{created:%y%m%d},0600,{seed},80,,2/",
        f"02,CITYKENT,KENTBANK,1,{as_of},2400,USD,2/",
        *account,
        *details,
        f"49,{account_total},{account_records}/",
        f"98,{account_total},1,{account_records + 2}/",
        f"99,{account_total},1,{account_records + 4}/",
    ]
    return ("\n".join(out) + "\n").encode("ascii")
