"""The Administrator maintains license types and schedules in the admin; the database's
rules show as form errors there, and businesses and licenses are read-only."""

import pytest

from licensing.models import FeeComponent, FeeSchedule, LicenseType

pytestmark = pytest.mark.django_db


def test_administrator_sees_schedules_and_technician_does_not(client_for, admin, technician):
    schedule = FeeSchedule.objects.get(license_type__code="GEN")
    page = client_for(admin).get(f"/admin/licensing/feeschedule/{schedule.pk}/change/")
    assert page.status_code == 200
    assert "Fire inspection fee" in page.text and "halved: new license issued after July 1" in (
        page.text
    )
    assert client_for(technician).get("/admin/licensing/feeschedule/").status_code in (302, 403)


def test_an_overlapping_schedule_is_a_form_error(client_for, admin):
    gen = LicenseType.objects.get(code="GEN")
    response = client_for(admin).post(
        "/admin/licensing/feeschedule/add/",
        {
            "license_type": gen.pk,
            "name": "2027 fees",
            "effective_from": "2027-01-01",
            "components-TOTAL_FORMS": "0",
            "components-INITIAL_FORMS": "0",
            "proration_rules-TOTAL_FORMS": "0",
            "proration_rules-INITIAL_FORMS": "0",
            "exemptions-TOTAL_FORMS": "0",
            "exemptions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "Another fee schedule of this license type is in effect" in response.text
    assert FeeSchedule.objects.filter(license_type=gen).count() == 1


def test_unknown_fee_codes_are_refused(client_for, admin, chart):
    component = FeeComponent.objects.get(schedule__license_type__code="HOME", kind="license")
    response = client_for(admin).post(
        f"/admin/licensing/feecomponent/{component.pk}/change/",
        {
            "schedule": component.schedule_id,
            "position": 1,
            "kind": "license",
            "label": "Home occupation license fee",
            "fee_code": "BL-NOPE",
            "method": "flat",
            "amount": "50.00",
            "charged_on": "always",
            "tiers-TOTAL_FORMS": "0",
            "tiers-INITIAL_FORMS": "0",
        },
    )
    assert "BL-NOPE is not an active fee code in the ledger." in response.text
    component.refresh_from_db()
    assert component.fee_code == "BL-HOME"


def test_businesses_and_licenses_are_read_only_in_the_admin(client_for, admin):
    assert client_for(admin).get("/admin/licensing/business/add/").status_code == 403


def test_administrator_reads_license_imports(client_for, admin, technician):
    from licensing.models import LicenseImport

    record = LicenseImport.objects.create(
        file_name="old-system.csv",
        mode=LicenseImport.Mode.GOOD_ROWS,
        rows=3,
        licenses_created=2,
        businesses_created=2,
        businesses_matched=0,
        refused_count=1,
        created_by=technician,
    )
    client = client_for(admin)
    listing = client.get("/admin/licensing/licenseimport/")
    assert listing.status_code == 200 and "old-system.csv" in listing.text
    change = client.get(f"/admin/licensing/licenseimport/{record.pk}/change/")
    assert change.status_code == 200
    assert 'name="file_name"' not in change.text  # read-only
