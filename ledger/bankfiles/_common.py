"""Helpers shared by the statement parsers: collecting problems, amounts by currency,
the returned-item wording heuristic, and a small line-numbered XML tree."""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from xml.parsers import expat

from kent_cs.uploads.results import MAX_REPORTED_ISSUES, UploadIssue, UploadRefused

from .types import Discrepancy, StatementLine

CENT = Decimal("0.01")
# MoneyField holds 14 digits, 2 of them cents.
MAX_AMOUNT = Decimal("1000000000000")

# ISO 4217 minor units where they are not 2.
_CURRENCY_DECIMALS = {
    **dict.fromkeys(("JPY", "KRW", "CLP", "ISK", "VND", "PYG", "UGX", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}
_CURRENCY = re.compile(r"[A-Z]{3}")


def currency_decimals(currency: str) -> int:
    return _CURRENCY_DECIMALS.get(currency, 2)


def is_currency(text: str) -> bool:
    return bool(_CURRENCY.fullmatch(text))


class Issues:
    """Problems found while parsing, kept in file order up to the reporting limit, and
    discrepancies: figures that the file gives and its records do not come to. A file
    with problems is refused (its discrepancies listed with them); one with only
    discrepancies is read, and they go with it."""

    def __init__(self, limit: int = MAX_REPORTED_ISSUES):
        self.limit = limit
        self.items: list[UploadIssue] = []
        self.count = 0
        self.discrepancies: list[Discrepancy] = []
        # (line, record) of the record being read, where its line holds several records:
        # problems on that line then say which record they are in.
        self.current: tuple[int, int] | None = None

    def _record(self, line: int | None) -> int | None:
        current = self.current
        return current[1] if current is not None and current[0] == line else None

    def discrepancy(
        self,
        line: int | None,
        kind: str,
        *,
        where: str,
        expected: object,
        found: object,
        message: str,
        statements: tuple[int, ...] | range = (),
        difference: object = "",
        amount: Decimal | None = None,
    ) -> None:
        numbers = (int, Decimal)
        if difference == "" and isinstance(expected, numbers) and isinstance(found, numbers):
            difference = found - expected  # type: ignore[operator]
        self.discrepancies.append(
            Discrepancy(
                line=line,
                kind=kind,
                where=where,
                expected=str(expected),
                found=str(found),
                difference=str(difference),
                message=message,
                statements=tuple(statements),
                amount=amount,
                record=self._record(line),
            )
        )

    def add(self, line: int | None, message: str) -> None:
        self.count += 1
        if len(self.items) < self.limit:
            self.items.append(UploadIssue(line, None, message, record=self._record(line)))

    def __bool__(self) -> bool:
        return self.count > 0

    def refusal(self) -> UploadRefused:
        room = max(self.limit - len(self.items), 0)
        listed = [
            UploadIssue(d.line, None, d.message, record=d.record) for d in self.discrepancies[:room]
        ]
        count = self.count + len(self.discrepancies)
        issues = sorted(
            [*self.items, *listed],
            key=lambda issue: (issue.line is not None, issue.line or 0, issue.record or 0),
        )
        if count > len(issues):
            more = count - len(issues)
            issues.append(UploadIssue(None, None, f"And {more:,} more problems not listed here."))
        return UploadRefused(issues, problem_count=count)

    def raise_if_any(self) -> None:
        if self.count:
            raise self.refusal()


_DECIMAL_TEXT = re.compile(r"([+-]?)(\d{1,20})(?:[.,](\d*))?")


def decimal_amount(text: str, currency: str, what: str = "amount") -> Decimal:
    """A written amount ("-12.00", "8.85", "2700") as a Decimal of 2 places; refuses
    text that is not a number, more decimals than the currency has, and sizes that do
    not fit a money column. Raises ValueError with the reason."""
    match = _DECIMAL_TEXT.fullmatch(text.strip())
    if not match:
        raise ValueError(f'The {what} "{text.strip()}" is not a number.')
    sign, whole, fraction = match.groups()
    fraction = fraction or ""
    if "," in text and "." in text:
        raise ValueError(f'The {what} "{text.strip()}" is not a number.')
    places = currency_decimals(currency)
    if len(fraction.rstrip("0")) > places:
        raise ValueError(
            f'The {what} "{text.strip()}" has more than {places} decimal places, '
            f"the most {currency} amounts have."
        )
    amount = Decimal(f"{sign}{whole}.{fraction or '0'}").quantize(CENT)
    if abs(amount) >= MAX_AMOUNT:
        raise ValueError(f'The {what} "{text.strip()}" is too large.')
    return amount


# A debit is taken for a returned deposit when its wording says so and it is not the
# bank's fee for the return ("RETURNED CHECK FEE" is a fee, not the returned check).
_RETURNED_WORDS = re.compile(
    r"\b(?:DEPOSITED\s+ITEM\s+RETURNED|RETURN(?:ED)?\s+(?:DEPOSIT(?:ED)?\s+)?"
    r"(?:ITEM|CHECK|CHEQUE|CHQ|DEPOSIT)|RE?TU?RN(?:ED)?\s+UNPAID|RTN?D?\s+(?:ITEM|CHK|CHQ|DEP)|"
    r"NSF|NON[-\s]?SUFFICIENT\s+FUNDS|INSUFFICIENT\s+FUNDS|CHARGE\s?BACK|UNPAID\s+(?:ITEM|CHEQUE|CHECK))\b",
    re.IGNORECASE,
)
FEE_WORDS = re.compile(r"\b(?:FEE|FEES|CHARGE|CHRG|CHG|SERVICE|SVC)\b", re.IGNORECASE)


def looks_returned(amount: Decimal, *texts: str) -> bool:
    """True for a debit whose wording names a returned deposit, NSF or chargeback."""
    if amount >= 0:
        return False
    text = " ".join(texts)
    return bool(_RETURNED_WORDS.search(text)) and not FEE_WORDS.search(text)


_new_object = object.__new__


def new_line(**fields: Any) -> StatementLine:
    """A StatementLine built without the frozen dataclass's per-field __setattr__ calls,
    which are most of the cost of parsing a 50,000-line file. Takes every field."""
    line = _new_object(StatementLine)
    line.__dict__.update(fields)
    return line


def join_text(*parts: str) -> str:
    return " ".join(part for part in (p.strip() for p in parts) if part)


# --- A line-numbered XML tree ------------------------------------------------------------


@dataclass(slots=True, eq=False)
class Element:
    """An XML or OFX element by local name (namespaces dropped), with its line."""

    tag: str
    line: int
    attrs: dict[str, str] = field(default_factory=dict)
    children: list["Element"] = field(default_factory=list)
    text: str = ""
    namespace: str = ""

    def find(self, path: str) -> "Element | None":
        node: Element | None = self
        for name in path.split("/"):
            if node is None:
                return None
            node = next((child for child in node.children if child.tag == name), None)
        return node

    def findall(self, path: str) -> list["Element"]:
        *parents, name = path.split("/")
        node = self.find("/".join(parents)) if parents else self
        return [child for child in node.children if child.tag == name] if node else []

    def iter(self, tag: str) -> Iterator["Element"]:
        for child in self.children:
            if child.tag == tag:
                yield child
            yield from child.iter(tag)

    def value(self, path: str) -> str:
        node = self.find(path)
        return node.text.strip() if node is not None else ""


_TRUNCATION_CODES = frozenset(
    expat.errors.codes[message]
    for message in (
        expat.errors.XML_ERROR_NO_ELEMENTS,
        expat.errors.XML_ERROR_UNCLOSED_TOKEN,
        expat.errors.XML_ERROR_PARTIAL_CHAR,
    )
)


class _XmlRefused(Exception):
    def __init__(self, line: int, message: str):
        self.line = line
        self.message = message


_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)\b", re.IGNORECASE)


def refuse_declarations(text: str) -> None:
    """Statement XML never declares a DTD or entities; one is refused outright, before
    any parsing, so that no entity can be expanded (the "billion laughs" attack)."""
    match = _DECLARATION.search(text)
    if match:
        line = text.count("\n", 0, match.start()) + 1
        raise UploadRefused(
            [
                UploadIssue(
                    line,
                    None,
                    f"The file declares an XML {match.group(1).upper()}, which bank statement "
                    "files never do, so it is refused.",
                )
            ]
        )


def parse_xml(text: str) -> Element:
    """The document's root element. Refuses XML that is not well-formed (saying where),
    and any DOCTYPE or ENTITY declaration."""
    refuse_declarations(text)
    parser = expat.ParserCreate(namespace_separator="}")
    stack: list[Element] = []
    texts: list[list[str]] = []
    root: list[Element] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        namespace, _, local = name.rpartition("}")
        element = Element(local, parser.CurrentLineNumber, attrs, namespace=namespace)
        if stack:
            stack[-1].children.append(element)
        else:
            root.append(element)
        stack.append(element)
        texts.append([])

    def end(name: str) -> None:
        element = stack.pop()
        element.text = "".join(texts.pop())

    def data(chars: str) -> None:
        if texts:
            texts[-1].append(chars)

    def declaration(*args: object) -> None:
        raise _XmlRefused(parser.CurrentLineNumber, "The file declares a DTD or an entity.")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    parser.StartDoctypeDeclHandler = declaration
    parser.EntityDeclHandler = declaration
    parser.buffer_text = True
    try:
        parser.Parse(text, True)
    except _XmlRefused as exc:
        raise UploadRefused([UploadIssue(exc.line, None, exc.message)]) from None
    except expat.ExpatError as exc:
        reason = expat.errors.messages[exc.code] if exc.code else str(exc)
        last_line = text.rstrip().count("\n") + 1
        if exc.code in _TRUNCATION_CODES and exc.lineno >= last_line:
            message = (
                f"The XML ends before it is complete ({reason}): the file looks cut short. "
                "Download it again from the bank."
            )
        else:
            message = f"The XML is not well-formed: {reason} (column {exc.offset + 1})."
        raise UploadRefused([UploadIssue(exc.lineno, None, message)]) from None
    return root[0]
