"""Renewal runs: one invoice per license due, for a license year, fast and exactly once.

A license is due for year Y when its license year is Y-1, its status is active, expired
or suspended, and its type is renewable. A run works in batches, each one transaction:

1. lock the year's invoice number series (so two runs, or a run and a technician
   renewing one license, take turns batch by batch);
2. select the next licenses due that have no live invoice for Y yet;
3. price them in Python from the schedules loaded once for the run;
4. take the batch's invoice numbers in one UPDATE and COPY the invoices and their lines
   in. The (license, year) unique constraint is the guarantee behind the lock: should
   it ever refuse a row, the batch rolls back, numbers and all, and is selected again.

So running twice creates nothing twice, two concurrent runs split the work between
them, and a run started after a crash picks up the licenses still without an invoice.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import psycopg
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from cashiering.targets import IndexRow, index_bulk_upsert
from kent_cs.audit import audit_actor
from kent_cs.money import ZERO
from kent_cs.numbering import lock_series, next_numbers
from licensing.fees import (
    BusinessFacts,
    FeeError,
    FeeQuote,
    ScheduleData,
    compute_quote,
    load_schedules,
    renewal_fee_date,
)
from licensing.models import (
    License,
    LicenseInvoice,
    LicenseType,
    RenewalRun,
    invoice_number,
    invoice_series,
    license_display_number,
)
from licensing.penalties import penalty_schedule_for_year
from licensing.selectors.renewals import licenses_due_for_renewal, live_invoice_for_year
from licensing.services.common import LicensingError
from licensing.services.licenses import license_update_for_free_invoice

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 2000
RENEWAL_JOB_KIND = "licensing.renewal-run"


@dataclass
class BatchResult:
    selected: int = 0
    last_id: int = 0
    created: int = 0
    renewed_without_fee: int = 0
    skipped: list[str] = field(default_factory=list)
    amount: Decimal = ZERO
    invoice_ids: list[int] = field(default_factory=list)


# The license and business columns a renewal invoice is priced from.
RENEWAL_LICENSE_COLUMNS = (
    "pk",
    "number",
    "license_type_id",
    "units",
    "business_id",
    "business__legal_name",
    "business__trade_name",
    "business__ownership_type",
    "business__fte_employees",
    "business__gross_receipts",
    "business__inside_city_limits",
    "business__location_line1",
    "business__location_line2",
    "business__location_city",
    "business__location_state",
    "business__location_zip",
)

# COPY is the fastest way into PostgreSQL: no SQL text built from thousands of values.
# The statement-level history triggers still record every row.
_INVOICE_COPY = """
COPY licensing_licenseinvoice (
    number, year, seq, kind, license_id, business_id, schedule_id, issue_date, due_date,
    status, total, amount_due, paid_on, paid_receipt, license_updated, prior_status,
    cancelled_reason, renewal_run_id, created_by_id
) FROM STDIN
"""
_LINE_COPY = """
COPY licensing_licenseinvoiceline (
    invoice_id, position, kind, label, fee_code, amount, amount_due, rule, penalty_base
) FROM STDIN
"""


class _BatchConflict(Exception):
    """Some invoices of the batch already existed: roll the batch back (its numbers with
    it) and select again. Cannot happen while every writer locks the series first."""


def _address(row: dict) -> str:
    street = ", ".join(
        p for p in (row["business__location_line1"], row["business__location_line2"]) if p
    )
    return (
        f"{street}, {row['business__location_city']} {row['business__location_state']} "
        f"{row['business__location_zip']}"
    )


def _display_name(row: dict) -> str:
    legal, trade = row["business__legal_name"], row["business__trade_name"]
    if trade and trade.casefold() != legal.casefold():
        return f"{legal} (DBA {trade})"
    return legal


def _renewal_batch(
    *,
    year: int,
    after_id: int,
    limit: int,
    schedules: dict[int, ScheduleData],
    due_date: date,
    issue_date: date,
    run: RenewalRun | None,
    user,
    license_ids: Sequence[int] | None = None,
) -> BatchResult:
    """One batch, inside the caller's transaction."""
    result = BatchResult(last_id=after_id)
    lock_series(invoice_series(year))
    due = (
        licenses_due_for_renewal(year).filter(pk__gt=after_id).exclude(live_invoice_for_year(year))
    )
    if license_ids is not None:
        due = due.filter(pk__in=list(license_ids))
    rows = list(due.order_by("pk").values(*RENEWAL_LICENSE_COLUMNS)[:limit])
    if not rows:
        return result
    result.selected = len(rows)
    result.last_id = rows[-1]["pk"]
    fee_date = renewal_fee_date(year)
    priced = []
    quotes: dict[tuple, FeeQuote] = {}  # licenses alike are priced once
    for row in rows:
        schedule = schedules.get(row["license_type_id"])
        if schedule is None:
            result.skipped.append(f"{license_display_number(row['number'])}: no fee schedule")
            continue
        facts = BusinessFacts(
            fte=row["business__fte_employees"],
            ownership_type=row["business__ownership_type"],
            inside_city_limits=row["business__inside_city_limits"],
            gross_receipts=row["business__gross_receipts"],
        )
        key = (schedule.id, facts, row["units"])
        try:
            quote = quotes.get(key) or compute_quote(
                schedule, facts, issue_date=fee_date, is_new=False, units=row["units"]
            )
        except FeeError as exc:
            result.skipped.append(f"{license_display_number(row['number'])}: {exc.messages[0]}")
            continue
        quotes[key] = quote
        priced.append((row, quote))
    if not priced:
        return result
    numbers = next_numbers(invoice_series(year), len(priced))
    run_id, user_id = (run.pk if run else None), (user.pk if user else None)
    try:
        with connection.cursor() as cursor:
            with cursor.copy(_INVOICE_COPY) as copy:
                for seq, (row, quote) in zip(numbers, priced, strict=True):
                    paid = quote.total == 0
                    copy.write_row(
                        (
                            invoice_number(year, seq),
                            year,
                            seq,
                            "renewal",
                            row["pk"],
                            row["business_id"],
                            quote.schedule_id,
                            issue_date,
                            due_date,
                            "paid" if paid else "open",
                            quote.total,
                            quote.total,
                            issue_date if paid else None,
                            "",
                            False,
                            "",
                            "",
                            run_id,
                            user_id,
                        )
                    )
            cursor.execute(
                "SELECT license_id, id FROM licensing_licenseinvoice "
                "WHERE year = %s AND seq BETWEEN %s AND %s",
                [year, numbers[0], numbers[-1]],
            )
            inserted = dict(cursor.fetchall())
            with cursor.copy(_LINE_COPY) as copy:
                for row, quote in priced:
                    invoice_id = inserted[row["pk"]]
                    for position, line in enumerate(quote.lines, start=1):
                        copy.write_row(
                            (
                                invoice_id,
                                position,
                                line.kind,
                                line.label,
                                line.fee_code,
                                line.amount,
                                line.amount,
                                line.rule,
                                line.penalty_base,
                            )
                        )
    except psycopg.errors.UniqueViolation:
        # An invoice for one of these licenses appeared although the series was locked
        # (written by something that did not lock it): the constraint refused it; the
        # whole batch, numbers included, rolls back and is selected again.
        raise _BatchConflict from None
    index_bulk_upsert(
        IndexRow(
            kind="license",
            ref=invoice_number(year, seq),
            number=invoice_number(year, seq),
            name=_display_name(row),
            address=_address(row),
            detail=f"Business license {year} renewal ({license_display_number(row['number'])})",
            is_active=quote.total > 0,
        )
        for seq, (row, quote) in zip(numbers, priced, strict=True)
    )
    free = [inserted[row["pk"]] for row, quote in priced if quote.total == 0]
    for invoice in LicenseInvoice.objects.filter(pk__in=free).select_related("license"):
        # Fully exempt: renewed without a payment (rare; one by one is fine).
        license = License.objects.select_for_update().get(pk=invoice.license_id)
        license_update_for_free_invoice(
            invoice,
            license=license,
            on=issue_date,
            user=user,
            reason=f"Renewed for {year}: nothing to pay",
        )
    result.created = len(priced)
    result.renewed_without_fee = len(free)
    result.amount = sum((quote.total for _, quote in priced), ZERO)
    result.invoice_ids = list(inserted.values())
    return result


