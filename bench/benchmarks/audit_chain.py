"""The audit chain's costs: on the receipt hot path, and verifying a million events.

(a) `kent_cs.audit_chain_receipt_post`: receipts posted by `receipt_post` in-process, one
cashier, one transaction each, with the chain triggers on (every receipt's history
events, its journal entry and lines get their links at commit) against the same with
the chain triggers switched off on every chained table (ALTER TABLE ... DISABLE TRIGGER),
in the same run, in alternating chunks. Target: chained at least 0.85 of unchained.

(b) `kent_cs.audit_chain_verify_1m`: verifying the chain of an event table of 1,000,000
rows (`chain_verify`, which recomputes every digest in SQL: the chain read in order with
a window function, joined to the table, every row's content hashed) against one raw SQL
scan of the same rows that reads each row's whole content (`sum(length(t::text))`): the
least work a check of every row's content can do. Target: at most 3x. The table is the
receipt history (`cashiering_receiptevent`), grown with copies of a real event and
chained by the backfill the migration uses; a scan that only counts rows is reported as a
detail.
"""

import time
import uuid

from django.db import connection, transaction

from audit.chain_sql import set_chain_triggers
from audit.selectors_chain import chain_verify
from bench.benchmarks import cashiering_fixtures as fixtures
from bench.benchmarks.cashiering_posting import payment
from bench.registry import Context, Result, benchmark
from bench.timing import median
from cashiering.selectors.counter import tender_types_active
from cashiering.services.receipts import receipt_post

RECEIPTS_PER_CHUNK = 150
CHUNKS = 4  # per repetition, each side
POST_TARGET = 0.85
EVENTS = 1_000_000
VERIFY_TARGET = 3.0
EVENT_TABLE = "cashiering_receiptevent"


class Counter:
    def __init__(self) -> None:
        fixtures.counter_reference()
        (self.cashier,) = fixtures.cashiers(1)
        self.accounts = fixtures.posting_accounts(0, 400)
        self.tender_types = {t.code: t for t in tender_types_active()}
        self.serial = 0

    def post(self, count: int, tag: str) -> float:
        """Post `count` receipts back to back; returns the seconds they took."""
        payments = []
        for _ in range(count):  # built before the clock starts
            payments.append(
                payment(self.serial, self.accounts[self.serial % len(self.accounts)], tag)
            )
            self.serial += 1
        start = time.perf_counter()
        for pay in payments:
            lines, tenders = pay.service_inputs(self.tender_types)
            receipt_post(
                session=self.cashier.session,
                payer_name=pay.payer_name,
                lines=lines,
                tenders=tenders,
                idempotency_key=uuid.uuid4(),
                user=self.cashier.user,
                memo=pay.memo,
            )
        return time.perf_counter() - start


@benchmark(
    "kent_cs.audit_chain_receipt_post",
    "receipt_post with the audit chain vs with its triggers off, 1 cashier",
)
def audit_chain_receipt_post(ctx: Context) -> Result:
    counter = Counter()
    per_chunk = ctx.count(RECEIPTS_PER_CHUNK, minimum=20)
    counter.post(per_chunk, "warmup-chained")
    set_chain_triggers(False)
    counter.post(per_chunk, "warmup-unchained")
    set_chain_triggers(True)
    rates: dict[str, list[float]] = {"chained": [], "unchained": []}
    try:
        for _rep in range(ctx.repeat):
            seconds = {"chained": 0.0, "unchained": 0.0}
            for number in range(CHUNKS):
                order = ("chained", "unchained") if number % 2 == 0 else ("unchained", "chained")
                for side in order:
                    set_chain_triggers(side == "chained")
                    seconds[side] += counter.post(per_chunk, f"bench-{side}")
            for side, spent in seconds.items():
                rates[side].append(CHUNKS * per_chunk / spent)
    finally:
        set_chain_triggers(True)
    return Result(
        measured=median(rates["chained"]),
        limit=median(rates["unchained"]),
        units="receipts/s",
        target=POST_TARGET,
        details={
            "receipts_per_side": ctx.repeat * CHUNKS * per_chunk,
            "chained_rates": [round(r, 1) for r in rates["chained"]],
            "unchained_rates": [round(r, 1) for r in rates["unchained"]],
        },
    )


