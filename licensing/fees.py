# ruff: noqa: RUF001, RUF003 - en dashes and × are what users read (25–49 FTE)
"""What a license costs: fee schedules read once into plain data, then priced in Python.

`fee_preview` answers for one business (the application screen, the counter's "why this
amount?"); the renewal run loads each license type's schedule once with
`load_schedules` and prices thousands of licenses with `compute_quote`, the same code.
Every line of a quote says which rule produced it.

Proration: a new license "issued after July 1" means issued on July 2 or later; one
issued on July 1 pays the full fee. A rule's cut-off is the last day at full price.
Renewals are priced by the schedule in effect on January 1 of the license year.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q

from kent_cs.money import ZERO, to_money
from licensing.models import (
    Business,
    ExemptionRule,
    FeeComponent,
    FeeSchedule,
    FeeTier,
    LicenseType,
)


class FeeError(ValidationError):
    """A license cannot be priced (no schedule in effect, units missing); for users."""


@dataclass(frozen=True)
class BusinessFacts:
    """What fees depend on, taken from a business (or an import row)."""

    fte: Decimal
    ownership_type: str
    inside_city_limits: bool
    gross_receipts: Decimal | None = None

    @classmethod
    def of(cls, business: Business) -> "BusinessFacts":
        return cls(
            fte=Decimal(business.fte_employees),
            ownership_type=business.ownership_type,
            inside_city_limits=business.inside_city_limits,
            gross_receipts=business.gross_receipts,
        )


@dataclass(frozen=True)
class TierData:
    min_fte: Decimal
    amount: Decimal
    label: str


@dataclass(frozen=True)
class ComponentData:
    id: int
    position: int
    kind: str
    label: str
    fee_code: str
    method: str
    amount: Decimal | None
    minimum_amount: Decimal | None
    charged_on: str
    inside_city_only: bool
    prorate: bool
    exemptible: bool
    penalty_base: bool
    tiers: tuple[TierData, ...] = ()


@dataclass(frozen=True)
class ProrationData:
    after_month: int
    after_day: int
    factor: Decimal
    label: str


@dataclass(frozen=True)
class ExemptionData:
    basis: str
    ownership_type: str
    threshold: Decimal | None
    outside_city_only: bool
    label: str


@dataclass(frozen=True)
class ScheduleData:
    id: int
    license_type_id: int
    license_type_code: str
    license_type_name: str
    unit_label: str
    name: str
    effective_from: date
    effective_to: date | None
    components: tuple[ComponentData, ...]
    prorations: tuple[ProrationData, ...]
    exemptions: tuple[ExemptionData, ...]

    @property
    def in_effect_text(self) -> str:
        until = f" through {self.effective_to:%B %-d, %Y}" if self.effective_to else ""
        return f"{self.name}, in effect from {self.effective_from:%B %-d, %Y}{until}"


@dataclass(frozen=True)
class QuoteLine:
    position: int
    kind: str
    label: str
    fee_code: str
    amount: Decimal
    rule: str
    penalty_base: bool
    full_amount: Decimal  # before proration and exemptions


@dataclass(frozen=True)
class FeeQuote:
    license_type_code: str
    license_type_name: str
    schedule_id: int
    schedule: str  # "2016 general business license schedule, in effect from ..."
    issue_date: date
    is_new: bool
    units: int | None
    lines: tuple[QuoteLine, ...]
    total: Decimal
    exemption: str | None = None
    proration: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


# --- loading schedules ----------------------------------------------------------------


def _tier_labels(tiers: list[FeeTier]) -> list[str]:
    labels = []
    for index, tier in enumerate(tiers):
        low = tier.min_fte.normalize()
        if index + 1 < len(tiers):
            high = tiers[index + 1].min_fte
            if low == low.to_integral_value() and high == high.to_integral_value():
                labels.append(f"{low:f}–{(high - 1).normalize():f} FTE")
            else:
                labels.append(f"{low:f} to under {high.normalize():f} FTE")
        else:
            labels.append(f"{low:f}+ FTE")
    return labels


def _schedule_data(schedule: FeeSchedule) -> ScheduleData:
    components = []
    for component in schedule.components.all():
        tiers = list(component.tiers.all())
        components.append(
            ComponentData(
                id=component.pk,
                position=component.position,
                kind=component.kind,
                label=component.label,
                fee_code=component.fee_code,
                method=component.method,
                amount=component.amount,
                minimum_amount=component.minimum_amount,
                charged_on=component.charged_on,
                inside_city_only=component.inside_city_only,
                prorate=component.prorate,
                exemptible=component.exemptible,
                penalty_base=component.penalty_base,
                tiers=tuple(
                    TierData(t.min_fte, t.amount, label)
                    for t, label in zip(tiers, _tier_labels(tiers), strict=True)
                ),
            )
        )
    return ScheduleData(
        id=schedule.pk,
        license_type_id=schedule.license_type_id,
        license_type_code=schedule.license_type.code,
        license_type_name=schedule.license_type.name,
        unit_label=schedule.license_type.unit_label,
        name=schedule.name,
        effective_from=schedule.effective_from,
        effective_to=schedule.effective_to,
        components=tuple(components),
        prorations=tuple(
            ProrationData(p.after_month, p.after_day, p.factor, p.label)
            for p in schedule.proration_rules.all()
        ),
        exemptions=tuple(
            ExemptionData(e.basis, e.ownership_type, e.threshold, e.outside_city_only, e.label)
            for e in schedule.exemptions.all()
        ),
    )


def load_schedules(
    on: date, license_type_ids: Iterable[int] | None = None
) -> dict[int, ScheduleData]:
    """The schedule in effect on `on` for each license type (that has one), in 5 queries."""
    schedules = (
        FeeSchedule.objects.filter(effective_from__lte=on)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=on))
        .select_related("license_type")
        .prefetch_related(
            Prefetch(
                "components",
                queryset=FeeComponent.objects.order_by("position").prefetch_related(
                    Prefetch("tiers", queryset=FeeTier.objects.order_by("min_fte"))
                ),
            ),
            "proration_rules",
            Prefetch("exemptions", queryset=ExemptionRule.objects.order_by("id")),
        )
    )
    if license_type_ids is not None:
        schedules = schedules.filter(license_type_id__in=list(license_type_ids))
    return {s.license_type_id: _schedule_data(s) for s in schedules}


def schedule_in_effect(license_type: LicenseType, on: date) -> ScheduleData:
    found = load_schedules(on, [license_type.pk]).get(license_type.pk)
    if found is None:
        raise FeeError(
            f"No {license_type.name} fee schedule is in effect on {on:%B %-d, %Y}.",
            code="no_schedule",
        )
    return found


# --- pricing --------------------------------------------------------------------------


def _money_text(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def _exemption_applies(rule: ExemptionData, facts: BusinessFacts) -> bool:
    if rule.outside_city_only and facts.inside_city_limits:
        return False
    if rule.basis == ExemptionRule.Basis.OWNERSHIP:
        return facts.ownership_type == rule.ownership_type
    if rule.threshold is None:
        return False
    if rule.basis == ExemptionRule.Basis.GROSS_RECEIPTS:
        return facts.gross_receipts is not None and facts.gross_receipts <= rule.threshold
    if rule.basis == ExemptionRule.Basis.FTE:
        return facts.fte <= rule.threshold
    return False


def proration_for(schedule: ScheduleData, issue_date: date) -> ProrationData | None:
    """The rule with the latest cut-off that the issue date is strictly after."""
    applicable = [
        p
        for p in schedule.prorations
        if (issue_date.month, issue_date.day) > (p.after_month, p.after_day)
    ]
    return max(applicable, key=lambda p: (p.after_month, p.after_day), default=None)


def _tier_for(component: ComponentData, fte: Decimal) -> TierData | None:
    found = None
    for tier in component.tiers:  # ordered by min_fte
        if fte >= tier.min_fte:
            found = tier
    return found


def _fte_text(fte: Decimal) -> str:
    return f"{fte.normalize():f}"


def compute_quote(
    schedule: ScheduleData,
    facts: BusinessFacts,
    *,
    issue_date: date,
    is_new: bool,
    units: int | None = None,
) -> FeeQuote:
    """Price a license under `schedule`. Pure: no queries, so a renewal run can call it
    for every license."""
    exemption = next((e for e in schedule.exemptions if _exemption_applies(e, facts)), None)
    proration = proration_for(schedule, issue_date) if is_new else None
    lines: list[QuoteLine] = []
    notes: list[str] = []
    proration_used = False
    for component in schedule.components:
        if component.charged_on == FeeComponent.ChargedOn.NEW and not is_new:
            continue
        if component.charged_on == FeeComponent.ChargedOn.RENEWAL and is_new:
            continue
        # The database makes flat and per-unit components carry an amount.
        rate = component.amount if component.amount is not None else ZERO
        if component.method == FeeComponent.Method.FLAT:
            full = to_money(rate)
            rule = "flat fee"
        elif component.method == FeeComponent.Method.FTE_TIERS:
            tier = _tier_for(component, facts.fte)
            if tier is None:
                raise FeeError(
                    f"{component.label}: no tier covers {_fte_text(facts.fte)} FTE.",
                    code="no_tier",
                )
            full = to_money(tier.amount)
            rule = f"tier {tier.label} ({_fte_text(facts.fte)} FTE)"
        elif component.method == FeeComponent.Method.PER_UNIT:
            what = schedule.unit_label or "units"
            if units is None or units < 0:
                raise FeeError(f"Enter the number of {what}.", code="units_required")
            full = to_money(rate * units)
            rule = f"{units} {what} × {_money_text(rate)}"
            if component.minimum_amount is not None and full < component.minimum_amount:
                full = to_money(component.minimum_amount)
                rule += f", minimum {_money_text(full)}"
        else:  # pragma: no cover - the database allows only the three methods
            raise FeeError(f"Unknown fee method {component.method!r}.")
        amount = full
        if component.inside_city_only and not facts.inside_city_limits:
            amount = ZERO
            rule = "not charged: outside city limits"
        elif exemption is not None and component.exemptible:
            amount = ZERO
            rule = f"{exemption.label} (otherwise {_money_text(full)}: {rule})"
        elif proration is not None and component.prorate:
            amount = to_money(full * proration.factor)
            rule = f"{rule}, {_money_text(full)}; {proration.label}"
            proration_used = True
        lines.append(
            QuoteLine(
                position=component.position,
                kind=component.kind,
                label=component.label,
                fee_code=component.fee_code,
                amount=amount,
                rule=rule[:300],
                penalty_base=component.penalty_base,
                full_amount=full,
            )
        )
    if exemption is not None:
        notes.append(exemption.label)
    if proration_used and proration is not None:
        notes.append(proration.label)
    return FeeQuote(
        license_type_code=schedule.license_type_code,
        license_type_name=schedule.license_type_name,
        schedule_id=schedule.id,
        schedule=schedule.in_effect_text,
        issue_date=issue_date,
        is_new=is_new,
        units=units,
        lines=tuple(lines),
        total=sum((line.amount for line in lines), ZERO),
        exemption=exemption.label if exemption is not None else None,
        proration=proration.label if proration_used and proration is not None else None,
        notes=tuple(notes),
    )


def fee_preview(
    *,
    license_type: LicenseType,
    business: Business | BusinessFacts,
    issue_date: date,
    is_new: bool,
    units: int | None = None,
) -> FeeQuote:
    """What `business` pays for a `license_type` license issued (or renewed) on
    `issue_date`, under the schedule in effect that day, line by line with the reason."""
    facts = business if isinstance(business, BusinessFacts) else BusinessFacts.of(business)
    schedule = schedule_in_effect(license_type, issue_date)
    return compute_quote(schedule, facts, issue_date=issue_date, is_new=is_new, units=units)


def renewal_fee_date(year: int) -> date:
    """Renewals are priced as of the first day of the license year."""
    return date(year, 1, 1)