def _run_batch_with_retry(**kwargs) -> BatchResult:
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _renewal_batch(**kwargs)
        except _BatchConflict:
            logger.warning("Renewal batch met invoices created meanwhile (attempt %s)", attempt + 1)
    raise LicensingError("Renewal invoices kept changing under the run; start it again.")


def renewal_year_check(year: int) -> None:
    today = timezone.localdate()
    if not 2000 <= year <= today.year + 1:
        raise LicensingError(
            f"Renewals can be run for license years up to {today.year + 1}.", code="bad_year"
        )


def renewal_run_execute(
    *,
    run: RenewalRun,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
    issue_date: date | None = None,
) -> RenewalRun:
    """Do the work of a run (what the background task calls): invoice every license due
    that has no invoice for the year yet, batch by batch, counting as it goes."""
    year = run.year
    issue_date = issue_date or timezone.localdate()
    RenewalRun.objects.filter(pk=run.pk).update(
        status=RenewalRun.Status.RUNNING, started_at=timezone.now(), finished_at=None, message=""
    )
    try:
        due = licenses_due_for_renewal(year)
        total = due.count()
        already = due.filter(live_invoice_for_year(year)).count()
        RenewalRun.objects.filter(pk=run.pk).update(licenses_due=total, already_invoiced=already)
        type_ids = LicenseType.objects.filter(is_renewable=True).values_list("pk", flat=True)
        schedules = load_schedules(renewal_fee_date(year), type_ids)
        due_date = penalty_schedule_for_year(year).due_date(year)
        done, after, skipped = already, 0, []
        if progress:
            progress(done, total)
        while True:
            with audit_actor(run.started_by, source="renewal run", reason=f"Renewals for {year}"):
                batch = _run_batch_with_retry(
                    year=year,
                    after_id=after,
                    limit=batch_size,
                    schedules=schedules,
                    due_date=due_date,
                    issue_date=issue_date,
                    run=run,
                    user=run.started_by,
                )
            if not batch.selected:
                break
            after = batch.last_id
            skipped += batch.skipped
            RenewalRun.objects.filter(pk=run.pk).update(
                invoices_created=F("invoices_created") + batch.created,
                renewed_without_fee=F("renewed_without_fee") + batch.renewed_without_fee,
                skipped=F("skipped") + len(batch.skipped),
                amount_invoiced=F("amount_invoiced") + batch.amount,
            )
            done += batch.selected
            if progress:
                progress(min(done, total), total)
        run.refresh_from_db()
        message = (
            f"{run.invoices_created} invoices created, {run.already_invoiced} already "
            f"invoiced, {run.renewed_without_fee} renewed with nothing to pay"
        )
        if skipped:
            message += f"; {len(skipped)} not priced: " + "; ".join(skipped[:5])
        RenewalRun.objects.filter(pk=run.pk).update(
            status=RenewalRun.Status.SUCCEEDED, finished_at=timezone.now(), message=message[:300]
        )
    except Exception as exc:
        RenewalRun.objects.filter(pk=run.pk).update(
            status=RenewalRun.Status.FAILED,
            finished_at=timezone.now(),
            message=f"Failed: {exc}"[:300],
        )
        raise
    run.refresh_from_db()
    return run


