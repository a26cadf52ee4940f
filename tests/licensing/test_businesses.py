"""Businesses: UBI and NAICS checks, duplicate detection, closing instead of deleting."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction

from licensing.models import Business, Contact, License, LicenseInvoice, LicenseStatus
from licensing.selectors.businesses import business_search
from licensing.services.businesses import (
    DuplicateBusiness,
    business_close,
    business_create,
    business_reopen,
    business_update,
    contact_add,
)
from licensing.services.common import LicensingError
from licensing.validators import address_key, normalise_naics, normalise_ubi
from tests.licensing.factories import approved_license, business_data, make_business, make_license

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("text", ["602123456", "602 123 456", "602-123-456", " 602.123.456 "])
def test_ubi_written_any_usual_way_is_stored_as_nine_digits(text):
    assert normalise_ubi(text) == "602123456"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter the business's UBI number."),
        ("60212345", "nine digits; this one has 8"),
        ("6021234567", "nine digits; this one has 10"),
        ("60212345X", "nine digits, like 602 123 456"),
        ("000000000", "placeholder"),
        ("602 123 456 001 0001", "branch and location numbers"),
    ],
)
def test_bad_ubis_are_refused_with_the_reason(text, message):
    with pytest.raises(ValidationError, match=message):
        normalise_ubi(text)


def test_naics_is_two_to_six_digits_of_a_real_sector():
    assert normalise_naics("722511") == "722511"
    assert normalise_naics("72") == "72"
    for bad in ("7", "7225111", "72a", "99"):
        with pytest.raises(ValidationError):
            normalise_naics(bad)


def test_create_normalises_and_derives(technician):
    business = business_create(
        data=business_data(ubi="603-555-101", naics_code="722511", location_state="wa"),
        user=technician,
        contacts=[{"name": "Dana Whitfield", "role": "owner", "phone": "253-555-0100"}],
    )
    assert business.ubi == "603555101"
    assert business.ubi_display == "603 555 101"
    assert business.naics_sector == "72"
    assert business.naics_sector_name == "Accommodation and food services"
    assert business.location_key == "1220 W MEEKER ST|98032"
    assert business.display_name == "Valley Auto Body LLC (DBA Valley Auto Body)"
    assert business.contacts.get().name == "Dana Whitfield"


def test_field_errors_are_reported_by_field(technician):
    with pytest.raises(LicensingError) as excinfo:
        business_create(data=business_data(ubi="12345", naics_code="7"), user=technician)
    assert set(excinfo.value.message_dict) == {"ubi", "naics_code"}


def test_same_ubi_as_an_open_business_is_refused_with_a_link(technician):
    first = make_business(ubi="602999111")
    with pytest.raises(DuplicateBusiness) as excinfo:
        business_create(
            data=business_data(ubi="602 999 111", legal_name="Other Name Inc"),
            user=technician,
            confirm_duplicate=True,  # confirming does not help: it is refused
        )
    error = excinfo.value
    assert not error.must_confirm
    assert [m.business for m in error.matches] == [first]
    assert "an open business has the same UBI" in error.messages[1]
    assert Business.objects.filter(ubi="602999111").count() == 1


def test_the_database_refuses_a_second_open_business_with_a_ubi():
    make_business(ubi="602999112")
    with pytest.raises(DatabaseError), transaction.atomic():
        Business.objects.create(**business_data(ubi="602999112", location_key="x"))


def test_a_closed_business_with_the_ubi_is_a_warning_to_confirm(technician):
    old = make_business(ubi="602999113")
    business_close(business=old, user=technician, closed_on=date(2025, 6, 30), reason="Sold")
    with pytest.raises(DuplicateBusiness) as excinfo:
        business_create(data=business_data(ubi="602999113"), user=technician)
    assert excinfo.value.must_confirm
    assert "reopen it instead" in excinfo.value.matches[0].reason
    again = business_create(
        data=business_data(ubi="602999113"), user=technician, confirm_duplicate=True
    )
    assert again.pk != old.pk


def test_similar_name_at_the_same_address_needs_confirmation(technician):
    existing = make_business(legal_name="Meeker Street Bakery LLC", trade_name="Meeker Bakery")
    data = business_data(
        legal_name="Meeker Street Bakery",
        trade_name="",
        location_line1="1220 West Meeker Street",  # same place, written out
    )
    with pytest.raises(DuplicateBusiness) as excinfo:
        business_create(data=data, user=technician)
    assert excinfo.value.must_confirm
    assert excinfo.value.matches[0].business == existing
    assert "similar name at the same address" in excinfo.value.matches[0].reason
    created = business_create(data=data, user=technician, confirm_duplicate=True)
    assert created.location_key == existing.location_key


def test_a_different_name_at_the_same_address_is_no_duplicate(technician):
    make_business(legal_name="Meeker Street Bakery LLC")
    business_create(
        data=business_data(legal_name="Kent Station Dental PLLC", trade_name=""), user=technician
    )


def test_address_key_uses_usps_abbreviations():
    assert address_key("1220 West Meeker Street, Suite 4", "98032-1234") == (
        "1220 W MEEKER ST STE 4|98032"
    )


def test_update_to_another_open_business_ubi_is_refused(technician):
    make_business(ubi="602999114")
    other = make_business(ubi="602999115", legal_name="Green River Tacos", location_line1="1 Main")
    with pytest.raises(DuplicateBusiness):
        business_update(business=other, data={"ubi": "602999114"}, user=technician)
    updated = business_update(business=other, data={"fte_employees": 30}, user=technician)
    assert updated.fte_employees == 30


def test_businesses_and_licenses_cannot_be_deleted(technician):
    business = make_business()
    license = make_license(business)
    for table, pk in (("licensing_business", business.pk), ("licensing_license", license.pk)):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [pk])
    assert Business.objects.filter(pk=business.pk).exists()


def test_close_closes_licenses_cancels_unpaid_invoices_and_keeps_everything(technician):
    business = make_business()
    pending = approved_license(business, technician, issue_date=date(2026, 3, 16))
    rental = make_license(business, code="RENT", units=4)
    closed = business_close(
        business=business, user=technician, closed_on=date(2026, 4, 1), reason="Retired"
    )
    assert closed.status == Business.Status.CLOSED
    statuses = dict(License.objects.filter(business=business).values_list("pk", "status"))
    assert statuses == {pending.pk: LicenseStatus.CLOSED, rental.pk: LicenseStatus.CLOSED}
    invoice = LicenseInvoice.objects.get(license=pending)
    assert invoice.status == LicenseInvoice.Status.CANCELLED
    assert invoice.cancelled_reason == "Business closed: Retired"
    change = pending.status_changes.latest("pk")
    assert (change.from_status, change.to_status, change.reason) == (
        "pending",
        "closed",
        "Business closed: Retired",
    )
    with pytest.raises(LicensingError, match="already closed"):
        business_close(business=business, user=technician, closed_on=date(2026, 4, 2), reason="x")
    reopened = business_reopen(business=business, user=technician, reason="Back in business")
    assert reopened.is_open and reopened.closed_on is None


def test_one_primary_contact(technician):
    business = make_business()
    first = contact_add(
        business=business, data={"name": "A", "role": "owner", "is_primary": True}, user=technician
    )
    contact_add(
        business=business,
        data={"name": "B", "role": "manager", "is_primary": True},
        user=technician,
    )
    first.refresh_from_db()
    assert not first.is_primary
    assert Contact.objects.get(business=business, is_primary=True).name == "B"
    with pytest.raises(LicensingError):
        contact_add(
            business=business, data={"name": "C", "role": "owner", "email": "no"}, user=technician
        )


def test_search_by_name_ubi_and_license_number():
    business = make_business(ubi="602999116", legal_name="Panther Lake Pizza Co")
    license = make_license(business)
    assert list(business_search(query="panther pizza")) == [business]
    assert list(business_search(query="602-999-116")) == [business]
    assert list(business_search(query=license.display_number)) == [business]