def grow_event_table(total: int) -> int:
    """Make the receipt history `total` rows, chained from the first: copies of a real
    event (numbers and amounts varied), then the chain rebuilt by the backfill."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(f"SELECT count(*), max(pgh_id) FROM {EVENT_TABLE}")
        have, top = cursor.fetchone()
        if have == 0:
            raise RuntimeError("No receipt event to copy: post a receipt first.")
        cursor.execute(
            f"""
            INSERT INTO {EVENT_TABLE}
            SELECT r.*
            FROM (SELECT * FROM {EVENT_TABLE} ORDER BY pgh_id LIMIT 1) e,
                 generate_series(1, %(add)s) g,
                 -- In FROM, so the record is built once per row, not once per column.
                 LATERAL jsonb_populate_record(
                     NULL::{EVENT_TABLE},
                     to_jsonb(e) || jsonb_build_object(
                         'pgh_id', %(top)s + g,
                         'payer_name', 'Bench Payer ' || g,
                         'memo', 'bench verify ' || g)) r
            """,
            {"top": top, "add": max(0, total - have)},
        )
        cursor.execute("DELETE FROM audit_chainlink WHERE chain = %s", [EVENT_TABLE])
        cursor.execute("DELETE FROM audit_chainhead WHERE chain = %s", [EVENT_TABLE])
        cursor.execute("SELECT audit_chain_backfill(%s, 'pgh_id')", [EVENT_TABLE])
        (linked,) = cursor.fetchone()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {EVENT_TABLE}")
        cursor.execute("VACUUM ANALYZE audit_chainlink")
    return linked


def timed_scan(sql: str) -> float:
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql)
        cursor.fetchall()
    return time.perf_counter() - start


@benchmark(
    "kent_cs.audit_chain_verify_1m",
    "verifying 1,000,000 chained events vs one SQL scan reading them",
)
def audit_chain_verify(ctx: Context) -> Result:
    counter = Counter()
    counter.post(5, "events-to-copy")
    total = ctx.count(EVENTS, minimum=1000)
    build_start = time.perf_counter()
    linked = grow_event_table(total)
    build_seconds = time.perf_counter() - build_start
    scan_sql = f"SELECT count(*), sum(length(t::text)) FROM {EVENT_TABLE} t"
    count_sql = f"SELECT count(*) FROM {EVENT_TABLE}"
    verify_seconds: list[float] = []
    scan_seconds: list[float] = []
    count_seconds: list[float] = []
    timed_scan(scan_sql)  # warm: the same pages cached for both sides
    chain_verify(tables=[EVENT_TABLE])
    reports = []
    for number in range(max(ctx.repeat, 3)):
        order = ("verify", "scan") if number % 2 == 0 else ("scan", "verify")
        for side in order:
            if side == "scan":
                scan_seconds.append(timed_scan(scan_sql))
                count_seconds.append(timed_scan(count_sql))
            else:
                start = time.perf_counter()
                reports.append(chain_verify(tables=[EVENT_TABLE]).chains[0])
                verify_seconds.append(time.perf_counter() - start)
    if not all(r.verifies and r.links == linked for r in reports):
        raise RuntimeError(f"The chain of {EVENT_TABLE} did not verify: {reports[-1]}")
    return Result(
        measured=median(verify_seconds),
        limit=median(scan_seconds),
        units="s",
        target=VERIFY_TARGET,
        higher_is_better=False,
        details={
            "events": linked,
            "verify_seconds": [round(s, 3) for s in verify_seconds],
            "scan_seconds": [round(s, 3) for s in scan_seconds],
            "count_only_seconds": round(median(count_seconds), 3),
            "verify_vs_count_only": round(median(verify_seconds) / median(count_seconds), 2),
            "backfill_seconds_for_all_events": round(build_seconds, 1),
        },
    )