def renewal_invoice_create(*, license: License, year: int, user) -> LicenseInvoice:
    """The renewal invoice of one license (one missed by the run, or renewed early)."""
    renewal_year_check(year)
    if license.license_year != year - 1:
        raise LicensingError(
            f"License {license.display_number} is for {license.license_year}; only a license "
            f"for {year - 1} renews for {year}."
        )
    schedules = load_schedules(renewal_fee_date(year), [license.license_type_id])
    due_date = penalty_schedule_for_year(year).due_date(year)
    with audit_actor(user, source="renewal", reason=f"Renewal invoice for {year}"):
        batch = _run_batch_with_retry(
            year=year,
            after_id=0,
            limit=1,
            schedules=schedules,
            due_date=due_date,
            issue_date=timezone.localdate(),
            run=None,
            user=user,
            license_ids=[license.pk],
        )
    if batch.skipped:
        raise LicensingError(batch.skipped[0])
    if not batch.created:
        existing = (
            LicenseInvoice.objects.filter(license=license, year=year)
            .exclude(status=LicenseInvoice.Status.CANCELLED)
            .first()
        )
        if existing is not None:
            raise LicensingError(
                f"License {license.display_number} already has invoice {existing}."
            )
        raise LicensingError(
            f"License {license.display_number} is not due for renewal "
            f"({license.get_status_display().lower()})."
        )
    return LicenseInvoice.objects.get(pk=batch.invoice_ids[0])


__all__ = [
    "renewal_invoice_create",
    "renewal_run_execute",
]
