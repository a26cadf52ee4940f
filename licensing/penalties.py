"""Late penalty rules: a license year's penalty schedule (as data), the renewal due date,
and the penalties due on a renewal invoice so many days late. Reads only; the daily run
that adds them is licensing.services.penalties.

Days late count from the renewal's due date: one day after a Dec 31 due date (Jan 1)
is 1 day late. A step whose `days_late` is 31 applies from the 31st day late on.
Nothing is charged while the days late are within the schedule's grace period.
"""

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Q

from kent_cs.money import ZERO, to_money
from licensing.models import (
    PenaltyRule,
    PenaltySchedule,
)

DEFAULT_DUE_MONTH, DEFAULT_DUE_DAY = 12, 31


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


def money_text(amount: Decimal) -> str:
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
            how = f"{rate.normalize():f}% of {money_text(base)}"
        else:
            amount = to_money(rule.amount if rule.amount is not None else ZERO)
            how = "fixed"
        notes = []
        if rule.cap is not None and amount > rule.cap:
            amount = to_money(rule.cap)
            notes.append(f"step cap {money_text(amount)}")
        if total_cap is not None and so_far + amount > total_cap:
            amount = max(total_cap - so_far, ZERO)
            notes.append(f"penalties capped at {money_text(total_cap)} in all")
        if amount <= 0:
            continue
        so_far += amount
        text = f"{rule.label}: {days_late} days late (due {due_date:%b %-d, %Y}), {how}"
        if notes:
            text += "; " + "; ".join(notes)
        charges.append(PenaltyCharge(rule.id, rule.step, amount, text[:300]))
    return charges
