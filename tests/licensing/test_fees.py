# ruff: noqa: RUF001, RUF003 - en dashes and × are what users read (25–49 FTE)
"""Fees: every FTE tier boundary, proration at July 1, exemptions, per-unit pricing and
effective-dated schedules, each line explaining the rule that priced it."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from licensing.fees import BusinessFacts, FeeError, fee_preview
from licensing.models import FeeComponent, FeeSchedule, FeeTier, LicenseType
from tests.licensing.factories import license_type

D = Decimal
pytestmark = pytest.mark.django_db


def facts(fte="10", ownership="llc", inside=True, receipts=None) -> BusinessFacts:
    return BusinessFacts(
        fte=D(fte),
        ownership_type=ownership,
        inside_city_limits=inside,
        gross_receipts=None if receipts is None else D(receipts),
    )


def quote(fte="10", *, on=date(2026, 3, 16), is_new=False, code="GEN", units=None, **kwargs):
    return fee_preview(
        license_type=license_type(code),
        business=facts(fte, **kwargs),
        issue_date=on,
        is_new=is_new,
        units=units,
    )


def amounts(q) -> dict[str, Decimal]:
    return {line.fee_code: line.amount for line in q.lines}


@pytest.mark.parametrize(
    ("fte", "fee", "tier"),
    [
        ("0", "100.00", "0–24 FTE"),
        ("24", "100.00", "0–24 FTE"),
        ("24.99", "100.00", "0–24 FTE"),
        ("25", "200.00", "25–49 FTE"),
        ("49", "200.00", "25–49 FTE"),
        ("50", "400.00", "50–99 FTE"),
        ("99", "400.00", "50–99 FTE"),
        ("99.5", "400.00", "50–99 FTE"),
        ("100", "600.00", "100+ FTE"),
        ("2500", "600.00", "100+ FTE"),
    ],
)
def test_general_license_fee_by_fte_tier(fte, fee, tier):
    q = quote(fte)
    assert amounts(q) == {"BL-GEN": D(fee), "BL-FIRE": D("112.93"), "BL-TECH": D("1.00")}
    assert q.total == D(fee) + D("113.93")
    license_line = q.lines[0]
    assert license_line.rule.startswith(f"tier {tier}")
    assert q.schedule == "General business license fees (2016), in effect from January 1, 2016"


@pytest.mark.parametrize(
    ("issued", "fee", "halved"),
    [
        (date(2026, 1, 1), "200.00", False),
        (date(2026, 6, 30), "200.00", False),
        (date(2026, 7, 1), "200.00", False),  # "after July 1": July 1 still pays in full
        (date(2026, 7, 2), "100.00", True),
        (date(2026, 12, 31), "100.00", True),
    ],
)
def test_new_license_is_halved_only_when_issued_after_july_1(issued, fee, halved):
    q = quote("30", on=issued, is_new=True)
    assert amounts(q) == {"BL-GEN": D(fee), "BL-FIRE": D("112.93"), "BL-TECH": D("1.00")}
    assert (q.proration == "halved: new license issued after July 1") is halved
    if halved:
        assert q.lines[0].rule == (
            "tier 25–49 FTE (30 FTE), $200.00; halved: new license issued after July 1"
        )
        assert q.lines[0].full_amount == D("200.00")


def test_renewals_are_never_prorated():
    assert amounts(quote("30", on=date(2026, 9, 1), is_new=False))["BL-GEN"] == D("200.00")


def test_fire_and_technology_fees_are_never_prorated_even_if_marked():
    component = FeeComponent.objects.get(schedule__license_type__code="GEN", kind="fire")
    component.prorate = True
    with pytest.raises(ValidationError, match="never prorated"):
        component.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        FeeComponent.objects.filter(pk=component.pk).update(prorate=True)


@pytest.mark.parametrize(
    ("ownership", "label"),
    [("nonprofit", "exempt: nonprofit"), ("government", "exempt: government agency")],
)
def test_ownership_exemptions_waive_license_and_technology_fees_not_fire(ownership, label):
    q = quote("60", ownership=ownership)
    assert amounts(q) == {"BL-GEN": D("0.00"), "BL-FIRE": D("112.93"), "BL-TECH": D("0.00")}
    assert q.exemption == label
    assert q.lines[0].rule == f"{label} (otherwise $400.00: tier 50–99 FTE (60 FTE))"
    assert q.lines[0].full_amount == D("400.00")


def test_threshold_exemption_only_outside_city_and_at_or_under_2000():
    exempt = quote("1", inside=False, receipts="2000.00")
    assert exempt.total == D("0.00")
    assert exempt.lines[1].rule == "not charged: outside city limits"
    over = quote("1", inside=False, receipts="2000.01")
    assert amounts(over) == {"BL-GEN": D("100.00"), "BL-FIRE": D("0.00"), "BL-TECH": D("1.00")}
    inside = quote("1", inside=True, receipts="500.00")
    assert inside.total == D("213.93")


def test_per_unit_rental_housing_with_minimum_and_units_required():
    assert amounts(quote(code="RENT", units=12)) == {"BL-RENT": D("216.00"), "BL-TECH": D("1.00")}
    small = quote(code="RENT", units=1)
    assert small.lines[0].amount == D("40.00")
    assert small.lines[0].rule == "1 rental housing units × $18.00, minimum $40.00"
    with pytest.raises(FeeError, match="Enter the number of rental housing units"):
        quote(code="RENT", units=None)


def test_flat_fees_for_home_occupation_and_outside_contractor():
    assert quote(code="HOME").total == D("51.00")
    assert quote(code="HOME", is_new=True, on=date(2026, 8, 1)).total == D("26.00")
    assert quote(code="CONT", inside=False).total == D("76.00")


def new_schedule_from(start: date, tiers: list[tuple[str, str]]) -> FeeSchedule:
    gen = license_type("GEN")
    old = FeeSchedule.objects.get(license_type=gen, effective_to__isnull=True)
    old.effective_to = date(start.year - 1, 12, 31)
    old.save()
    schedule = FeeSchedule.objects.create(license_type=gen, name="2027 fees", effective_from=start)
    component = FeeComponent.objects.create(
        schedule=schedule,
        position=1,
        kind="license",
        label="Business license fee",
        fee_code="BL-GEN",
        method="fte_tiers",
        prorate=True,
        penalty_base=True,
    )
    for low, amount in tiers:
        FeeTier.objects.create(component=component, min_fte=D(low), amount=D(amount))
    return schedule


def test_schedule_change_on_january_1_dec_31_uses_the_old_one():
    new_schedule_from(date(2027, 1, 1), [("0", "125.00"), ("25", "250.00")])
    old = quote("10", on=date(2026, 12, 31))
    new = quote("10", on=date(2027, 1, 1))
    assert old.total == D("213.93")
    assert "General business license fees (2016)" in old.schedule
    assert "through December 31, 2026" in old.schedule
    assert amounts(new) == {"BL-GEN": D("125.00")}
    assert new.schedule == "2027 fees, in effect from January 1, 2027"


def test_overlapping_schedules_are_refused_by_the_database_and_validation():
    gen = license_type("GEN")
    overlapping = FeeSchedule(license_type=gen, name="Overlap", effective_from=date(2026, 6, 1))
    with pytest.raises(ValidationError, match="Another fee schedule of this license type"):
        overlapping.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        overlapping.save()
    # Another license type may have its own schedule on the same dates.
    other = LicenseType.objects.create(code="TEST", name="Test")
    FeeSchedule.objects.create(license_type=other, name="Fine", effective_from=date(2026, 6, 1))


def test_no_schedule_in_effect_is_a_clear_error():
    with pytest.raises(FeeError, match="No General business license fee schedule is in effect"):
        quote(on=date(2015, 12, 31))


def test_tier_amounts_are_money_rounded_half_up():
    schedule = new_schedule_from(date(2027, 1, 1), [("0", "100.01")])
    schedule.proration_rules.create(
        after_month=7, after_day=1, factor=D("0.5"), label="halved: after July 1"
    )
    q = quote("3", on=date(2027, 7, 2), is_new=True)
    assert q.total == D("50.01")  # 50.005 rounds half up
