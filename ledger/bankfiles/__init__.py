"""Bank statement files (BAI2, camt.053, OFX, mapped CSV) read into plain values.

    parsed = parse_statement_file(upload)  # or csv_mapping=CsvMapping(...) for CSV
    for statement in parsed.statements:
        for line in statement.lines:
            ...

Pure parsing: no models, no database. The file is read through `kent_cs.uploads` (size
limit, type by content, text encoding), its format is decided by its content, and it is
parsed whole: either every statement comes back, or `UploadRefused` lists every problem
found with its line. A file that reads but does not agree with itself (trailer totals and
counts, balances, missing dates) comes back with `discrepancies`; deciding whether to
import it is for the caller.
"""

import re

from kent_cs.uploads.files import HEAD_BYTES, UploadSource, detect_kind, read_bytes
from kent_cs.uploads.results import UploadIssue, UploadRefused
from kent_cs.uploads.text import read_text

from ._common import FEE_WORDS, parse_xml, refuse_declarations
from .bai2 import bai2_sample, parse_bai2
from .camt053 import is_camt053, parse_camt053
from .csvmap import parse_mapped_csv
from .ofx import file_id_from_header, is_ofx_sgml, parse_ofx_sgml, parse_ofx_tree
from .types import DISCREPANCY_KINDS, CsvMapping, Discrepancy, ParsedFile, Statement, StatementLine

__all__ = [
    "DISCREPANCY_KINDS",
    "FEE_WORDS",
    "FORMATS",
    "MAX_STATEMENT_BYTES",
    "CsvMapping",
    "Discrepancy",
    "ParsedFile",
    "Statement",
    "StatementLine",
    "bai2_sample",
    "parse_statement_file",
]

# Bank statement files are bigger than most uploads: a month of a busy account in BAI2
# runs to a few MB. A constant, not a setting, so the limit is the same everywhere.
MAX_STATEMENT_BYTES = 20 * 1024 * 1024
FORMATS = ("bai2", "camt053", "ofx", "csv")

_UNKNOWN = (
    "This is not a bank statement file that can be read: expected BAI2 (starting with "
    '"01,"), ISO 20022 camt.053 XML, or OFX'
)


_XML_PROLOGUE = re.compile(r"\s*(?:<\?[^>]*\?>\s*)*", re.DOTALL)
_OFX_START = re.compile(r"<OFX>", re.IGNORECASE)


def _sgml_ofx_body(text: str) -> str | None:
    """The text with its XML prologue blanked (lines kept), when it is an XML prologue
    followed by an <OFX> body; else None."""
    start = _OFX_START.search(text)
    if start is None or not _XML_PROLOGUE.fullmatch(text, 0, start.start()):
        return None
    prologue = text[: start.start()]
    return re.sub(r"[^\n]", " ", prologue) + text[start.start() :]


def _line_count(text: str) -> int:
    return text.rstrip("\n").count("\n") + 1


def _first_line(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first if len(first) <= 60 else first[:57] + "..."


def parse_statement_file(
    source: UploadSource,
    *,
    csv_mapping: CsvMapping | None = None,
    max_bytes: int | None = None,
) -> ParsedFile:
    """Read and parse a whole bank statement file, or raise UploadRefused.

    The format is decided by content: BAI2 starts with a "01," record; camt.053 is XML in
    a camt.053 namespace (any version); OFX is 1.x SGML ("OFXHEADER:") or 2.x XML (<OFX>);
    anything else is read as CSV (or XLSX) when `csv_mapping` is given, and refused
    otherwise. `max_bytes` defaults to MAX_STATEMENT_BYTES.
    """
    limit = MAX_STATEMENT_BYTES if max_bytes is None else max_bytes
    data = read_bytes(source, max_bytes=limit)
    kind = detect_kind(data[:HEAD_BYTES])
    if kind == "zip" and csv_mapping is not None:
        return parse_mapped_csv(data, csv_mapping, max_bytes=limit)  # an XLSX export
    upload = read_text(data, max_bytes=limit)
    text = upload.text.removeprefix("\ufeff")
    start = text.lstrip()
    if start.startswith("01,"):
        return parse_bai2(text)
    if is_ofx_sgml(start):
        return parse_ofx_sgml(text, record_count=_line_count(text))
    if upload.kind == "xml":
        refuse_declarations(text)
        try:
            root = parse_xml(text)
        except UploadRefused:
            body = _sgml_ofx_body(text)
            if body is None:
                raise
            # An OFX 2 header (the XML declaration and <?OFX ...?>) on an OFX 1 SGML
            # body, as some banks send and ofxparse reads: read the body as SGML.
            return parse_ofx_sgml(
                body, record_count=_line_count(text), file_id=file_id_from_header(text)
            )
        if is_camt053(root):
            return parse_camt053(root, record_count=_line_count(text))
        if root.tag == "OFX":
            return parse_ofx_tree(
                root, file_id=file_id_from_header(text), record_count=_line_count(text)
            )
        what = f"{root.namespace} " if root.namespace else ""
        raise UploadRefused(
            f"{_UNKNOWN}. This XML file is a <{root.tag}> document {what}instead."
            + (
                " camt.052 and camt.054 are account reports and notifications, not "
                "statements: ask the bank for camt.053."
                if "camt.05" in root.namespace
                else ""
            )
        )
    if csv_mapping is not None:
        return parse_mapped_csv(data, csv_mapping, max_bytes=limit)
    raise UploadRefused(
        [
            UploadIssue(
                None,
                None,
                f"{_UNKNOWN}; a CSV file needs a column mapping. "
                f'Its first line reads: "{_first_line(text)}".',
            )
        ]
    )
