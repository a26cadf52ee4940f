"""Reading the audit chain: verifying each chain in SQL and reading the daily digest.

A chain verifies when every link's digest equals sha256(the previous link's stored digest
|| its row's current content), its places run 1, 2, 3 ... without a gap, every link's row
is still there, every row of the table has a link, and the chain head is its last link.
Each link is checked against the stored digest before it (a window function over the
chain), so one changed row breaks exactly its own link and the report names that row.
"""

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from audit.chain_sql import CONTENT_SQL, OUTPUT_SETTINGS, chained_tables
from audit.models import ChainDigest

MISSING_ROW = "row deleted"
MISSING_LINKS = "links missing"
CHANGED = "row changed"
UNLINKED = "row without a link"
HEAD = "chain head moved"


@dataclass(frozen=True)
class Break:
    """The first broken link of a chain and what is wrong with it."""

    kind: str
    seq: int | None
    row_id: int | None
    stored_digest: str = ""
    recomputed_digest: str = ""
    content: dict[str, Any] | None = None
    missing_from: int | None = None  # first missing place of a gap in the chain
    missing_to: int | None = None

    @property
    def description(self) -> str:
        if self.kind == MISSING_ROW:
            return f"Link {self.seq} names row {self.row_id}, which is no longer in the table."
        if self.kind == MISSING_LINKS:
            return (
                f"Links {self.missing_from} to {self.missing_to} are missing before link "
                f"{self.seq} (row {self.row_id})."
            )
        if self.kind == CHANGED:
            return (
                f"Row {self.row_id} (link {self.seq}) no longer has the content it was "
                "chained with."
            )
        if self.kind == UNLINKED:
            return f"Row {self.row_id} is in the table but was never chained."
        return f"The chain head is not the last link ({self.seq})."


@dataclass(frozen=True)
class ChainReport:
    table: str
    links: int
    breaks: int
    first_break: Break | None
    unlinked_rows: int = 0
    last_digest: str = ""

    @property
    def verifies(self) -> bool:
        return self.first_break is None


@dataclass(frozen=True)
class Verification:
    chains: list[ChainReport]
    digest_mismatches: list[ChainDigest] = field(default_factory=list)

    @property
    def verifies(self) -> bool:
        return all(c.verifies for c in self.chains) and not self.digest_mismatches

    @property
    def broken(self) -> list[ChainReport]:
        return [c for c in self.chains if not c.verifies]

    @property
    def links(self) -> int:
        return sum(c.links for c in self.chains)


def _checked_links_sql(table: str, pk: str) -> str:
    """Each link with its row and whether it holds: one pass over the chain and the table.
    OFFSET 0 keeps the subquery whole, so each digest is recomputed once."""
    content = CONTENT_SQL.format(row="t")
    return f"""
        SELECT l.seq, l.row_id, l.digest, l.prev_seq, t."{pk}" AS found_id,
               sha256(l.prev || convert_to({content}, 'UTF8')) AS recomputed
        FROM (
            SELECT seq, row_id, digest,
                   coalesce(lag(digest) OVER w, ''::bytea) AS prev,
                   coalesce(lag(seq) OVER w, 0) AS prev_seq
            FROM audit_chainlink WHERE chain = %(chain)s
            WINDOW w AS (ORDER BY seq)
        ) l
        FULL JOIN "{table}" t ON t."{pk}" = l.row_id
        OFFSET 0
    """


def _link_detail_sql(table: str, pk: str) -> str:
    """One link, the one before it, its row and the digest the row gives now."""
    content = CONTENT_SQL.format(row="t")
    return f"""
        SELECT l.seq, l.row_id, l.digest, coalesce(p.seq, 0), t."{pk}",
               sha256(coalesce(p.digest, ''::bytea) || convert_to({content}, 'UTF8')),
               to_jsonb(t)::text
        FROM audit_chainlink l
        LEFT JOIN LATERAL (
            SELECT seq, digest FROM audit_chainlink p
            WHERE p.chain = l.chain AND p.seq < l.seq ORDER BY p.seq DESC LIMIT 1
        ) p ON true
        LEFT JOIN "{table}" t ON t."{pk}" = l.row_id
        WHERE l.chain = %(chain)s AND l.seq = %(seq)s
    """


BAD = "(found_id IS NULL OR prev_seq <> seq - 1 OR recomputed <> digest)"


def _content(text: str) -> dict[str, Any]:
    """A row's current content, with its numbers as written (10.00 stays 10.00)."""
    return json.loads(text, parse_float=Decimal)


