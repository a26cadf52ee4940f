"""Late penalties, expiry and lapse: the daily licensing run.

`penalties_assess(as_of=..., user=...)` is safe to run any number of times a day: a
license expires once, a penalty step is added to an invoice once (a unique constraint
on invoice + step backs that), and a license lapses once.

Days late count from the renewal's due date: one day after a Dec 31 due date (Jan 1)
is 1 day late. A step whose `days_late` is 31 applies from the 31st day late on.
Nothing is charged while the days late are within the schedule's grace period.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from kent_cs.audit import audit_actor
from kent_cs.money import ZERO
from licensing.models import (
    InvoiceKind,
    License,
    LicenseInvoice,
    LicenseInvoiceLine,
    LicenseStatus,
    LicenseStatusChange,
)
from licensing.penalties import (
    PenaltyScheduleData,
    money_text,
    penalties_due,
    penalty_schedule_for_year,
)

BATCH_SIZE = 2000


@dataclass
class AssessResult:
    as_of: date
    expired: int = 0
    lapsed: int = 0
    invoices_penalized: int = 0
    penalty_lines: int = 0
    penalty_amount: Decimal = ZERO

    @property
    def summary(self) -> str:
        return (
            f"As of {self.as_of:%b %-d, %Y}: {self.expired} licenses expired, "
            f"{self.penalty_lines} penalties added to {self.invoices_penalized} invoices "
            f"({money_text(self.penalty_amount)}), {self.lapsed} licenses lapsed."
        )


def _bulk_transition(
    ids_years: list[tuple[int, int]],
    *,
    from_status: str,
    to_status: str,
    action: str,
    reason_for_year,
    effective_on_for_year,
    user,
) -> int:
    if not ids_years:
        return 0
    ids = [pk for pk, _ in ids_years]
    updated = License.objects.filter(pk__in=ids, status=from_status).update(
        status=to_status, status_changed_at=timezone.now()
    )
    LicenseStatusChange.objects.bulk_create(
        LicenseStatusChange(
            license_id=pk,
            action=action,
            from_status=from_status,
            to_status=to_status,
            from_year=year,
            to_year=year,
            reason=reason_for_year(year)[:300],
            effective_on=effective_on_for_year(year),
            changed_by=user,
        )
        for pk, year in ids_years
    )
    return updated


def licenses_expire(*, as_of: date, user) -> int:
    """Active licenses whose year has ended become expired."""
    total = 0
    while True:
        with (
            transaction.atomic(),
            audit_actor(user, source="licensing daily run", reason="License year ended"),
        ):
            rows = list(
                License.objects.select_for_update(skip_locked=True)
                .filter(status=LicenseStatus.ACTIVE, license_year__lt=as_of.year)
                .order_by("pk")
                .values_list("pk", "license_year")[:BATCH_SIZE]
            )
            total += _bulk_transition(
                rows,
                from_status=LicenseStatus.ACTIVE,
                to_status=LicenseStatus.EXPIRED,
                action="expired",
                reason_for_year=lambda y: f"License year {y} ended on Dec 31, {y}",
                effective_on_for_year=lambda y: date(y + 1, 1, 1),
                user=user,
            )
        if len(rows) < BATCH_SIZE:
            return total


def licenses_lapse(*, as_of: date, user) -> int:
    """Expired licenses still unrenewed `lapse_after_days` after the due date lapse."""
    total = 0
    years = (
        License.objects.filter(status=LicenseStatus.EXPIRED)
        .order_by("license_year")
        .values_list("license_year", flat=True)
        .distinct()
    )
    for year in sorted(years):
        schedule = penalty_schedule_for_year(year + 1)
        lapse_on = schedule.lapse_date(year + 1)
        if as_of < lapse_on:
            continue
        due = schedule.due_date(year + 1)
        reason = (
            f"Not renewed for {year + 1}: {schedule.lapse_after_days} days past the "
            f"{due:%b %-d, %Y} due date"
        )
        while True:
            with (
                transaction.atomic(),
                audit_actor(user, source="licensing daily run", reason=reason),
            ):
                rows = list(
                    License.objects.select_for_update(skip_locked=True)
                    .filter(status=LicenseStatus.EXPIRED, license_year=year)
                    .order_by("pk")
                    .values_list("pk", "license_year")[:BATCH_SIZE]
                )
                total += _bulk_transition(
                    rows,
                    from_status=LicenseStatus.EXPIRED,
                    to_status=LicenseStatus.LAPSED,
                    action="lapsed",
                    reason_for_year=lambda y, reason=reason: reason,
                    effective_on_for_year=lambda y, lapse_on=lapse_on: lapse_on,
                    user=user,
                )
            if len(rows) < BATCH_SIZE:
                break
    return total


def _assess_batch(
    invoices: list[LicenseInvoice], *, as_of: date, schedules: dict, result: AssessResult
) -> None:
    lines_by_invoice: dict[int, list[LicenseInvoiceLine]] = defaultdict(list)
    for line in LicenseInvoiceLine.objects.filter(invoice__in=invoices).only(
        "invoice_id", "position", "amount", "penalty_base", "penalty_rule_id"
    ):
        lines_by_invoice[line.invoice_id].append(line)
    new_lines, changed = [], []
    for invoice in invoices:
        if invoice.year not in schedules:
            schedules[invoice.year] = penalty_schedule_for_year(invoice.year)
        schedule = schedules[invoice.year]
        lines = lines_by_invoice[invoice.pk]
        base = sum((line.amount for line in lines if line.penalty_base), ZERO)
        charged = {line.penalty_rule_id: line.amount for line in lines if line.penalty_rule_id}
        charges = penalties_due(
            schedule, due_date=invoice.due_date, as_of=as_of, base=base, charged=charged
        )
        if not charges:
            continue
        position = max((line.position for line in lines), default=0)
        for charge in charges:
            position += 1
            new_lines.append(
                LicenseInvoiceLine(
                    invoice=invoice,
                    position=position,
                    kind=LicenseInvoiceLine.PENALTY,
                    label=f"Late penalty, step {charge.step}",
                    fee_code=schedule.fee_code,
                    amount=charge.amount,
                    amount_due=charge.amount,
                    rule=charge.rule,
                    penalty_rule_id=charge.rule_id,
                )
            )
            invoice.total += charge.amount
            invoice.amount_due += charge.amount
            result.penalty_amount += charge.amount
        changed.append(invoice)
    LicenseInvoiceLine.objects.bulk_create(new_lines)
    LicenseInvoice.objects.bulk_update(changed, ["total", "amount_due"])
    result.invoices_penalized += len(changed)
    result.penalty_lines += len(new_lines)


def penalties_assess(*, as_of: date, user, batch_size: int = BATCH_SIZE) -> AssessResult:
    """The daily run: expire licenses whose year ended, add the penalty steps unpaid
    renewal invoices have reached, and lapse licenses unrenewed past the lapse date."""
    result = AssessResult(as_of=as_of)
    result.expired = licenses_expire(as_of=as_of, user=user)
    schedules: dict[int, PenaltyScheduleData] = {}
    after = 0
    while True:
        with (
            transaction.atomic(),
            audit_actor(user, source="licensing daily run", reason="Late penalties assessed"),
        ):
            # Same lock order as a payment (the invoice, then its lines).
            invoices = list(
                LicenseInvoice.objects.select_for_update()
                .filter(
                    kind=InvoiceKind.RENEWAL,
                    status=LicenseInvoice.Status.OPEN,
                    due_date__lt=as_of,
                    pk__gt=after,
                )
                .order_by("pk")
                .only("pk", "year", "due_date", "total", "amount_due")[:batch_size]
            )
            if not invoices:
                break
            after = invoices[-1].pk
            _assess_batch(invoices, as_of=as_of, schedules=schedules, result=result)
    result.lapsed = licenses_lapse(as_of=as_of, user=user)
    return result
