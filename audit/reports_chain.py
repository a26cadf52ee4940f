"""The daily digest of the audit chain as a document (PDF and print view) and as CSV."""

from datetime import date

from audit.models import ChainDigest
from kent_cs.reports import DATETIME, INTEGER, Column, csv_bytes

DIGEST_DOCUMENT = "audit/chain/digest_document.html"

DIGEST_COLUMNS = [
    Column("day"),
    Column("chain"),
    Column("last_seq", INTEGER),
    Column("last_digest"),
    Column("row_count", INTEGER),
    Column("written_at", DATETIME),
]


def digest_filename(day: date, extension: str) -> str:
    return f"audit-chain-digest-{day:%Y-%m-%d}.{extension}"


def digest_csv(records: list[ChainDigest]) -> bytes:
    """The CSV `verify_audit_chain --digest-file` reads back: one row per chain."""
    return csv_bytes(
        DIGEST_COLUMNS,
        (
            [r.day.isoformat(), r.chain, r.last_seq, r.last_digest, r.row_count, r.written_at]
            for r in records
        ),
    )


def digest_document(day: date, records: list[ChainDigest]) -> dict:
    return {
        "day": day,
        "records": records,
        "total_links": sum(r.last_seq for r in records),
        "day_links": sum(r.row_count for r in records),
    }
