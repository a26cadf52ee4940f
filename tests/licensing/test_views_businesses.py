"""Business screens: search by every identifier, the business page, registering with
duplicate checks, editing, closing and reopening, contacts, history export, fee preview."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from licensing.models import Business, Contact, LicenseStatus, LicenseStatusChange
from licensing.services.businesses import contact_add
from tests.licensing.factories import approved_license, make_business, make_license
from tests.licensing.views_support import messages_of, pdf_page_count

pytestmark = pytest.mark.django_db
D = Decimal


def search(client, q: str, **extra):
    return client.get(reverse("licensing:business-search"), {"q": q, **extra})


def found(response) -> list[str]:
    return [b.legal_name for b in response.context["page"].object_list]


def form_data(**overrides) -> dict:
    data = {
        "legal_name": "Green River Pho LLC",
        "trade_name": "Green River Pho",
        "ubi": "603 555 111",
        "ownership_type": "llc",
        "naics_code": "722511",
        "location_line1": "25620 104th Ave SE",
        "location_city": "Kent",
        "location_state": "WA",
        "location_zip": "98030",
        "inside_city_limits": "on",
        "fte_employees": "6",
        "opened_on": "2026-02-01",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- search ---------------------------------------------------------------------------


@pytest.fixture
def bakery(technician):
    business = make_business(
        legal_name="Meeker Street Bakery LLC",
        trade_name="Rosa's Bakery",
        ubi="602777001",
        location_line1="1220 W Meeker St",
    )
    contact_add(business=business, data={"name": "Rosa Diaz", "role": "owner"}, user=technician)
    return business


def test_search_finds_a_business_by_each_identifier(client_for, technician, bakery):
    license = make_license(bakery)
    license.legacy_number = "K-20931"
    license.save(update_fields=["legacy_number"])
    make_business(legal_name="Kent Station Dental PLLC", location_line1="417 Ramsay Way")
    client = client_for(technician)
    for query in (
        "meeker bakry",  # a typo in the name
        "rosas bakery",  # the trade name
        "602 777 001",  # the UBI as printed
        license.display_number,
        str(license.number),
        "K-20931",  # the number in the old system
        "1220 West Meeker Street",  # the address, written out in full
        "Rosa Diaz",  # the owner
    ):
        response = search(client, query)
        assert found(response)[:1] == ["Meeker Street Bakery LLC"], query


def test_search_leaves_closed_businesses_out_unless_asked(client_for, technician, bakery):
    from licensing.services.businesses import business_close

    business_close(business=bakery, user=technician, closed_on=date(2026, 3, 1), reason="Sold")
    client = client_for(technician)
    assert found(search(client, "meeker bakery")) == []
    assert found(search(client, "meeker bakery", include_closed="on")) == [bakery.legal_name]


def test_search_pages_in_a_constant_number_of_queries(
    client_for, technician, django_assert_max_num_queries
):
    for index in range(30):
        business = make_business(
            legal_name=f"Query Count {index} LLC", location_line1=f"{index} Central Ave N"
        )
        make_license(business)
        make_license(business, code="HOME")
    client = client_for(technician)
    with django_assert_max_num_queries(12):
        response = search(client, "query count")
    assert len(found(response)) == 30
    assert b"BL0" in response.content


def test_search_is_refused_to_cashiers(client_for, cashier):
    assert search(client_for(cashier), "bakery").status_code == 403


# --- the business page ----------------------------------------------------------------


def test_business_page_shows_contacts_licenses_invoices_and_history(client_for, technician, bakery):
    license = approved_license(bakery, technician, issue_date=date(2026, 3, 16))
    invoice = license.invoices.get()
    response = client_for(technician).get(bakery.get_absolute_url())
    page = response.content.decode()
    assert "Rosa Diaz" in page
    assert license.display_number in page
    assert f"payable at the counter under invoice number {invoice.number}" in page
    assert f"${invoice.amount_due:,.2f} due" in page
    # The readable history: the license's creation with its reason, the application.
    timeline = response.context["timeline"]
    assert any(e.subject == f"License {license.display_number}" for e in timeline)
    assert any(e.subject.startswith("Application") for e in timeline)
    assert "Export history (PDF)" in page


def test_business_page_queries_do_not_grow_with_its_records(
    client_for, technician, django_assert_max_num_queries
):
    business = make_business(legal_name="Busy Body Shop LLC")
    for code in ("GEN", "HOME", "CONT"):
        make_license(business, code=code)
    for name in ("Ann", "Bo", "Cy"):
        contact_add(business=business, data={"name": name, "role": "manager"}, user=technician)
    client = client_for(technician)
    with django_assert_max_num_queries(30):
        assert client.get(business.get_absolute_url()).status_code == 200


def test_business_page_is_refused_to_cashiers(client_for, cashier, bakery):
    assert client_for(cashier).get(bakery.get_absolute_url()).status_code == 403


# --- registering and duplicates -------------------------------------------------------


def test_technician_registers_a_business(client_for, technician):
    response = client_for(technician).post(reverse("licensing:business-create"), form_data())
    business = Business.objects.get(ubi="603555111")
    assert response.status_code == 302 and response["Location"] == business.get_absolute_url()
    assert (business.legal_name, business.fte_employees) == ("Green River Pho LLC", D("6"))
    assert "Registered Green River Pho LLC (DBA Green River Pho)" in messages_of(response)[0]


def test_same_ubi_as_an_open_business_is_refused_with_a_link(client_for, technician, bakery):
    client = client_for(technician)
    data = form_data(ubi="602-777-001", confirm_duplicate="on")
    response = client.post(reverse("licensing:business-create"), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "This business is already on file" in page
    assert f'href="{bakery.get_absolute_url()}"' in page
    assert Business.objects.filter(ubi="602777001").count() == 1
    assert not Business.objects.filter(legal_name="Green River Pho LLC").exists()


def test_similar_name_at_the_same_address_needs_confirming(client_for, technician, bakery):
    client = client_for(technician)
    data = form_data(
        legal_name="Meeker St Bakery",
        trade_name="",
        location_line1="1220 West Meeker Street",
        location_zip="98032",
    )
    response = client.post(reverse("licensing:business-create"), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "This may be a business already on file" in page
    assert f'href="{bakery.get_absolute_url()}"' in page
    assert "This is a different business" in page  # the checkbox to confirm
    assert not Business.objects.filter(ubi="603555111").exists()

    response = client.post(
        reverse("licensing:business-create"), {**data, "confirm_duplicate": "on"}
    )
    assert response.status_code == 302
    assert Business.objects.get(ubi="603555111").legal_name == "Meeker St Bakery"


def test_bad_ubi_is_shown_beside_the_field(client_for, technician):
    response = client_for(technician).post(
        reverse("licensing:business-create"), form_data(ubi="60255511")
    )
    errors = response.context["form"].errors
    assert errors["ubi"] == [
        "A UBI number is nine digits (or sixteen with the branch and location numbers); "
        "this one has 8."
    ]


def test_the_states_sixteen_digit_ubi_is_read_as_its_parts(client_for, technician):
    """Washington prints UBI, branch and location as one 16-digit number; the form takes
    it as printed, and the edit form gives it back whole so a save keeps the branch."""
    client = client_for(technician)
    response = client.post(
        reverse("licensing:business-create"), form_data(ubi="603 555 111 002 0003")
    )
    business = Business.objects.get(ubi="603555111")
    assert response.status_code == 302
    assert (business.ubi_branch, business.ubi_location) == ("002", "0003")

    edit_url = reverse("licensing:business-edit", args=[business.pk])
    assert client.get(edit_url).context["form"].initial["ubi"] == "6035551110020003"
    data = form_data(ubi="6035551110020003", fte_employees="7", reason="Hired")
    assert client.post(edit_url, data).status_code == 302
    business.refresh_from_db()
    assert (business.ubi, business.ubi_branch, business.ubi_location) == (
        "603555111",
        "002",
        "0003",
    )
    assert business.fte_employees == D("7")


def test_supervisors_cannot_register_businesses(client_for, supervisor):
    response = client_for(supervisor).post(reverse("licensing:business-create"), form_data())
    assert response.status_code == 403
    assert not Business.objects.filter(ubi="603555111").exists()


# --- editing, closing, reopening ------------------------------------------------------


def test_edit_keeps_the_reason_in_history(client_for, technician, bakery):
    client = client_for(technician)
    data = {
        **form_data(
            legal_name=bakery.legal_name,
            trade_name=bakery.trade_name,
            ubi=bakery.ubi,
            location_line1=bakery.location_line1,
            location_zip=bakery.location_zip,
            naics_code=bakery.naics_code,
            opened_on=bakery.opened_on.isoformat(),
        ),
        "fte_employees": "31",
        "reason": "Hired a second shift",
    }
    response = client.post(reverse("licensing:business-edit", args=[bakery.pk]), data)
    assert response.status_code == 302
    bakery.refresh_from_db()
    assert bakery.fte_employees == D("31")
    detail = client.get(bakery.get_absolute_url())
    changed = [e for e in detail.context["timeline"] if e.action == "changed"]
    assert changed[0].reason == "Hired a second shift"
    assert ("FTE employees", "12.00", "31.00") in changed[0].changes


def test_close_and_reopen_with_reasons(client_for, technician, bakery):
    license = make_license(bakery)
    client = client_for(technician)
    url = reverse("licensing:business-close", args=[bakery.pk])
    response = client.post(url, {"closed_on": "2026-03-10", "reason": ""})
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    response = client.post(url, {"closed_on": "2026-03-10", "reason": "Owner retired"})
    assert response.status_code == 302
    bakery.refresh_from_db()
    license.refresh_from_db()
    assert (bakery.status, bakery.closed_reason) == ("closed", "Owner retired")
    assert license.status == LicenseStatus.CLOSED
    assert LicenseStatusChange.objects.filter(
        license=license, to_status="closed", changed_by=technician
    ).exists()

    response = client.post(
        reverse("licensing:business-reopen", args=[bakery.pk]), {"reason": "Daughter took over"}
    )
    assert response.status_code == 302
    bakery.refresh_from_db()
    assert bakery.status == "open"
    assert "Its licenses stay closed" in messages_of(response)[-1]


def test_supervisors_cannot_close_businesses(client_for, supervisor, bakery):
    url = reverse("licensing:business-close", args=[bakery.pk])
    response = client_for(supervisor).post(url, {"closed_on": "2026-03-10", "reason": "x"})
    assert response.status_code == 403
    bakery.refresh_from_db()
    assert bakery.status == "open"


# --- contacts -------------------------------------------------------------------------


def test_contacts_are_added_edited_and_removed_but_kept(client_for, technician, bakery):
    client = client_for(technician)
    response = client.post(
        reverse("licensing:contact-add", args=[bakery.pk]),
        {"name": "Sam Ortiz", "role": "manager", "phone": "253-555-0199", "email": ""},
    )
    assert response.status_code == 302
    contact = Contact.objects.get(name="Sam Ortiz")
    response = client.post(
        reverse("licensing:contact-edit", args=[contact.pk]),
        {"name": "Sam Ortiz", "role": "manager", "phone": "12", "email": ""},
    )
    assert response.context["form"].errors["phone"] == ["Enter a phone number with its area code."]
    response = client.post(
        reverse("licensing:contact-edit", args=[contact.pk]),
        {"name": "Sam Ortiz", "role": "billing", "phone": "253-555-0199", "is_primary": "on"},
    )
    contact.refresh_from_db()
    assert (contact.role, contact.is_primary) == ("billing", True)
    assert not Contact.objects.get(name="Rosa Diaz").is_primary

    response = client.post(
        reverse("licensing:contact-remove", args=[contact.pk]), {"reason": "Left the company"}
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert not contact.is_active
    shown = client.get(bakery.get_absolute_url()).context["contacts"]
    assert [c.name for c in shown] == ["Rosa Diaz"]


def test_supervisors_cannot_remove_contacts(client_for, supervisor, bakery):
    contact = bakery.contacts.get()
    response = client_for(supervisor).post(reverse("licensing:contact-remove", args=[contact.pk]))
    assert response.status_code == 403
    contact.refresh_from_db()
    assert contact.is_active


# --- history export and notices -------------------------------------------------------


def test_history_exports_as_pdf_and_print_view(client_for, supervisor, technician, bakery):
    approved_license(bakery, technician, issue_date=date(2026, 3, 16))
    client = client_for(supervisor)
    response = client.get(reverse("licensing:business-history-pdf", args=[bakery.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert f"business-history-{bakery.ubi}-" in response["Content-Disposition"]
    assert pdf_page_count(response.content) >= 1
    page = client.get(reverse("licensing:business-history-print", args=[bakery.pk]))
    text = page.content.decode()
    assert "History of Meeker Street Bakery LLC" in text
    assert "Every recorded change, oldest first" in text
    assert "Rosa Diaz" in text and "Application" in text


def test_history_is_refused_to_cashiers(client_for, cashier, bakery):
    url = reverse("licensing:business-history-pdf", args=[bakery.pk])
    assert client_for(cashier).get(url).status_code == 403


def test_business_renewal_notice_pdf(client_for, technician, bakery):
    from licensing.renewals import renewal_invoice_create

    license = make_license(bakery, year=2026)
    invoice = renewal_invoice_create(license=license, year=2027, user=technician)
    client = client_for(technician)
    response = client.get(reverse("licensing:business-notices-pdf", args=[bakery.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert pdf_page_count(response.content) == 1
    text = client.get(reverse("licensing:business-notices-print", args=[bakery.pk])).content
    assert invoice.number.encode() in text and b"Business License Renewal Notice 2027" in text


# --- fee preview ----------------------------------------------------------------------


def test_fee_preview_shows_each_component_and_its_rule(client_for, supervisor):
    from licensing.models import LicenseType

    gen = LicenseType.objects.get(code="GEN")
    response = client_for(supervisor).get(
        reverse("licensing:fee-preview"),
        {
            "license_type": gen.pk,
            "kind": "new",
            "issue_date": "2026-08-03",
            "fte": "30",
            "ownership_type": "llc",
            "inside_city_limits": "on",
        },
    )
    quote = response.context["quote"]
    license_fee = next(line for line in quote.lines if line.kind == "license")
    assert license_fee.amount == D("100.00")  # $200 for 25-49 FTE, halved after July 1
    assert "25\u201349 FTE" in license_fee.rule and "$200.00" in license_fee.rule
    assert quote.total == D("100.00") + D("112.93") + D("1.00")
    page = response.content.decode()
    for line in quote.lines:
        assert line.label in page and line.rule.split(";")[0] in page
    assert '<td class="num">213.93</td></tr></tfoot>' in page


def test_fee_preview_for_a_business_on_file(client_for, technician, bakery):
    from licensing.models import LicenseType

    response = client_for(technician).get(
        reverse("licensing:fee-preview"),
        {
            "license_type": LicenseType.objects.get(code="GEN").pk,
            "kind": "renewal",
            "issue_date": "2027-03-01",
            "ubi": "602 777 001",
            "ownership_type": "llc",
        },
    )
    assert response.context["business"] == bakery
    assert response.context["quote"].total == D("213.93")  # 12 FTE, renewal
    assert "Renewals are priced as of January 1" in response.content.decode()


def test_fee_preview_is_refused_to_cashiers(client_for, cashier):
    assert client_for(cashier).get(reverse("licensing:fee-preview")).status_code == 403
