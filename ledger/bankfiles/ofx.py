"""OFX bank and credit card statements: OFX 1.x (SGML, with unclosed elements such as
`<TRNAMT>-12.00`) and OFX 2.x (XML).

OFX has no returned-item code. A debit is taken as a returned deposit (NSF, chargeback)
when its TRNTYPE is not a fee and its NAME or MEMO says so ("DEPOSITED ITEM RETURNED",
"RETURNED CHECK", "NSF", "CHARGEBACK"), but not when the wording is the bank's fee for the
return ("RETURNED CHECK FEE"): see `_common.looks_returned`.
"""

import html
import re
from datetime import UTC, date, datetime, timedelta, timezone

from kent_cs.uploads.results import UploadIssue, UploadRefused

from ._common import (
    Element,
    Issues,
    decimal_amount,
    is_currency,
    join_text,
    looks_returned,
    new_line,
)
from .types import ParsedFile, Statement, StatementLine

__all__ = ["file_id_from_header", "is_ofx_sgml", "parse_ofx_sgml", "parse_ofx_tree"]

_HEADER = re.compile(r"\s*OFXHEADER\s*:", re.IGNORECASE)
_TAG = re.compile(r"<(/?)([A-Za-z0-9_.]+)\s*>")
_DATETIME = re.compile(
    r"(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?"
    r"\s*(?:\[\s*([+-]?\d{1,2}(?:\.\d+)?)(?::[^\]]*)?\])?"
)
_FEE_TYPES = frozenset({"FEE", "SRVCHG"})


def is_ofx_sgml(text: str) -> bool:
    return bool(_HEADER.match(text))


