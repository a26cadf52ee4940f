"""Applications through the screens: intake, department reviews, approval creating the
license and its invoice, denial and withdrawal with reasons, who may do each."""

from datetime import date

import pytest
from django.urls import reverse

from licensing.models import Application, License, LicenseInvoice, LicenseStatus, Review
from licensing.services.applications import application_submit
from tests.licensing.factories import license_type, make_business, make_license
from tests.licensing.views_support import messages_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def business():
    return make_business(legal_name="Kent Station Noodles LLC", fte_employees="8")


@pytest.fixture
def application(business, technician):
    return application_submit(
        business=business,
        license_type=license_type("GEN"),  # fire and planning reviews
        requested_start=date(2026, 3, 16),
        received_on=date(2026, 3, 16),
        user=technician,
    )


def review_of(application, department) -> Review:
    return application.reviews.get(department=department)


def test_technician_takes_an_application_through_reviews_to_approval(client_for, technician):
    business = make_business(legal_name="Kent Station Noodles LLC", fte_employees="8")
    client = client_for(technician)

    # Intake
    response = client.post(
        reverse("licensing:application-create", args=[business.pk]),
        {
            "license_type": license_type("GEN").pk,
            "requested_start": "2026-03-16",
            "received_on": "2026-03-16",
            "notes": "Opening in April",
        },
    )
    application = Application.objects.get(business=business)
    assert response["Location"] == application.get_absolute_url()
    assert "waiting on reviews by Fire, Planning and zoning" in messages_of(response)[-1]
    fire, planning = review_of(application, "fire"), review_of(application, "planning")

    # Approval is refused while a review is open.
    response = client.post(reverse("licensing:application-approve", args=[application.pk]))
    assert "Every review must be approved first" in messages_of(response)[-1]
    assert not License.objects.filter(business=business).exists()

    # Fire approves; planning cannot reject without saying why, then approves.
    response = client.post(reverse("licensing:review-approve", args=[fire.pk]))
    assert "Fire review approved." in messages_of(response)[-1]
    response = client.post(reverse("licensing:review-reject", args=[planning.pk]))
    assert response.status_code == 200
    assert "Say why the review is rejected." in response.content.decode()
    planning.refresh_from_db()
    assert planning.status == Review.Status.PENDING
    response = client.post(
        reverse("licensing:review-approve", args=[planning.pk]),
        {f"review-{planning.pk}-notes": "Zoning GC allows restaurants"},
    )
    planning.refresh_from_db()
    assert (planning.status, planning.notes, planning.reviewer) == (
        "approved",
        "Zoning GC allows restaurants",
        technician,
    )

    # Approval creates the license, pending payment, and its invoice.
    response = client.post(reverse("licensing:application-approve", args=[application.pk]))
    license = License.objects.get(business=business)
    invoice = LicenseInvoice.objects.get(license=license)
    assert (license.status, license.application_id) == (LicenseStatus.PENDING, application.pk)
    assert (invoice.kind, invoice.status, invoice.total) == ("new", "open", invoice.amount_due)
    assert (
        f"License {license.display_number} is pending payment of ${invoice.amount_due:,.2f}, "
        f"payable at the counter under invoice number {invoice.number}."
    ) in messages_of(response)[-1]
    page = client.get(application.get_absolute_url()).content.decode()
    assert f"License {license.display_number} created, pending payment" in page
    assert f"Payable at the counter under invoice number <strong>{invoice.number}</strong>" in page
    assert "Approve application" not in page


def test_rejected_review_blocks_approval(client_for, technician, application):
    client = client_for(technician)
    fire = review_of(application, "fire")
    client.post(
        reverse("licensing:review-reject", args=[fire.pk]),
        {f"review-{fire.pk}-notes": "No sprinklers in the kitchen"},
    )
    fire.refresh_from_db()
    assert (fire.status, fire.notes) == ("rejected", "No sprinklers in the kitchen")
    page = client.get(application.get_absolute_url()).content.decode()
    assert "still open or rejected: Fire, Planning and zoning" in page
    assert "Approve application" not in page


def test_deny_needs_a_reason(client_for, technician, application):
    client = client_for(technician)
    url = reverse("licensing:application-deny", args=[application.pk])
    response = client.post(url, {"deny-reason": ""})
    assert response.status_code == 200
    assert response.context["deny_form"].errors["reason"] == ["This field is required."]
    response = client.post(url, {"deny-reason": "Not allowed in this zone"})
    application.refresh_from_db()
    assert (application.status, application.decision_reason, application.decided_by) == (
        "denied",
        "Not allowed in this zone",
        technician,
    )
    assert messages_of(response)[-1] == f"{application} denied."


def test_withdraw_with_a_reason(client_for, technician, application):
    response = client_for(technician).post(
        reverse("licensing:application-withdraw", args=[application.pk]),
        {"withdraw-reason": "Applicant moved to Auburn"},
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.status, application.decision_reason) == (
        "withdrawn",
        "Applicant moved to Auburn",
    )


def test_intake_refuses_a_license_the_business_already_holds(client_for, technician, business):
    make_license(business, code="GEN")
    response = client_for(technician).post(
        reverse("licensing:application-create", args=[business.pk]),
        {
            "license_type": license_type("GEN").pk,
            "requested_start": "2026-03-16",
            "received_on": "2026-03-16",
        },
    )
    assert response.status_code == 200
    assert "already holds General business license" in response.content.decode()
    assert not Application.objects.exists()


def test_intake_asks_for_units_on_per_unit_licenses(client_for, technician, business):
    response = client_for(technician).post(
        reverse("licensing:application-create", args=[business.pk]),
        {
            "license_type": license_type("RENT").pk,
            "requested_start": "2026-03-16",
            "received_on": "2026-03-16",
        },
    )
    assert response.context["form"].errors["units"] == ["Enter the number of rental housing units."]


def test_supervisors_see_applications_but_cannot_decide(client_for, supervisor, application):
    client = client_for(supervisor)
    page = client.get(application.get_absolute_url())
    assert page.status_code == 200
    assert "Approve fire review" not in page.content.decode()
    fire = review_of(application, "fire")
    assert client.post(reverse("licensing:review-approve", args=[fire.pk])).status_code == 403
    url = reverse("licensing:application-deny", args=[application.pk])
    assert client.post(url, {"deny-reason": "No"}).status_code == 403
    fire.refresh_from_db()
    application.refresh_from_db()
    assert (fire.status, application.status) == ("pending", "in_review")


def test_cashiers_cannot_see_applications(client_for, cashier, application):
    assert client_for(cashier).get(application.get_absolute_url()).status_code == 403
    assert client_for(cashier).get(reverse("licensing:application-list")).status_code == 403


def test_review_list_filters_by_department_in_constant_queries(
    client_for, technician, django_assert_max_num_queries
):
    for index in range(12):
        business = make_business(
            legal_name=f"Applicant {index} LLC", location_line1=f"{index} Fourth Ave S"
        )
        application_submit(
            business=business,
            license_type=license_type("PAWN" if index % 3 == 0 else "HOME"),
            requested_start=date(2026, 3, 16),
            user=technician,
        )
    client = client_for(technician)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("licensing:application-list"))
    assert response.context["page"].paginator.count == 12
    police = client.get(reverse("licensing:application-list"), {"department": "police"})
    assert police.context["page"].paginator.count == 4
    assert "awaiting Police" in police.content.decode()
