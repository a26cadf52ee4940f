"""Writing the daily digest of the audit chain: each chain's head at the end of a day."""

from datetime import date, timedelta

from django.db import connection, transaction
from django.utils import timezone

from audit.models import ChainDigest
from audit.selectors_chain import day_bounds


def chain_digest_write(*, day: date, user=None) -> list[ChainDigest]:
    """Record, for every chain, its last link as of the end of `day` (or now, for today)
    and how many links that day added. Writing again adds a record only for a chain that
    moved since; records are never changed."""
    start, end = day_bounds(day)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH heads AS (
                -- Each chain read backwards from its head: only the links after the day.
                SELECT h.chain, last.seq, last.digest FROM audit_chainhead h
                CROSS JOIN LATERAL (
                    SELECT seq, digest FROM audit_chainlink l
                    WHERE l.chain = h.chain AND l.linked_at < %(end)s
                    ORDER BY seq DESC LIMIT 1
                ) last
            ), counts AS (
                SELECT chain, count(*) AS n FROM audit_chainlink
                WHERE linked_at >= %(start)s AND linked_at < %(end)s GROUP BY chain
            )
            INSERT INTO audit_chaindigest
                (day, chain, last_seq, last_digest, row_count, written_at, written_by_id)
            SELECT %(day)s, h.chain, h.seq, encode(h.digest, 'hex'), coalesce(c.n, 0),
                   now(), %(user)s
            FROM heads h LEFT JOIN counts c USING (chain)
            ON CONFLICT (day, chain, last_seq) DO NOTHING
            """,
            {"start": start, "end": end, "day": day, "user": getattr(user, "pk", None)},
        )
    return list(ChainDigest.objects.filter(day=day).order_by("chain", "-last_seq"))


def chain_digest_daily() -> list[ChainDigest]:
    """Yesterday's digest, once: called by the worker every minute (AuditConfig)."""
    yesterday = timezone.localdate() - timedelta(days=1)
    if ChainDigest.objects.filter(day=yesterday).exists():
        return []
    return chain_digest_write(day=yesterday)