def _parse_datetime(text: str) -> tuple[date, datetime] | None:
    """An OFX date-time: the date as written, and the moment (GMT unless an offset is
    given, as the OFX specification says)."""
    match = _DATETIME.fullmatch(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        written = date(int(year), int(month), int(day))
        hours = float(offset) if offset else 0.0
        zone = timezone(timedelta(hours=hours))
        moment = datetime(
            written.year,
            written.month,
            written.day,
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=zone if offset else UTC,
        )
    except ValueError:
        return None
    return written, moment


def _sgml_tree(text: str) -> Element:
    """OFX 1.x SGML as an element tree. An element followed by text is a leaf that
    needs no closing tag; an element followed by another tag is an aggregate, closed by
    its end tag (which also closes any leaves left open inside it)."""
    start = text.find("<")
    if start < 0:
        raise UploadRefused("The OFX file has a header but no <OFX> body.")
    line = text.count("\n", 0, start) + 1
    root = Element("#document", line)
    stack = [root]
    opened: Element | None = None  # the element just opened, until we know its kind
    position = start
    for match in _TAG.finditer(text, start):
        between = text[position : match.start()]
        line_before = line
        line += between.count("\n")
        if opened is not None:
            content = between.strip()
            if content:
                opened.text = html.unescape(content)
                stack.pop()  # a leaf: closed by its content
                if match.group(1) and match.group(2).upper() == opened.tag:
                    opened = None
                    position = match.end()
                    continue
            opened = None
        elif between.strip():
            raise UploadRefused(
                [
                    UploadIssue(
                        line_before, None, "Text outside any OFX element: the file is damaged."
                    )
                ]
            )
        name = match.group(2).upper()
        if match.group(1):
            # An end tag closes the nearest open element of that name and all inside it.
            for depth in range(len(stack) - 1, 0, -1):
                if stack[depth].tag == name:
                    del stack[depth:]
                    break
        else:
            element = Element(name, line)
            stack[-1].children.append(element)
            stack.append(element)
            opened = element
        position = match.end()
    rest = text[position:].strip()
    if opened is not None and rest:
        opened.text = html.unescape(rest)
        stack.pop()
    elif rest:
        raise UploadRefused(
            [UploadIssue(line, None, "Text after the OFX body: the file is damaged.")]
        )
    if len(stack) > 1:
        unclosed = stack[1]
        for element in stack[1:]:
            if element.tag in ("OFX", "STMTTRNRS", "STMTRS", "CCSTMTRS", "BANKTRANLIST"):
                unclosed = element
        raise UploadRefused(
            [
                UploadIssue(
                    unclosed.line,
                    None,
                    f"The <{unclosed.tag}> that starts here is never closed: the file ends "
                    "early and looks cut short. Download it again from the bank.",
                )
            ]
        )
    if not root.children or root.children[0].tag != "OFX":
        raise UploadRefused("The OFX file has no <OFX> element.")
    return root.children[0]


def _description(name: str, memo: str) -> str:
    """NAME and MEMO, once each: banks often repeat NAME (or a cut-down NAME) in MEMO."""
    if name in memo:
        return memo.strip()
    if memo in name:
        return name.strip()
    return join_text(name, memo)


class _OfxParser:
    def __init__(self) -> None:
        self.issues = Issues()
        self.fitids: dict[tuple[str, str], int] = {}
        self.index = 0  # the index the statement being read will have in the file

    def moment(self, element: Element, tag: str, *, required: bool) -> tuple[date, datetime] | None:
        value_element = element.find(tag)
        if value_element is None or not value_element.text.strip():
            if required:
                self.issues.add(element.line, f"<{tag}> is missing.")
            return None
        parsed = _parse_datetime(value_element.text)
        if parsed is None:
            self.issues.add(
                value_element.line,
                f'<{tag}> "{value_element.text.strip()}" is not an OFX date (YYYYMMDD...).',
            )
        return parsed

    def transaction(self, element: Element, account: str, currency: str) -> StatementLine | None:
        problems = self.issues.count
        posted = self.moment(element, "DTPOSTED", required=True)
        available = self.moment(element, "DTAVAIL", required=False)
        amount_text = element.value("TRNAMT")
        amount = None
        if not amount_text:
            self.issues.add(element.line, "The transaction has no amount (<TRNAMT>).")
        else:
            try:
                amount = decimal_amount(amount_text, currency, "amount")
            except ValueError as exc:
                self.issues.add(element.line, str(exc))
        other_currency = element.value("CURRENCY/CURSYM")
        if other_currency and other_currency != currency:
            self.issues.add(
                element.line,
                f"The transaction is in {other_currency} on an account kept in {currency}.",
            )
        fitid = element.value("FITID")
        if fitid:
            first = self.fitids.setdefault((account, fitid), element.line)
            if first != element.line:
                self.issues.add(
                    element.line,
                    f"The transaction id (FITID) {fitid} was already used on line {first}; "
                    "each transaction must have its own.",
                )
        if self.issues.count > problems or posted is None or amount is None:
            return None
        trntype = element.value("TRNTYPE").upper()
        name = element.value("NAME") or element.value("PAYEE/NAME")
        memo = element.value("MEMO")
        return new_line(
            line=element.line,
            booked=posted[0],
            value_date=available[0] if available else None,
            amount=amount,
            type_code=trntype,
            is_returned_item=trntype not in _FEE_TYPES and looks_returned(amount, name, memo),
            bank_ref=fitid,
            customer_ref=element.value("CHECKNUM") or element.value("REFNUM"),
            description=_description(name, memo),
        )

    def statement(
        self, response: Element, statement: Element, account_tag: str
    ) -> Statement | None:
        problems = self.issues.count
        account = statement.value(f"{account_tag}/ACCTID")
        if not account:
            self.issues.add(
                statement.line, f"The statement has no account number (<{account_tag}><ACCTID>)."
            )
        currency = statement.value("CURDEF").upper()
        if not is_currency(currency):
            self.issues.add(
                statement.line,
                f'The statement currency (<CURDEF>) "{currency}" is not a currency code.',
            )
            return None
        transactions = statement.find("BANKTRANLIST")
        lines = []
        start = end = None
        if transactions is not None:
            start = self.moment(transactions, "DTSTART", required=False)
            end = self.moment(transactions, "DTEND", required=False)
            for element in transactions.findall("STMTTRN"):
                line = self.transaction(element, account, currency)
                if line is not None:
                    lines.append(line)
        closing = None
        balance = statement.find("LEDGERBAL")
        if balance is not None and balance.value("BALAMT"):
            try:
                closing = decimal_amount(balance.value("BALAMT"), currency, "ledger balance")
            except ValueError as exc:
                self.issues.add(balance.line, str(exc))
        if self.issues.count > problems:
            return None
        booked = [line.booked for line in lines]
        first = start[0] if start else (min(booked) if booked else None)
        last = end[0] if end else (max(booked) if booked else None)
        if first is None or last is None:
            self.issues.add(
                statement.line,
                "The statement does not say which dates it covers (<DTSTART>, <DTEND>).",
            )
            return None
        missing = [tag for tag, given in (("DTSTART", start), ("DTEND", end)) if not given]
        if missing:
            # ofxparse reads such a statement too; the period is then only what its
            # transactions show, which a person confirms before it is imported.
            tags = " and ".join(f"<{tag}>" for tag in missing)
            where = transactions if transactions is not None else statement
            self.issues.discrepancy(
                where.line,
                "dates",
                where=f"statement of account {account}",
                expected=f"{tags} in <BANKTRANLIST>",
                found=f"{first:%Y-%m-%d} to {last:%Y-%m-%d} from the transactions",
                statements=(self.index,),
                message=f"The statement of account {account} does not give "
                f"{'its dates' if len(missing) == 2 else tags} ({tags} missing): the "
                f"period {first:%Y-%m-%d} to {last:%Y-%m-%d} is taken from its transactions.",
            )
        return Statement(
            line=statement.line,
            account_number=account,
            currency=currency,
            statement_id=f"{account}:{first:%Y%m%d}-{last:%Y%m%d}",
            start=first,
            end=max(first, last),
            opening_balance=None,
            closing_balance=closing,
            lines=tuple(lines),
        )


_STATEMENT_KINDS = (
    ("BANKMSGSRSV1", "STMTTRNRS", "STMTRS", "BANKACCTFROM"),
    ("CREDITCARDMSGSRSV1", "CCSTMTTRNRS", "CCSTMTRS", "CCACCTFROM"),
)


def parse_ofx_tree(root: Element, *, file_id: str, record_count: int) -> ParsedFile:
    parser = _OfxParser()
    statements: list[Statement] = []
    for message_set, response_tag, statement_tag, account_tag in _STATEMENT_KINDS:
        for messages in root.findall(message_set):
            for response in messages.findall(response_tag):
                statement = response.find(statement_tag)
                if statement is None:
                    code = response.value("STATUS/CODE")
                    detail = response.value("STATUS/MESSAGE")
                    reason = (
                        f"the bank reports error {code}" if code not in ("", "0") else "it is empty"
                    )
                    parser.issues.add(
                        response.line,
                        f"The statement response holds no statement: {reason}"
                        + (f" ({detail})." if detail else "."),
                    )
                    continue
                parser.index = len(statements)
                parsed = parser.statement(response, statement, account_tag)
                if parsed is not None:
                    statements.append(parsed)
    if not parser.issues and not statements:
        parser.issues.add(root.line, "The OFX file holds no bank or credit card statement.")
    parser.issues.raise_if_any()
    server = root.find("SIGNONMSGSRSV1/SONRS/DTSERVER")
    created = _parse_datetime(server.text) if server is not None else None
    return ParsedFile(
        format="ofx",
        file_id=file_id,
        created=created[1] if created else None,
        statements=tuple(statements),
        record_count=record_count,
        discrepancies=tuple(parser.issues.discrepancies),
    )


_FILE_UID = re.compile(r"NEWFILEUID\s*[:=]\s*\"?([^\"\s?]+)", re.IGNORECASE)


def file_id_from_header(text: str) -> str:
    """NEWFILEUID from an OFX 1.x header or OFX 2.x processing instruction."""
    match = _FILE_UID.search(text[:2000])
    return "" if not match or match.group(1).upper() == "NONE" else match.group(1)


def parse_ofx_sgml(text: str, *, record_count: int, file_id: str | None = None) -> ParsedFile:
    return parse_ofx_tree(
        _sgml_tree(text),
        file_id=file_id_from_header(text) if file_id is None else file_id,
        record_count=record_count,
    )
