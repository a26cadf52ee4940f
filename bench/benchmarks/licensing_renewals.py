"""The renewal run: invoices per second for 20,000 licenses, against the database floor.

Measured: the background task a technician's "start renewal run" enqueues
(`licensing.tasks.renewal_run_task`, called in-process), which runs
`licensing.renewals.renewal_run_execute` over every license due for year Y: select the
licenses of Y-1 without an invoice, price them from the schedules, number the invoices
and COPY them and their lines in, index them for the counter's search, batch by batch
(one transaction each) with the job's progress recorded after each batch. Each
repetition renews a population of its own: 20,000 businesses each holding one license
active for Y-1 (bench/benchmarks/licensing_fixtures.py: FTE from 0 to 420 so every fee
tier occurs, home occupations, rental housing per unit, contractors, a few exempt).

Limit, measured in the same run: the same rows written by hand, in batches of the same
size and with every trigger active (history per statement, status FSM, delete
protection, the unique and check constraints): per batch, the invoice numbers in one
UPDATE of the series row, the invoices by COPY, their ids read back, the lines by COPY
and the counter-search rows by COPY (the same rows the run leaves; without them the
cashier could not find an invoice; trigram index included). The values are computed
before the clock starts. COPY rather than INSERT ... VALUES because it is the fastest way
PostgreSQL loads rows: with INSERT as the floor the run, which COPYs, could beat its own
limit. The floor writes its invoices for the same licenses under another year (Y+100),
so it never collides with the run. Run and floor alternate which goes first.

Then the same run again must create nothing (idempotency), and the invoices, lines and
amounts the run wrote must equal the floor's.
"""

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from bench.benchmarks import licensing_fixtures as fixtures
from bench.registry import Context, Result, benchmark
from bench.timing import median, timed
from kent_cs.models import Job
from licensing.fees import BusinessFacts, compute_quote, load_schedules, renewal_fee_date
from licensing.models import (
    License,
    LicenseInvoice,
    LicenseInvoiceLine,
    LicenseType,
    RenewalRun,
    invoice_number,
    invoice_series,
    license_display_number,
)
from licensing.penalties import penalty_schedule_for_year
from licensing.renewals import DEFAULT_BATCH_SIZE, RENEWAL_JOB_KIND, RENEWAL_LICENSE_COLUMNS
from licensing.tasks import renewal_run_task

LICENSES = 20_000
WARMUP_LICENSES = 400
FLOOR_YEAR_OFFSET = 100
# Over the floor's statements the run adds, per batch: selecting the licenses due with
# their businesses (a join, and an anti-join on the year's invoices), pricing in Python,
# the counter-search rows as an INSERT ... ON CONFLICT instead of COPY, the job's
# progress, and the one-by-one renewal of the ~1% fully exempt licenses; once per run,
# counting what is due and loading the schedules. It measured 0.40-0.62 of the floor on
# the development machine (2 CPUs, load 3-10); 0.35 leaves room for that noise. A query
# per license would add 20,000 round trips, about the floor's whole time when quiet.
TARGET_RATIO = 0.35

_INVOICE_COPY = (
    "COPY licensing_licenseinvoice (number, year, seq, kind, license_id, business_id, "
    "schedule_id, issue_date, due_date, status, total, amount_due, paid_on, paid_receipt, "
    "license_updated, prior_status, cancelled_reason, renewal_run_id, created_by_id) "
    "FROM STDIN"
)
_LINE_COPY = (
    "COPY licensing_licenseinvoiceline (invoice_id, position, kind, label, fee_code, "
    "amount, amount_due, rule, penalty_base) FROM STDIN"
)
# The floor's invoice numbers were never indexed: plain COPY, no conflict to resolve.
_INDEX_COPY = (
    "COPY cashiering_payerindex (kind, ref, number, name, address, detail, search_text, "
    "is_active) FROM STDIN"
)