def _verify_table(cursor, table: str, pk: str) -> ChainReport:
    checked = _checked_links_sql(table, pk)
    cursor.execute(
        f"""
        SELECT count(seq), count(*) FILTER (WHERE seq IS NOT NULL AND {BAD}),
               min(seq) FILTER (WHERE seq IS NOT NULL AND {BAD}),
               count(*) FILTER (WHERE seq IS NULL), min(found_id) FILTER (WHERE seq IS NULL),
               max(seq), (SELECT seq FROM audit_chainhead WHERE chain = %(chain)s),
               (SELECT digest FROM audit_chainhead WHERE chain = %(chain)s)
        FROM ({checked}) c
        """,
        {"chain": table},
    )
    links, breaks, first_bad, unlinked, first_unlinked, last_seq, head_seq, head_digest = (
        cursor.fetchone()
    )
    head_hex = bytes(head_digest).hex() if head_digest is not None else ""
    first: Break | None = None
    if first_bad is not None:
        cursor.execute(_link_detail_sql(table, pk), {"chain": table, "seq": first_bad})
        seq, row_id, digest, prev_seq, found_id, recomputed, content = cursor.fetchone()
        if found_id is None:
            first = Break(MISSING_ROW, seq, row_id, stored_digest=bytes(digest).hex())
        elif prev_seq != seq - 1:
            first = Break(
                MISSING_LINKS,
                seq,
                row_id,
                stored_digest=bytes(digest).hex(),
                missing_from=prev_seq + 1,
                missing_to=seq - 1,
            )
        else:
            first = Break(
                CHANGED,
                seq,
                row_id,
                stored_digest=bytes(digest).hex(),
                recomputed_digest=bytes(recomputed).hex(),
                content=_content(content),
            )
    elif unlinked:
        cursor.execute(
            f'SELECT to_jsonb(t)::text FROM "{table}" t WHERE t."{pk}" = %s', [first_unlinked]
        )
        (content,) = cursor.fetchone()
        first = Break(
            UNLINKED,
            None,
            first_unlinked,
            content=_content(content),
        )
    elif (last_seq or 0) != (head_seq or 0):
        first = Break(HEAD, head_seq, None)
    last_hex = ""
    if last_seq:
        cursor.execute(
            "SELECT digest FROM audit_chainlink WHERE chain = %s AND seq = %s", [table, last_seq]
        )
        last_hex = bytes(cursor.fetchone()[0]).hex()
        if first is None and last_hex != head_hex:
            first = Break(HEAD, last_seq, None, stored_digest=head_hex, recomputed_digest=last_hex)
    return ChainReport(
        table=table,
        links=links,
        breaks=breaks + unlinked + (1 if first is not None and first.kind == HEAD else 0),
        first_break=first,
        unlinked_rows=unlinked,
        last_digest=last_hex,
    )


def digest_mismatches() -> list[ChainDigest]:
    """Daily digest records that the chain no longer matches (its link at `last_seq` has
    another digest, or is gone)."""
    return list(
        ChainDigest.objects.raw(
            """
            SELECT d.* FROM audit_chaindigest d
            LEFT JOIN audit_chainlink l ON l.chain = d.chain AND l.seq = d.last_seq
            WHERE d.last_seq > 0 AND (l.digest IS NULL OR encode(l.digest, 'hex') <> d.last_digest)
            ORDER BY d.day, d.chain
            """
        )
    )


def chain_verify(*, tables: list[str] | None = None) -> Verification:
    """Verify every chain (or those named), a constant number of queries per chain."""
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if outermost:
            # One snapshot for every chain (each query is consistent on its own anyway:
            # a row and its link are committed together).
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        # Dates and numbers written as they were when hashed.
        # And no JIT: compiling the check's expressions costs more than it saves.
        settings = [*OUTPUT_SETTINGS, ("jit", "off")]
        cursor.execute(
            "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in settings),
            [part for setting in settings for part in setting],
        )
        reports = [
            _verify_table(cursor, table, pk)
            for table, pk in chained_tables(cursor)
            if tables is None or table in tables
        ]
    return Verification(chains=reports, digest_mismatches=digest_mismatches())


def compare_kept_digest(rows: list[dict[str, str]]) -> list[tuple[dict[str, str], str]]:
    """Rows of an exported daily digest (as read back from its CSV) that the chain no longer
    matches, each with the digest the chain now holds at that place ("" when gone)."""
    wanted = [(r["chain"], int(r["last_seq"])) for r in rows if int(r["last_seq"]) > 0]
    if not wanted:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT w.chain, w.seq, encode(l.digest, 'hex')
            FROM unnest(%s::text[], %s::bigint[]) AS w(chain, seq)
            LEFT JOIN audit_chainlink l ON l.chain = w.chain AND l.seq = w.seq
            """,
            [[c for c, _ in wanted], [s for _, s in wanted]],
        )
        now = {(c, s): d or "" for c, s, d in cursor.fetchall()}
    return [
        (r, now[(r["chain"], int(r["last_seq"]))])
        for r in rows
        if int(r["last_seq"]) > 0 and now[(r["chain"], int(r["last_seq"]))] != r["last_digest"]
    ]


def read_digest_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def digest_for_day(*, day: date) -> list[ChainDigest]:
    """The digest of `day`: the latest record of each chain written for that day."""
    return list(
        ChainDigest.objects.filter(day=day)
        .order_by("chain", "-last_seq")
        .distinct("chain")
        .select_related("written_by")
    )


def digest_days(*, limit: int = 30) -> list[date]:
    return list(
        ChainDigest.objects.order_by("-day").values_list("day", flat=True).distinct()[:limit]
    )
