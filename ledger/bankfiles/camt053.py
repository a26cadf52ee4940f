"""ISO 20022 camt.053 (Bank to Customer Statement), any version from 001.02 on.

Elements are read by local name, so the namespace's version does not matter. Each Stmt
is a statement; each booked Ntry a line. An account's currency is its Acct/Ccy, else the
currency of its booked balances; an entry or balance in another currency is refused. A
statement whose transaction summary (TxsSummry) or balances (opening plus entries against
closing) do not add up is read, with those discrepancies for a person to approve.
"""

import re
from datetime import date, datetime
from decimal import Decimal

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

__all__ = ["RETURN_SUBFAMILY_CODES", "is_camt053", "parse_camt053"]

_NAMESPACE = re.compile(r"camt\.053\.001\.\d+")

# ISO 20022 bank transaction sub-family codes for money taken back because a payment or
# deposited item was returned, reversed or unpaid.
RETURN_SUBFAMILY_CODES = frozenset(
    {
        "RRTN",  # reversal due to payment return
        "RPCR",  # reversal due to payment cancellation request
        "UPDD",  # reversal due to return/unpaid direct debit
        "PRDD",  # reversal due to payment reversal
        "UPCQ",  # unpaid cheque
        "CQRV",  # cheque reversal
    }
)
# ISO 20022 external return reason codes a bank gives in RtrInf/Rsn/Cd (the common ones).
RETURN_REASONS = {
    "AC01": "incorrect account number",
    "AC04": "closed account",
    "AC06": "blocked account",
    "AG01": "transaction forbidden",
    "AM04": "insufficient funds",
    "AM05": "duplicate",
    "BE05": "unrecognised initiating party",
    "MD01": "no mandate",
    "MD06": "refund requested by the payer",
    "MS02": "refused by the payer",
    "MS03": "reason not specified",
    "RC01": "bank identifier incorrect",
    "RR04": "regulatory reason",
    "SL01": "specific service offered by the debtor agent",
}
_OPENING = ("OPBD", "PRCD")
_CLOSING = "CLBD"
_BOOKED = ("BOOK", "")


def is_camt053(root: Element) -> bool:
    return root.tag == "Document" and bool(_NAMESPACE.search(root.namespace))


def _date(text: str) -> date | None:
    """The date part of an ISO date or date-time, as the bank wrote it."""
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def _datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def _date_of(element: Element | None) -> tuple[date | None, str]:
    """A camt date choice (Dt or DtTm) as a date, with the text it was read from."""
    if element is None:
        return None, ""
    text = element.value("Dt") or element.value("DtTm")
    return _date(text), text


def _currency_of(element: Element) -> str:
    amount = element.find("Amt")
    return amount.attrs.get("Ccy", "").strip() if amount is not None else ""


def _status(entry: Element) -> str:
    status = entry.find("Sts")
    if status is None:
        return ""
    return (status.value("Cd") or status.value("Prtry") or status.text).strip()


def _type_code(entry: Element) -> tuple[str, str]:
    """The bank transaction code ("PMNT/RCDT/ESCT", or the proprietary code) and the
    ISO sub-family code ("" if none)."""
    for holder in (entry, *entry.findall("NtryDtls/TxDtls")):
        code = holder.find("BkTxCd")
        if code is None:
            continue
        domain = code.find("Domn")
        if domain is not None and domain.value("Cd"):
            subfamily = domain.value("Fmly/SubFmlyCd")
            parts = [domain.value("Cd"), domain.value("Fmly/Cd"), subfamily]
            return "/".join(part for part in parts if part), subfamily
        proprietary = code.value("Prtry/Cd")
        if proprietary:
            return proprietary, ""
    return "", ""