@dataclass(frozen=True)
class FloorInvoice:
    license_id: int
    business_id: int
    schedule_id: int
    total: Decimal
    lines: tuple[tuple, ...]  # (position, kind, label, fee_code, amount, rule, penalty_base)
    name: str
    address: str
    license_number: str


def _display(row: dict) -> tuple[str, str]:
    legal, trade = row["business__legal_name"], row["business__trade_name"]
    name = f"{legal} (DBA {trade})" if trade and trade.casefold() != legal.casefold() else legal
    street = ", ".join(
        p for p in (row["business__location_line1"], row["business__location_line2"]) if p
    )
    address = (
        f"{street}, {row['business__location_city']} {row['business__location_state']} "
        f"{row['business__location_zip']}"
    )
    return name, address


def floor_invoices(population: fixtures.Population) -> list[FloorInvoice]:
    """What the run will write for `population`, priced by the same fee code (before the
    clock starts)."""
    year = population.renewal_year
    type_ids = LicenseType.objects.filter(is_renewable=True).values_list("pk", flat=True)
    schedules = load_schedules(renewal_fee_date(year), type_ids)
    rows = (
        License.objects.filter(pk__in=population.license_ids)
        .order_by("pk")
        .values(*RENEWAL_LICENSE_COLUMNS)
    )
    found = []
    for row in rows:
        schedule = schedules[row["license_type_id"]]
        quote = compute_quote(
            schedule,
            BusinessFacts(
                fte=row["business__fte_employees"],
                ownership_type=row["business__ownership_type"],
                inside_city_limits=row["business__inside_city_limits"],
                gross_receipts=row["business__gross_receipts"],
            ),
            issue_date=renewal_fee_date(year),
            is_new=False,
            units=row["units"],
        )
        name, address = _display(row)
        found.append(
            FloorInvoice(
                license_id=row["pk"],
                business_id=row["business_id"],
                schedule_id=quote.schedule_id,
                total=quote.total,
                lines=tuple(
                    (n, q.kind, q.label, q.fee_code, q.amount, q.rule, q.penalty_base)
                    for n, q in enumerate(quote.lines, start=1)
                ),
                name=name,
                address=address,
                license_number=license_display_number(row["number"]),
            )
        )
    return found


def write_floor(invoices: list[FloorInvoice], *, year: int, user_id: int, batch: int) -> None:
    """The run's rows by hand: numbers, invoices, lines and index rows, batch by batch."""
    issue_date = timezone.localdate()
    due_date = penalty_schedule_for_year(year).due_date(year)
    series = invoice_series(year)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO kent_cs_numberseries (key, next_value) VALUES (%s, 1) "
            "ON CONFLICT (key) DO NOTHING",
            [series],
        )
    for start in range(0, len(invoices), batch):
        chunk = invoices[start : start + batch]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE kent_cs_numberseries SET next_value = next_value + %s "
                "WHERE key = %s RETURNING next_value - %s",
                [len(chunk), series, len(chunk)],
            )
            (first,) = cursor.fetchone()
            seqs = range(first, first + len(chunk))
            with cursor.copy(_INVOICE_COPY) as copy:
                for seq, inv in zip(seqs, chunk, strict=True):
                    paid = inv.total == 0
                    copy.write_row(
                        (
                            invoice_number(year, seq),
                            year,
                            seq,
                            "renewal",
                            inv.license_id,
                            inv.business_id,
                            inv.schedule_id,
                            issue_date,
                            due_date,
                            "paid" if paid else "open",
                            inv.total,
                            inv.total,
                            issue_date if paid else None,
                            "",
                            False,
                            "",
                            "",
                            None,
                            user_id,
                        )
                    )
            cursor.execute(
                "SELECT license_id, id FROM licensing_licenseinvoice "
                "WHERE year = %s AND seq BETWEEN %s AND %s",
                [year, seqs[0], seqs[-1]],
            )
            ids = dict(cursor.fetchall())
            with cursor.copy(_LINE_COPY) as copy:
                for inv in chunk:
                    invoice_id = ids[inv.license_id]
                    for position, kind, label, fee_code, amount, rule, base in inv.lines:
                        copy.write_row(
                            (
                                invoice_id,
                                position,
                                kind,
                                label,
                                fee_code,
                                amount,
                                amount,
                                rule,
                                base,
                            )
                        )
            with cursor.copy(_INDEX_COPY) as copy:
                for seq, inv in zip(seqs, chunk, strict=True):
                    number = invoice_number(year, seq)
                    detail = f"Business license {year} renewal ({inv.license_number})"
                    text = " ".join((number, inv.name, inv.address, detail)).lower()
                    copy.write_row(
                        (
                            "license",
                            number,
                            number,
                            inv.name,
                            inv.address,
                            detail,
                            text,
                            inv.total > 0,
                        )
                    )


