# ruff: noqa: RUF001 - en dashes are what users read (31-60 days late)
"""Late penalties by days late, caps and grace; the daily run expires, penalizes once per
step and lapses."""

from datetime import date
from decimal import Decimal

import pytest

from cashiering.targets import get_target_type
from licensing.models import LicenseInvoiceLine, LicenseStatus
from licensing.penalties import (
    PenaltyRuleData,
    PenaltyScheduleData,
    penalties_due,
    penalty_schedule_for_year,
)
from licensing.renewals import renewal_invoice_create
from licensing.services.penalties import penalties_assess
from tests.licensing.factories import make_business, make_license
from tests.licensing.test_payments import pay

D = Decimal
DUE = date(2026, 12, 31)


def schedule(**overrides) -> PenaltyScheduleData:
    values = {
        "id": 1,
        "name": "Test",
        "due_month": 12,
        "due_day": 31,
        "due_in_prior_year": True,
        "grace_days": 0,
        "lapse_after_days": 90,
        "max_total_percent": D("50"),
        "max_total_amount": None,
        "fee_code": "BL-PEN",
        "rules": tuple(
            PenaltyRuleData(step, step, days, "percent", D("10"), None, None, f"Step {step}")
            for step, days in [(1, 1), (2, 31), (3, 61), (4, 91), (5, 121)]
        ),
    }
    values.update(overrides)
    return PenaltyScheduleData(**values)


def due(sched, days_late, base="200.00", charged=None):
    as_of = date.fromordinal(DUE.toordinal() + days_late)
    return penalties_due(sched, due_date=DUE, as_of=as_of, base=D(base), charged=charged or {})


def steps(charges):
    return [(c.step, c.amount) for c in charges]


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (-5, []),
        (0, []),
        (1, [(1, D("20.00"))]),
        (30, [(1, D("20.00"))]),
        (31, [(1, D("20.00")), (2, D("20.00"))]),
        (60, [(1, D("20.00")), (2, D("20.00"))]),
        (61, [(1, D("20.00")), (2, D("20.00")), (3, D("20.00"))]),
        (365, [(n, D("20.00")) for n in range(1, 6)]),
    ],
)
def test_steps_by_days_late(days, expected):
    assert steps(due(schedule(), days)) == expected


def test_each_step_is_charged_once():
    assert steps(due(schedule(), 45, charged={1: D("20.00")})) == [(2, D("20.00"))]
    assert due(schedule(), 45, charged={1: D("20.00"), 2: D("20.00")}) == []


def test_total_cap_as_a_percentage_cuts_the_step_that_crosses_it():
    capped = schedule(max_total_percent=D("25"))
    assert steps(due(capped, 365)) == [(1, D("20.00")), (2, D("20.00")), (3, D("10.00"))]
    charge = due(capped, 365)[2]
    assert charge.rule == (
        "Step 3: 365 days late (due Dec 31, 2026), 10% of $200.00; penalties capped at "
        "$50.00 in all"
    )
    # Once the cap is reached nothing more is ever added.
    assert due(capped, 365, charged={1: D(20), 2: D(20), 3: D(10)}) == []


def test_total_cap_as_an_amount_and_a_step_cap():
    amount_cap = schedule(max_total_percent=None, max_total_amount=D("30.00"))
    assert steps(due(amount_cap, 61)) == [(1, D("20.00")), (2, D("10.00"))]
    rule = PenaltyRuleData(9, 1, 1, "percent", D("10"), None, D("15.00"), "Capped step")
    step_cap = schedule(rules=(rule,), max_total_percent=None)
    assert steps(due(step_cap, 5, base="600.00")) == [(1, D("15.00"))]
    assert "step cap $15.00" in due(step_cap, 5, base="600.00")[0].rule


def test_fixed_penalties_and_rounding_half_up():
    fixed = PenaltyRuleData(7, 1, 1, "fixed", None, D("25.00"), None, "Late fee")
    assert steps(due(schedule(rules=(fixed,), max_total_percent=None), 3)) == [(1, D("25.00"))]
    odd = PenaltyRuleData(8, 1, 1, "percent", D("12.5"), None, None, "12.5%")
    assert steps(due(schedule(rules=(odd,)), 3, base="100.02")) == [(1, D("12.50"))]
    assert steps(due(schedule(rules=(odd,)), 3, base="100.04")) == [(1, D("12.51"))]  # 12.505


def test_grace_period():
    grace = schedule(grace_days=10)
    assert due(grace, 10) == []
    assert steps(due(grace, 11)) == [(1, D("20.00"))]