class _Camt053Parser:
    def __init__(self) -> None:
        self.issues = Issues()
        self.index = 0  # the index the statement being read will have in the file

    def amount(self, element: Element, currency: str, what: str) -> Decimal | None:
        """The signed amount of an element holding Amt and CdtDbtInd."""
        amount_element = element.find("Amt")
        if amount_element is None:
            self.issues.add(element.line, f"The {what} has no amount (Amt).")
            return None
        try:
            amount = decimal_amount(amount_element.text, currency, what)
        except ValueError as exc:
            self.issues.add(amount_element.line, str(exc))
            return None
        if amount < 0:
            self.issues.add(
                amount_element.line,
                f"The {what} is written with a sign; camt.053 amounts are unsigned and "
                "CdtDbtInd says credit or debit.",
            )
        indicator = element.value("CdtDbtInd")
        if indicator == "DBIT":
            return -amount
        if indicator != "CRDT":
            self.issues.add(
                element.line,
                f'The {what} has no credit/debit indicator (CRDT or DBIT): "{indicator}".',
            )
            return None
        return amount

    def entry(self, entry: Element, account_currency: str) -> StatementLine | None:
        currency = _currency_of(entry)
        if currency and currency != account_currency:
            self.issues.add(
                entry.line, f"The entry is in {currency} on an account kept in {account_currency}."
            )
            return None
        amount = self.amount(entry, account_currency, "entry amount")
        booked, booked_text = _date_of(entry.find("BookgDt"))
        value_date, value_text = _date_of(entry.find("ValDt"))
        if booked is None:
            where = f' "{booked_text}"' if booked_text else ""
            self.issues.add(
                entry.line, f"The entry's booking date{where} is missing or not a date."
            )
        if value_text and value_date is None:
            self.issues.add(entry.line, f'The entry\'s value date "{value_text}" is not a date.')
        if amount is None or booked is None:
            return None
        type_code, subfamily = _type_code(entry)
        reversal = entry.value("RvslInd").lower() in ("true", "1")
        details = entry.findall("NtryDtls/TxDtls")
        customer_ref = ""
        if len(details) == 1:
            end_to_end = details[0].value("Refs/EndToEndId")
            if end_to_end.upper() != "NOTPROVIDED":
                customer_ref = end_to_end
            customer_ref = customer_ref or details[0].value("RmtInf/Strd/CdtrRefInf/Ref")
        texts = [entry.value("AddtlNtryInf")]
        returned_with_reason = False
        for detail in details:
            texts.extend(line.text for line in detail.findall("RmtInf/Ustrd"))
            texts.append(detail.value("AddtlTxInf"))
            # Return information (RtrInf) names why an item came back: an ISO external
            # return reason code (AC04 closed account, AM04 insufficient funds...) or the
            # bank's own.
            back = detail.find("RtrInf")
            if back is not None:
                returned_with_reason = True
                reason = back.value("Rsn/Cd") or back.value("Rsn/Prtry")
                label = RETURN_REASONS.get(reason, "")
                texts.append(f"Return reason {reason}" + (f" ({label})" if label else ""))
                texts.extend(info.text for info in back.findall("AddtlInf"))
        return new_line(
            line=entry.line,
            booked=booked,
            value_date=value_date,
            amount=amount,
            type_code=type_code,
            # A reversal of a credit (RvslInd with DBIT) takes back money received: a
            # returned item; so does a debit coded as a return.
            is_returned_item=amount < 0
            and (
                reversal
                or subfamily in RETURN_SUBFAMILY_CODES
                or returned_with_reason
                or looks_returned(amount, *texts)
            ),
            bank_ref=entry.value("AcctSvcrRef"),
            customer_ref=customer_ref or entry.value("NtryRef"),
            description=join_text(*texts),
        )

    def summary(self, statement: Element, lines: list[StatementLine], name: str) -> None:
        """Check TxsSummry's counts and sums against the entries, where given."""
        where = f"transaction summary of statement {name}"
        summary = statement.find("TxsSummry")
        if summary is None:
            return
        net = summary.find("TtlNtries/TtlNetNtry")  # 001.03 on; 001.02 has TtlNetNtryAmt
        net_text = net.value("Amt") if net is not None else summary.value("TtlNtries/TtlNetNtryAmt")
        if net_text:
            holder = net if net is not None else summary.find("TtlNtries")
            assert holder is not None
            indicator = holder.value("CdtDbtInd")
            try:
                given = Decimal(net_text) * (-1 if indicator == "DBIT" else 1)
            except ArithmeticError:
                given = None
                self.issues.add(
                    holder.line, f'The summary net amount "{net_text}" is not a number.'
                )
            actual = sum((line.amount for line in lines), Decimal("0.00"))
            if given is not None and given != actual:
                self.issues.discrepancy(
                    holder.line,
                    "summary",
                    where=where,
                    expected=given,
                    found=actual,
                    amount=actual - given,
                    statements=(self.index,),
                    message=f"The transaction summary gives {given} as the net of the entries, "
                    f"but they net to {actual}.",
                )
        credits = [line.amount for line in lines if line.amount > 0]
        debits = [-line.amount for line in lines if line.amount < 0]
        checks = (
            ("TtlNtries", "entries", len(lines), sum(credits) + sum(debits)),
            ("TtlCdtNtries", "credit entries", len(credits), sum(credits)),
            ("TtlDbtNtries", "debit entries", len(debits), sum(debits)),
        )
        for tag, label, count, total in checks:
            part = summary.find(tag)
            if part is None:
                continue
            given_count = part.value("NbOfNtries")
            if given_count and given_count != str(count):
                if not given_count.isdigit():
                    self.issues.add(
                        part.line, f'The summary count "{given_count}" is not a number.'
                    )
                    continue
                self.issues.discrepancy(
                    part.line,
                    "summary",
                    where=where,
                    expected=int(given_count),
                    found=count,
                    statements=(self.index,),
                    message=f"The transaction summary counts {given_count} {label}, but the "
                    f"statement has {count}.",
                )
            given_sum = part.value("Sum")
            if given_sum:
                try:
                    expected = Decimal(given_sum)
                except ArithmeticError:
                    self.issues.add(part.line, f'The summary sum "{given_sum}" is not a number.')
                    continue
                if expected != total:
                    self.issues.discrepancy(
                        part.line,
                        "summary",
                        where=where,
                        expected=expected,
                        found=total,
                        amount=total - expected,
                        statements=(self.index,),
                        message=f"The transaction summary gives {expected} as the sum of the "
                        f"{label}, but they add up to {total}.",
                    )

    def statement(self, element: Element) -> Statement | None:
        issues_before = self.issues.count
        statement_id = element.value("Id")
        account = element.find("Acct")
        number = ""
        if account is not None:
            number = account.value("Id/IBAN") or account.value("Id/Othr/Id")
        if not number:
            self.issues.add(element.line, "The statement has no account number (Acct/Id).")
        balances = element.findall("Bal")
        balance_codes = {
            balance: balance.value("Tp/CdOrPrtry/Cd") or balance.value("Tp/CdOrPrtry/Prtry")
            for balance in balances
        }
        currency = account.value("Ccy") if account is not None else ""
        if not currency:
            booked = [b for b, code in balance_codes.items() if code in (*_OPENING, _CLOSING)]
            currency = next((_currency_of(b) for b in booked if _currency_of(b)), "")
        if not currency:
            first_entry = element.find("Ntry")
            currency = _currency_of(first_entry) if first_entry is not None else ""
        if not is_currency(currency):
            self.issues.add(element.line, "The statement does not say the account's currency.")
            return None
        opening = closing = None
        for balance, code in balance_codes.items():
            balance_currency = _currency_of(balance)
            if balance_currency and balance_currency != currency:
                self.issues.add(
                    balance.line,
                    f"The {code or 'unnamed'} balance is in {balance_currency} on an account "
                    f"kept in {currency}.",
                )
                continue
            if code in _OPENING and (opening is None or code == "OPBD"):
                opening = self.amount(balance, currency, f"{code} balance")
            elif code == _CLOSING:
                closing = self.amount(balance, currency, f"{code} balance")
        lines = []
        for entry in element.findall("Ntry"):
            if _status(entry) not in _BOOKED:
                continue  # pending or information-only entries are not on the books
            line = self.entry(entry, currency)
            if line is not None:
                lines.append(line)
        if self.issues.count > issues_before:
            return None
        self.summary(element, lines, statement_id)
        if opening is not None and closing is not None:
            credits = sum((line.amount for line in lines if line.amount > 0), Decimal("0.00"))
            debits = -sum((line.amount for line in lines if line.amount < 0), Decimal("0.00"))
            computed = opening + credits - debits
            if computed != closing:
                self.issues.discrepancy(
                    element.line,
                    "balance",
                    where=f"balances of statement {statement_id}",
                    expected=closing,
                    found=computed,
                    amount=computed - closing,
                    statements=(self.index,),
                    message=f"Statement {statement_id}: the opening balance {opening} plus "
                    f"credits {credits} minus debits {debits} is {computed}, but the closing "
                    f"balance is {closing}.",
                )
        period = self.period(element, lines)
        if period is None:
            return None
        start, end = period
        return Statement(
            line=element.line,
            account_number=number,
            currency=currency,
            statement_id=statement_id,
            start=start,
            end=end,
            opening_balance=opening,
            closing_balance=closing,
            lines=tuple(lines),
        )

    def period(self, element: Element, lines: list[StatementLine]) -> tuple[date, date] | None:
        """FrToDt where given; else from the booking dates, the closing balance's date
        and the statement's creation date."""
        start = _date(element.value("FrToDt/FrDtTm") or element.value("FrToDt/FrDt"))
        end = _date(element.value("FrToDt/ToDtTm") or element.value("FrToDt/ToDt"))
        booked = [line.booked for line in lines]
        closing_date = next(
            (
                _date_of(balance.find("Dt"))[0]
                for balance in element.findall("Bal")
                if balance.value("Tp/CdOrPrtry/Cd") == _CLOSING
            ),
            None,
        )
        created = _date(element.value("CreDtTm"))
        start = start or (min(booked) if booked else None) or closing_date or created
        end = end or closing_date or (max(booked) if booked else None) or created
        if start is None or end is None:
            self.issues.add(element.line, "The statement does not say which dates it covers.")
            return None
        return start, max(start, end)


def parse_camt053(root: Element, *, record_count: int) -> ParsedFile:
    """The statements of a camt.053 document, or UploadRefused with every problem."""
    parser = _Camt053Parser()
    report = root.find("BkToCstmrStmt")
    if report is None:
        parser.issues.add(root.line, "The camt.053 document has no BkToCstmrStmt.")
        raise parser.issues.refusal()
    statements: list[Statement] = []
    for element in report.findall("Stmt"):
        parser.index = len(statements)
        statement = parser.statement(element)
        if statement is not None:
            statements.append(statement)
    if not parser.issues and not statements:
        parser.issues.add(report.line, "The file holds no statements (Stmt).")
    parser.issues.raise_if_any()
    return ParsedFile(
        format="camt053",
        file_id=report.value("GrpHdr/MsgId"),
        created=_datetime(report.value("GrpHdr/CreDtTm")),
        statements=tuple(statements),
        record_count=record_count,
        discrepancies=tuple(parser.issues.discrepancies),
    )
