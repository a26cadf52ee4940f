"""License screens: the status history, changing a status (allowed, refused, reason
required), the certificate as print view and PDF, invoices seen from the counter."""

from datetime import date

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from licensing.models import LicenseInvoice, LicenseStatus, LicenseStatusChange
from tests.licensing.factories import approved_license, make_business, make_license
from tests.licensing.views_support import messages_of, pdf_page_count

pytestmark = pytest.mark.django_db
S = LicenseStatus


@pytest.fixture
def business():
    return make_business(
        legal_name="Green River Coffee Roasters LLC",
        trade_name="Riverbend Coffee",
        location_line1="8430 S 212th St",
        location_zip="98031",
    )


@pytest.fixture
def license(business):
    return make_license(business, year=2026, issued_on=date(2024, 5, 2))


def status_url(license):
    return reverse("licensing:license-status", args=[license.pk])


def test_license_page_shows_each_status_change_with_actor_and_reason(
    client_for, technician, supervisor, license
):
    client_for(technician).post(
        status_url(license), {"to_status": "suspended", "reason": "Health permit expired"}
    )
    client = client_for(supervisor)
    response = client.get(license.get_absolute_url())
    history = response.context["history"]
    assert [(c.action, c.from_status, c.to_status) for c in history] == [
        ("imported", "", "active"),
        ("suspended", "active", "suspended"),
    ]
    page = response.content.decode()
    assert "Suspended: Active → Suspended" in page
    assert "Health permit expired" in page
    assert ">technician<" in page
    assert "Change status" not in page  # supervisors read, technicians change


def test_suspend_with_a_reason(client_for, technician, license):
    response = client_for(technician).post(
        status_url(license),
        {"to_status": "suspended", "reason": "Fire code violation, case 26-114"},
    )
    assert response.status_code == 302
    assert messages_of(response)[-1] == f"License {license.display_number} is now suspended."
    license.refresh_from_db()
    assert license.status == S.SUSPENDED
    change = LicenseStatusChange.objects.filter(license=license).latest("changed_at", "pk")
    assert (change.reason, change.changed_by, change.effective_on) == (
        "Fire code violation, case 26-114",
        technician,
        timezone.localdate(),
    )


def test_a_reason_is_required(client_for, technician, license):
    response = client_for(technician).post(status_url(license), {"to_status": "revoked"})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["This field is required."]
    license.refresh_from_db()
    assert license.status == S.ACTIVE


def test_a_change_only_the_system_makes_is_refused_with_the_reason(client_for, technician, license):
    response = client_for(technician).post(
        status_url(license), {"to_status": "expired", "reason": "Year over"}
    )
    assert response.status_code == 200
    refusal = (
        "A license that is active becomes expired only through payment or the daily "
        "expiry run, not by hand."
    )
    assert refusal in response.content.decode()
    assert refusal in messages_of(response)
    license.refresh_from_db()
    assert license.status == S.ACTIVE
    assert LicenseStatusChange.objects.filter(license=license).count() == 1


def test_only_allowed_changes_are_offered(client_for, technician, license):
    response = client_for(technician).get(status_url(license))
    offered = [value for value, _ in response.context["choices"]]
    assert offered == ["suspended", "revoked", "closed"]
    closed = make_license(
        make_business(legal_name="Closed Shop", location_line1="9 Closed Rd"), status=S.CLOSED
    )
    page = client_for(technician).get(status_url(closed)).content.decode()
    assert "A license that is closed cannot be changed by hand." in page


def test_supervisors_cannot_change_status(client_for, supervisor, license):
    response = client_for(supervisor).post(
        status_url(license), {"to_status": "suspended", "reason": "x"}
    )
    assert response.status_code == 403
    license.refresh_from_db()
    assert license.status == S.ACTIVE


# --- certificate ----------------------------------------------------------------------


@override_settings(
    CITY_NAME="City of Kent", KENT_CITY_ADDRESS_LINES=["220 Fourth Avenue South", "Kent, WA 98032"]
)
def test_certificate_print_view_has_what_hangs_on_the_wall(client_for, supervisor, license):
    response = client_for(supervisor).get(
        reverse("licensing:license-certificate", args=[license.pk])
    )
    page = response.content.decode()
    for text in (
        "City of Kent",
        "220 Fourth Avenue South",
        "Kent, WA 98032",
        "Business License",
        license.display_number,
        "Green River Coffee Roasters LLC",
        "Riverbend Coffee",
        "8430 S 212th St, Kent WA 98031",
        "General business license",
        "Valid through December 31, 2026",
    ):
        assert text in page, text
    assert "data-print" in page  # the Print button
    assert reverse("licensing:license-certificate-pdf", args=[license.pk]) in page


def test_certificate_pdf_is_one_page(client_for, technician, license):
    response = client_for(technician).get(
        reverse("licensing:license-certificate-pdf", args=[license.pk])
    )
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert f"business-license-{license.display_number}-2026.pdf" in response["Content-Disposition"]
    assert pdf_page_count(response.content) == 1


def test_no_certificate_before_the_license_is_paid(client_for, technician, business):
    pending = approved_license(business, technician, issue_date=date(2026, 3, 16))
    client = client_for(technician)
    for name in ("licensing:license-certificate", "licensing:license-certificate-pdf"):
        response = client.get(reverse(name, args=[pending.pk]))
        assert response.status_code == 302 and response["Location"] == pending.get_absolute_url()
        assert "pending payment" in messages_of(response)[-1]
    assert "Print certificate" not in client.get(pending.get_absolute_url()).content.decode()


def test_certificate_is_refused_to_cashiers(client_for, cashier, license):
    url = reverse("licensing:license-certificate-pdf", args=[license.pk])
    assert client_for(cashier).get(url).status_code == 403


# --- invoices and the renewal invoice of one license ----------------------------------


def test_cashiers_see_an_invoice_and_where_to_pay_it(client_for, cashier, technician, business):
    pending = approved_license(business, technician, issue_date=date(2026, 3, 16))
    invoice = pending.invoices.get()
    response = client_for(cashier).get(invoice.get_absolute_url())
    page = response.content.decode()
    assert f"Payable at the counter under invoice number <strong>{invoice.number}</strong>" in page
    assert "The license is issued when it is paid in full." in page
    assert [line.fee_code for line in response.context["lines"]] == ["BL-GEN", "BL-FIRE", "BL-TECH"]
    assert business.get_absolute_url() not in page  # no link to a page a cashier cannot open


def test_invoice_is_refused_to_people_without_a_role(client_for, outsider, technician, business):
    invoice = approved_license(business, technician, issue_date=date(2026, 3, 16)).invoices.get()
    assert client_for(outsider).get(invoice.get_absolute_url()).status_code == 403


def test_renewal_invoice_of_one_license(client_for, technician, license):
    client = client_for(technician)
    assert (
        "Create renewal invoice for 2027" in client.get(license.get_absolute_url()).content.decode()
    )
    response = client.post(reverse("licensing:license-renewal-invoice", args=[license.pk]))
    invoice = LicenseInvoice.objects.get(license=license, year=2027)
    assert invoice.kind == "renewal"
    assert (
        f"payable at the counter under invoice number {invoice.number}" in messages_of(response)[-1]
    )
    response = client.post(reverse("licensing:license-renewal-invoice", args=[license.pk]))
    assert f"already has invoice {invoice.number}" in messages_of(response)[-1]
    assert LicenseInvoice.objects.filter(license=license, year=2027).count() == 1
