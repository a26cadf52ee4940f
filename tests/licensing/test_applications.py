"""Applications: reviews by license type, approval creates a numbered pending license and
its invoice, denial and withdrawal with reasons."""

from datetime import date
from decimal import Decimal

import pytest

from licensing.models import Application, LicenseInvoice, LicenseStatus, Review
from licensing.selectors.applications import applications_in_review
from licensing.services.applications import (
    application_approve,
    application_deny,
    application_submit,
    application_withdraw,
    review_decide,
)
from licensing.services.common import LicensingError
from tests.licensing.factories import approved_license, license_type, make_business, make_license

D = Decimal
pytestmark = pytest.mark.django_db
MARCH = date(2026, 3, 16)


def submit(business, user, code="GEN", **kwargs):
    return application_submit(
        business=business,
        license_type=license_type(code),
        requested_start=kwargs.pop("requested_start", MARCH),
        user=user,
        **kwargs,
    )


def test_reviews_follow_the_license_type(technician):
    business = make_business()
    general = submit(business, technician)
    assert sorted(general.reviews.values_list("department", flat=True)) == ["fire", "planning"]
    pawn = submit(
        make_business(legal_name="Kent Pawn", location_line1="2 Main"), technician, "PAWN"
    )
    assert sorted(pawn.reviews.values_list("department", flat=True)) == [
        "fire",
        "planning",
        "police",
    ]
    contractor = submit(
        make_business(legal_name="Auburn Roofing", location_line1="3 Main"), technician, "CONT"
    )
    assert not contractor.reviews.exists()


def test_approval_waits_for_every_review(technician, supervisor):
    application = submit(make_business(), technician)
    fire, planning = application.reviews.order_by("department")
    review_decide(review=fire, user=supervisor, approved=True)
    with pytest.raises(LicensingError, match="still open or rejected: Planning and zoning"):
        application_approve(application=application, user=technician, issue_date=MARCH)
    with pytest.raises(LicensingError, match="Say why"):
        review_decide(review=planning, user=supervisor, approved=False)
    review_decide(review=planning, user=supervisor, approved=False, notes="Not zoned for retail")
    with pytest.raises(LicensingError, match="Planning and zoning"):
        application_approve(application=application, user=technician, issue_date=MARCH)
    with pytest.raises(LicensingError, match="already done"):
        review_decide(review=planning, user=supervisor, approved=True)
    denied = application_deny(application=application, user=technician, reason="Zoning")
    assert denied.status == Application.Status.DENIED
    assert denied.decision_reason == "Zoning"


def test_approval_creates_a_pending_license_and_its_invoice(technician):
    business = make_business(fte_employees=D("30"))
    license = approved_license(business, technician, issue_date=date(2026, 8, 3))
    assert license.status == LicenseStatus.PENDING
    assert license.license_year == 2026
    assert license.expires_on == date(2026, 12, 31)
    assert license.issued_on is None
    assert license.display_number.startswith("BL")
    invoice = license.invoices.get()
    assert invoice.kind == "new"
    assert invoice.number == f"L2026-{invoice.seq:05d}"
    assert [(line.fee_code, line.amount) for line in invoice.lines.order_by("position")] == [
        ("BL-GEN", D("100.00")),  # 25-49 FTE, halved: issued after July 1
        ("BL-FIRE", D("112.93")),
        ("BL-TECH", D("1.00")),
    ]
    assert invoice.total == invoice.amount_due == D("213.93")
    assert invoice.lines.first().rule.endswith("halved: new license issued after July 1")
    change = license.status_changes.get()
    assert (change.action, change.to_status, change.changed_by) == (
        "created",
        "pending",
        technician,
    )


def test_requested_start_next_year_is_priced_and_dated_for_that_year(technician):
    license = approved_license(make_business(), technician, issue_date=date(2026, 12, 10))
    assert license.license_year == 2026
    application = submit(
        make_business(legal_name="Scenic Hill Florist", location_line1="9 Hill"),
        technician,
        requested_start=date(2027, 1, 1),
    )
    for review in application.reviews.all():
        review_decide(review=review, user=technician, approved=True)
    next_year = application_approve(
        application=application, user=technician, issue_date=date(2026, 12, 10)
    )
    assert next_year.license_year == 2027
    assert next_year.invoices.get().lines.first().amount == D("100.00")  # not halved in January


def test_license_and_application_numbers_are_gapless(technician):
    business = make_business()
    first = approved_license(business, technician, issue_date=MARCH)
    second = approved_license(
        make_business(legal_name="Kent Station Dental", location_line1="5 Main"),
        technician,
        issue_date=MARCH,
    )
    assert second.number == first.number + 1
    assert second.application.number == first.application.number + 1
    invoices = LicenseInvoice.objects.filter(year=2026).order_by("seq")
    assert [i.seq for i in invoices] == [1, 2]


def test_one_application_in_review_and_no_second_license_of_a_type(technician):
    business = make_business()
    submit(business, technician)
    with pytest.raises(LicensingError, match="already has a General business license application"):
        submit(business, technician)
    other = make_business(legal_name="Mill Creek Cafe", location_line1="7 Main")
    license = make_license(other)
    with pytest.raises(LicensingError, match=f"already holds .* {license.display_number}"):
        submit(other, technician)


def test_units_are_required_for_per_unit_types(technician):
    with pytest.raises(LicensingError, match="rental housing units"):
        submit(make_business(), technician, "RENT")


def test_withdraw_and_decided_applications_are_final(technician):
    application = submit(make_business(), technician)
    with pytest.raises(LicensingError, match="Enter the reason"):
        application_withdraw(application=application, user=technician, reason=" ")
    application_withdraw(application=application, user=technician, reason="Moved to Auburn")
    with pytest.raises(LicensingError, match="already withdrawn"):
        application_deny(application=application, user=technician, reason="x")
    assert Review.objects.filter(application=application, status="pending").count() == 2


def test_fully_exempt_new_license_is_issued_on_approval(technician):
    business = make_business(ownership_type="government", inside_city_limits=False)
    license = approved_license(business, technician, issue_date=MARCH)
    assert license.status == LicenseStatus.ACTIVE
    assert license.issued_on == MARCH
    invoice = license.invoices.get()
    assert (invoice.status, invoice.total, invoice.paid_on) == ("paid", D("0.00"), MARCH)
    assert license.status_changes.latest("pk").reason == (
        "Nothing to pay (exempt: government agency)"
    )


def test_queue_by_department(technician):
    application = submit(make_business(), technician)
    fire = application.reviews.get(department="fire")
    assert list(applications_in_review(department="fire")) == [application]
    review_decide(review=fire, user=technician, approved=True)
    assert list(applications_in_review(department="fire")) == []
    assert list(applications_in_review(department="planning")) == [application]