def test_due_and_lapse_dates_follow_the_schedule():
    sched = schedule()
    assert sched.due_date(2027) == date(2026, 12, 31)
    assert sched.lapse_date(2027) == date(2027, 4, 1)  # 90 days after Dec 31 is Mar 31
    feb = schedule(due_month=2, due_day=30, due_in_prior_year=False)
    assert feb.due_date(2027) == date(2027, 2, 28)


@pytest.mark.django_db
def test_default_schedule_is_kents_10_percent_a_month_up_to_50():
    sched = penalty_schedule_for_year(2027)
    assert sched.due_date(2027) == date(2026, 12, 31)
    assert [(r.days_late, r.rate) for r in sched.rules] == [
        (1, D("10")),
        (31, D("10")),
        (61, D("10")),
        (91, D("10")),
        (121, D("10")),
    ]
    assert sched.max_total_percent == D("50") and sched.lapse_after_days == 90


@pytest.mark.django_db
def test_daily_run_expires_penalizes_once_and_lapses(technician):
    late = make_license(make_business(fte_employees=D("30")), year=2026)
    paid = make_license(make_business(legal_name="Paid Up Inc", location_line1="2 Main"), year=2026)
    late_invoice = renewal_invoice_create(license=late, year=2027, user=technician)
    paid_invoice = renewal_invoice_create(license=paid, year=2027, user=technician)
    pay(paid_invoice, ("BL-GEN", "100.00"), ("BL-FIRE", "112.93"), ("BL-TECH", "1.00"))

    on_time = penalties_assess(as_of=date(2026, 12, 31), user=None)
    assert (on_time.expired, on_time.penalty_lines, on_time.lapsed) == (0, 0, 0)

    jan1 = penalties_assess(as_of=date(2027, 1, 1), user=None)
    assert (jan1.expired, jan1.invoices_penalized, jan1.penalty_amount) == (1, 1, D("20.00"))
    late.refresh_from_db()
    assert late.status == LicenseStatus.EXPIRED
    assert late.status_changes.latest("pk").reason == "License year 2026 ended on Dec 31, 2026"
    paid.refresh_from_db()
    assert (paid.status, paid.license_year) == ("active", 2027)

    again = penalties_assess(as_of=date(2027, 1, 1), user=None)
    assert (again.expired, again.penalty_lines) == (0, 0)

    penalties_assess(as_of=date(2027, 2, 15), user=None)
    late_invoice.refresh_from_db()
    lines = late_invoice.lines.filter(kind=LicenseInvoiceLine.PENALTY).order_by("position")
    assert [(line.fee_code, line.amount, line.position) for line in lines] == [
        ("BL-PEN", D("20.00"), 4),
        ("BL-PEN", D("20.00"), 5),
    ]
    assert lines[1].rule == (
        "Late penalty, 31–60 days late: 46 days late (due Dec 31, 2026), 10% of $200.00"
    )
    assert (late_invoice.total, late_invoice.amount_due) == (D("353.93"), D("353.93"))
    item = get_target_type("license").load([late_invoice.number])[late_invoice.number]
    assert item.components[-1] == ("BL-PEN", D("40.00"))
    assert "Includes $40.00 in late penalties." in item.warnings

    march31 = penalties_assess(as_of=date(2027, 3, 31), user=None)
    assert march31.lapsed == 0
    april1 = penalties_assess(as_of=date(2027, 4, 1), user=None)
    assert april1.lapsed == 1
    late.refresh_from_db()
    assert late.status == LicenseStatus.LAPSED
    assert late.status_changes.latest("pk").reason == (
        "Not renewed for 2027: 90 days past the Dec 31, 2026 due date"
    )

    penalties_assess(as_of=date(2027, 12, 1), user=None)
    late_invoice.refresh_from_db()
    assert late_invoice.lines.filter(kind="penalty").count() == 5
    assert sum(
        late_invoice.lines.filter(kind="penalty").values_list("amount", flat=True), D(0)
    ) == D("100.00")  # capped at 50% of $200
    assert late_invoice.total == D("413.93")

    # Paying everything reinstates the lapsed license for 2027.
    pay(
        late_invoice,
        ("BL-GEN", "200.00"),
        ("BL-FIRE", "112.93"),
        ("BL-TECH", "1.00"),
        ("BL-PEN", "100.00"),
        receipt=3001,
    )
    late.refresh_from_db()
    assert (late.status, late.license_year) == ("active", 2027)
