"""Late penalties, expiry and lapse: the daily licensing run.

`penalties_assess(as_of=..., user=...)` is safe to run any number of times a day: a
license expires once, a penalty step is added to an invoice once (a unique constraint
on invoice + step backs that), and a license lapses once.

Days late count from the renewal's due date: one day after a Dec 31 due date (Jan 1)
is 1 day late. A step whose `days_late` is 31 applies from the 31st day late on.
Nothing is charged while the days late are within the schedule's grace period.
"""

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kent_cs.audit import audit_actor
from kent_cs.money import ZERO, to_money
from licensing.models import (
    InvoiceKind,
    License,
    LicenseInvoice,
    LicenseInvoiceLine,
    LicenseStatus,
    LicenseStatusChange,
    PenaltyRule,
    PenaltySchedule,
)

DEFAULT_DUE_MONTH, DEFAULT_DUE_DAY = 12, 31
BATCH_SIZE = 2000


@dataclass(frozen=True)
class PenaltyRuleData:
    id: int
    step: int
    days_late: int
    method: str
    rate: Decimal | None
    amount: Decimal | None
    cap: Decimal | None
    label: str


@dataclass(frozen=True)
class PenaltyScheduleData:
    id: int | None
    name: str
    due_month: int
    due_day: int
    due_in_prior_year: bool
    grace_days: int
    lapse_after_days: int
    max_total_percent: Decimal | None
    max_total_amount: Decimal | None
    fee_code: str
    rules: tuple[PenaltyRuleData, ...] = field(default_factory=tuple)

    def due_date(self, license_year: int) -> date:
        year = license_year - 1 if self.due_in_prior_year else license_year
        day = min(self.due_day, calendar.monthrange(year, self.due_month)[1])
        return date(year, self.due_month, day)

    def lapse_date(self, license_year: int) -> date:
        """The first day an unpaid license of the year before is lapsed."""
        return self.due_date(license_year) + timedelta(days=self.lapse_after_days + 1)


# When no penalty schedule is on file: due Dec 31, no penalties, lapse after 90 days.
NO_SCHEDULE = PenaltyScheduleData(
    id=None,
    name="No penalty schedule on file",
    due_month=DEFAULT_DUE_MONTH,
    due_day=DEFAULT_DUE_DAY,
    due_in_prior_year=True,
    grace_days=0,
    lapse_after_days=90,
    max_total_percent=None,
    max_total_amount=None,
    fee_code="BL-PEN",
)


def _schedule_data(schedule: PenaltySchedule) -> PenaltyScheduleData:
    return PenaltyScheduleData(
        id=schedule.pk,
        name=schedule.name,
        due_month=schedule.due_month,
        due_day=schedule.due_day,
        due_in_prior_year=schedule.due_in_prior_year,
        grace_days=schedule.grace_days,
        lapse_after_days=schedule.lapse_after_days,
        max_total_percent=schedule.max_total_percent,
        max_total_amount=schedule.max_total_amount,
        fee_code=schedule.fee_code,
        rules=tuple(
            PenaltyRuleData(r.pk, r.step, r.days_late, r.method, r.rate, r.amount, r.cap, r.label)
            for r in sorted(schedule.rules.all(), key=lambda r: (r.days_late, r.step))
        ),
    )


def penalty_schedule_for_year(license_year: int) -> PenaltyScheduleData:
    """The schedule governing renewals for `license_year` (in effect on its January 1)."""
    on = date(license_year, 1, 1)
    schedule = (
        PenaltySchedule.objects.filter(effective_from__lte=on)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=on))
        .prefetch_related("rules")
        .first()
    )
    return _schedule_data(schedule) if schedule is not None else NO_SCHEDULE


def renewal_due_date(license_year: int) -> date:
    return penalty_schedule_for_year(license_year).due_date(license_year)


@dataclass(frozen=True)
class PenaltyCharge:
    rule_id: int
    step: int
    amount: Decimal
    rule: str  # the explanation printed on the invoice line


def _money_text(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def penalties_due(
    schedule: PenaltyScheduleData,
    *,
    due_date: date,
    as_of: date,
    base: Decimal,
    charged: dict[int, Decimal],
) -> list[PenaltyCharge]:
    """The penalty steps an unpaid invoice reaches by `as_of` and has not been charged yet.

    `base` is the invoice's license fee (its penalty-base lines); `charged` maps the rule
    ids already on the invoice to their amounts. Each step's amount is cut to its own cap
    and then to what the schedule's total cap leaves; a step cut to nothing is skipped.
    Pure, so the daily run can price every late invoice without a query each.
    """
    days_late = (as_of - due_date).days
    if days_late <= 0 or days_late <= schedule.grace_days:
        return []
    caps = []
    if schedule.max_total_percent is not None:
        caps.append(to_money(base * schedule.max_total_percent / 100))
    if schedule.max_total_amount is not None:
        caps.append(to_money(schedule.max_total_amount))
    total_cap = min(caps) if caps else None
    so_far = sum(charged.values(), ZERO)
    charges = []
    for rule in schedule.rules:
        if rule.days_late > days_late or rule.id in charged:
            continue
        if rule.method == PenaltyRule.Method.PERCENT:
            rate = rule.rate if rule.rate is not None else ZERO
            amount = to_money(base * rate / 100)
            how = f"{rate.normalize():f}% of {_money_text(base)}"
        else:
            amount = to_money(rule.amount if rule.amount is not None else ZERO)
            how = "fixed"
        notes = []
        if rule.cap is not None and amount > rule.cap:
            amount = to_money(rule.cap)
            notes.append(f"step cap {_money_text(amount)}")
        if total_cap is not None and so_far + amount > total_cap:
            amount = max(total_cap - so_far, ZERO)
            notes.append(f"penalties capped at {_money_text(total_cap)} in all")
        if amount <= 0:
            continue
        so_far += amount
        text = f"{rule.label}: {days_late} days late (due {due_date:%b %-d, %Y}), {how}"
        if notes:
            text += "; " + "; ".join(notes)
        charges.append(PenaltyCharge(rule.id, rule.step, amount, text[:300]))
    return charges


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
            f"({_money_text(self.penalty_amount)}), {self.lapsed} licenses lapsed."
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