@dataclass
class RunOutcome:
    run: RenewalRun
    job: Job
    seconds: float


def run_task(year: int, user) -> RunOutcome:
    """Start a run as renewal_run_start does (run, job) but call its task here, in-process,
    instead of enqueuing it for the worker."""
    run = RenewalRun.objects.create(year=year, started_by=user)
    job = Job.objects.create(
        kind=RENEWAL_JOB_KIND,
        title=f"Renewal invoices for {year}",
        created_by=user,
        params={"run": run.pk},
    )
    RenewalRun.objects.filter(pk=run.pk).update(job=job)
    seconds = timed(lambda: renewal_run_task.call(job.pk))
    run.refresh_from_db()
    job.refresh_from_db()
    if run.status != RenewalRun.Status.SUCCEEDED or job.status != Job.Status.SUCCEEDED:
        raise AssertionError(f"Renewal run {run.pk} ended {run.status}: {run.message}")
    return RunOutcome(run=run, job=job, seconds=seconds)


def written(year: int, license_ids: Iterable[int]) -> tuple[int, int, Decimal]:
    """(invoices, lines, total) written for `year` on these licenses."""
    ids = list(license_ids)
    invoices = LicenseInvoice.objects.filter(year=year, license_id__in=ids).aggregate(
        n=Count("pk"), total=Sum("total")
    )
    lines = LicenseInvoiceLine.objects.filter(
        invoice__year=year, invoice__license_id__in=ids
    ).count()
    return invoices["n"], lines, invoices["total"] or Decimal(0)


def analyze() -> None:
    """Fresh statistics for the bulk-loaded tables, as autovacuum would soon give them."""
    with connection.cursor() as cursor:
        for table in ("licensing_business", "licensing_license", "licensing_licenseinvoice"):
            cursor.execute(f"ANALYZE {table}")


@benchmark(
    "licensing.renewal_run",
    "renewal invoices/s, 20,000 licenses through the run's task vs COPY of the same rows",
)
def renewal_run(ctx: Context) -> Result:
    count = ctx.count(LICENSES, minimum=DEFAULT_BATCH_SIZE)
    user = ctx.user
    first_year = fixtures.next_free_year()
    warm = fixtures.population(
        ctx.count(WARMUP_LICENSES, minimum=50), license_year=first_year, seed=first_year
    )
    # Two years apart: a fully exempt license renewed by one repetition's run moves on a
    # year and must not fall due in the next one's.
    populations = [
        fixtures.population(count, license_year=year, seed=year)
        for year in range(first_year + 2, first_year + 2 + 2 * ctx.repeat, 2)
    ]
    analyze()
    # Warm up both sides: imports, the schedules' queries, plans and caches.
    run_task(warm.renewal_year, user)
    write_floor(
        floor_invoices(warm),
        year=warm.renewal_year + FLOOR_YEAR_OFFSET,
        user_id=user.pk,
        batch=DEFAULT_BATCH_SIZE,
    )
    rates: dict[str, list[float]] = {"run": [], "floor": []}
    seconds: dict[str, list[float]] = {"run": [], "floor": []}
    checks: list[dict] = []
    rerun = None
    for rep, population in enumerate(populations):
        expected = floor_invoices(population)
        year = population.renewal_year
        outcome = None
        for side in ("run", "floor") if rep % 2 == 0 else ("floor", "run"):
            if side == "run":
                outcome = run_task(year, user)
                spent = outcome.seconds
            else:
                spent = timed(
                    lambda expected=expected, year=year: write_floor(
                        expected,
                        year=year + FLOOR_YEAR_OFFSET,
                        user_id=user.pk,
                        batch=DEFAULT_BATCH_SIZE,
                    )
                )
            seconds[side].append(spent)
            rates[side].append(len(expected) / spent)
        assert outcome is not None
        run = outcome.run
        by_run = written(year, population.license_ids)
        by_floor = written(year + FLOOR_YEAR_OFFSET, population.license_ids)
        if run.invoices_created != count or run.skipped or by_run != by_floor:
            raise AssertionError(
                f"Run for {year}: {run.invoices_created} invoices created, {run.skipped} "
                f"skipped; wrote (invoices, lines, total) {by_run}, the floor {by_floor}"
            )
        if run.amount_invoiced != by_run[2] or outcome.job.progress_done != count:
            raise AssertionError(
                f"Run for {year} counted {run.amount_invoiced} (wrote {by_run[2]}); its job "
                f"shows {outcome.job.progress_done} of {outcome.job.progress_total} done"
            )
        checks.append(
            {
                "year": year,
                "invoices": by_run[0],
                "lines": by_run[1],
                "amount": str(by_run[2]),
                "renewed_without_fee": run.renewed_without_fee,
                "distinct_totals": len({inv.total for inv in expected}),
            }
        )
        if rerun is None:
            # The same run again: everything is invoiced, so it creates nothing.
            # (Fully exempt licenses were renewed on the spot: no longer due.)
            rerun = run_task(year, user)
            still_due = count - run.renewed_without_fee
            if rerun.run.invoices_created != 0 or rerun.run.already_invoiced != still_due:
                raise AssertionError(
                    f"A second run for {year} created {rerun.run.invoices_created} invoices "
                    f"({rerun.run.already_invoiced} already invoiced of {still_due})"
                )
            if written(year, population.license_ids) != by_run:
                raise AssertionError(f"A second run for {year} changed the invoices.")
    assert rerun is not None
    measured, limit = median(rates["run"]), median(rates["floor"])
    print(
        f"  renewal run: {count:,} invoices in {median(seconds['run']):.2f} s "
        f"({measured:,.0f}/s); COPY floor {median(seconds['floor']):.2f} s ({limit:,.0f}/s); "
        f"second run {rerun.seconds:.2f} s, 0 created",
        file=sys.stderr,
    )
    return Result(
        measured=measured,
        limit=limit,
        units="invoices/s",
        target=TARGET_RATIO,
        details={
            "licenses_per_repetition": count,
            "batch_size": DEFAULT_BATCH_SIZE,
            "run_seconds": [round(s, 2) for s in seconds["run"]],
            "floor_seconds": [round(s, 2) for s in seconds["floor"]],
            "run_seconds_median": round(median(seconds["run"]), 2),
            "run_invoices_per_s": [round(r) for r in rates["run"]],
            "floor_invoices_per_s": [round(r) for r in rates["floor"]],
            "ratios": [round(a / b, 3) for a, b in zip(rates["run"], rates["floor"], strict=True)],
            "second_run": {
                "seconds": round(rerun.seconds, 2),
                "invoices_created": rerun.run.invoices_created,
                "already_invoiced": rerun.run.already_invoiced,
            },
            "written": checks,
            "load_average": [round(v, 1) for v in os.getloadavg()],
        },
    )
